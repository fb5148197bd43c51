/* fuzz: roost_broker_core */
/* The WebSocket Upgrade request parser over arbitrary bytes (what any
 * client of the ws port sends): no crash, no read past the input; a parsed
 * head lies within the input; any verdict has a status and a reason and an
 * answer that fits 512 bytes; a prefix of an input that parses never
 * parses to a different length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsupgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    wsup_request_t r;
    size_t used = 0;
    int rc = wsup_parse(buf, size, &r, &used);
    if (rc == WSUP_NEED_MORE) {
        free(buf);
        return 0;
    }
    wsup_verdict_t v;
    if (rc == 0) {
        if (used > size || used > WSUP_MAX_HEAD)
            abort();
        wsup_request_t r2;
        size_t used2 = 0;
        /* the head alone parses to the same length */
        if (wsup_parse(buf, used, &r2, &used2) != 0 || used2 != used)
            abort();
        wsup_policy_t p = {"/mqtt", size & 1 ? "https://a.example" : ""};
        v = wsup_check(&r, &p);
    } else {
        v = wsup_malformed(&r, rc);
    }
    if (!v.reason || v.status < 101 || v.status > 599)
        abort();
    char out[512];
    if (wsup_response(&r, &v, out, sizeof(out)) == 0)
        abort();
    free(buf);
    return 0;
}

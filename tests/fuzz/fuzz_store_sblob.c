/* fuzz: roost_store */
/* The Redis message blob reader (lib/store/sblob.c) over arbitrary bytes:
 * no crash, no read past the input; a blob that parses is written back
 * (qos byte, head, topic, mid, properties, payload) to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/sblob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sstore_msg_t m;
    if (sblob_parse((const char *)data, size, &m) < 0)
        return 0;
    if (m.qos > 2 || (m.props_len == 0) != (m.props == NULL))
        abort();
    uint8_t *out = malloc(size);
    if (!out)
        return 0;
    size_t n = 0;
    out[n++] = m.qos;
    sblob_head(out + n, &m);
    n += 3;
    memcpy(out + n, m.topic, m.topic_len);
    n += m.topic_len;
    uint8_t mid[SBLOB_MID_MAX];
    size_t ml = sblob_mid(mid, &m);
    if (n + ml + m.props_len + m.payload_len != size)
        abort();
    memcpy(out + n, mid, ml);
    n += ml;
    if (m.props_len)
        memcpy(out + n, m.props, m.props_len);
    n += m.props_len;
    if (m.payload_len)
        memcpy(out + n, m.payload, m.payload_len);
    if (memcmp(out, data, size) != 0)
        abort();
    free(out);
    return 0;
}

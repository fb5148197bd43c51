/* fuzz: roost_broker_core roost_mqtt */
/* The shared-subscription frame decoder (shframe.h) over arbitrary bytes
 * (what a peer sends): no crash, no read past the input; a frame that
 * decodes whole re-encodes, record by record, to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shframe_reader_t r;
    shframe_rec_t rec;
    if (shframe_open(&r, data, size) < 0) {
        if (!r.error)
            abort();
        return 0;
    }
    shframe_buf_t out = {0};
    if (shframe_begin(&out, r.target, r.sender) < 0)
        return 0;
    int rc;
    while ((rc = shframe_next(&r, &rec)) > 0) {
        int w = 0;
        switch (rec.type) {
        case 'D':
            w = shframe_deliver(&out, rec.seq, rec.key, rec.key_len, &rec.msg);
            break;
        case 'A':
        case 'N':
            w = shframe_ack(&out, rec.type, rec.seq, rec.flags);
            break;
        case 'R':
            w = shframe_reset(&out);
            break;
        case 'W':
            w = shframe_weight(&out, rec.key, rec.key_len, rec.members);
            break;
        default:
            abort(); /* the reader returns only these */
        }
        if (w < 0)
            abort(); /* what was read fits the format */
    }
    if (rc < 0 && !r.error)
        abort();
    if (rc == 0 && (out.len != size || memcmp(out.p, data, size) != 0))
        abort();
    free(out.p);
    return 0;
}

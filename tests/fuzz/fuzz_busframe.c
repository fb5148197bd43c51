/* fuzz: roost_broker_core */
/* The cluster bus decoder over arbitrary bytes (what a peer sends): no
 * crash, no read past the input; a frame that decodes whole re-encodes to
 * the same bytes (5.0 properties and expiry included), entries within the
 * format's limits; a control body that
 * decodes re-encodes to the bytes it read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "busframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    busframe_reader_t r;
    busframe_entry_t e;
    if (busframe_open(&r, data, size) == 0) {
        uint8_t *out = malloc(size);
        if (!out)
            return 0;
        size_t n = busframe_head(out, r.kind, r.label, r.label_len);
        int rc;
        while ((rc = busframe_next(&r, &e)) > 0) {
            if (e.qos > 2 || e.retain != (r.kind == 'r') || r.label_len + e.rest_len > 65535)
                abort();
            busframe_ext_t ext = {e.props, e.props_len, e.expiry_ms};
            if ((e.props_len == 0) != (e.props == NULL))
                abort();
            size_t need = busframe_entry_size_ext(e.eid_len, e.rest_len, e.payload_len, &ext);
            if (n + need > size)
                abort();
            n += busframe_put_ext(out + n, e.qos, e.retain, e.eid, e.eid_len, e.rest, e.rest_len,
                                  e.payload, e.payload_len, &ext);
        }
        if (rc == 0 && (n != size || memcmp(out, data, size) != 0))
            abort();
        if (rc < 0 && !r.error)
            abort();
        free(out);
    }
    busctl_t ctl;
    if (busctl_decode(data, size, &ctl) == 0) {
        size_t n = busctl_size(&ctl);
        uint8_t *out = n ? malloc(n) : NULL;
        if (!out || n > size || busctl_encode(&ctl, out) != n || memcmp(out, data, n) != 0)
            abort();
        free(out);
    }
    return 0;
}

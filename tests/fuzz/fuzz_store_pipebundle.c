/* fuzz: roost_store */
/* The pipeline queue bundle reader (lib/store/pipebundle.c) over arbitrary
 * bytes, as roost-forwarder reads them from Redis: no crash, no read past
 * the input; a bundle that decodes has the header's count of members, lies
 * exactly within the input and is written back to the same bytes; each
 * member goes through the pipentry decoder as the forwarder does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/pipebundle.h"
#include "store/pipentry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = pipebundle_count(data, size);
    pipebundle_member_t *m = malloc((cap ? cap : 1) * sizeof(*m));
    if (!m)
        return 0;
    int n = pipebundle_decode(data, size, m, cap);
    if (n < 0) {
        free(m);
        return 0;
    }
    if ((size_t)n != cap || n < 1)
        abort();
    uint8_t *out = malloc(size);
    if (!out)
        abort();
    pipebundle_head(out, (size_t)n);
    size_t at = PIPEBUNDLE_HEAD;
    for (int i = 0; i < n; i++) {
        if (m[i].b < data || m[i].b + m[i].len > data + size)
            abort();
        pipebundle_member_head(out + at, m[i].len);
        memcpy(out + at + PIPEBUNDLE_MEMBER_HEAD, m[i].b, m[i].len);
        at += PIPEBUNDLE_MEMBER_HEAD + m[i].len;
        pipentry_t e;
        if (pipentry_decode(m[i].b, m[i].len, &e) == 0 && (e.topic_len == 0 || e.qos > 2))
            abort();
    }
    if (at != size || memcmp(out, data, size) != 0)
        abort();
    free(out);
    free(m);
    return 0;
}

/* fuzz: roost_store */
/* The pipeline queue entry reader (lib/store/pipentry.c) over arbitrary
 * bytes, as roost-forwarder reads them from Redis: no crash, no read past
 * the input; an entry that decodes is encoded back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/pipentry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pipentry_t e;
    if (pipentry_decode(data, size, &e) < 0)
        return 0;
    if (e.qos > 2 || e.topic_len == 0 || e.received_ms > PIPENTRY_MS_MAX)
        abort();
    if (pipentry_size(&e) != size)
        abort();
    uint8_t *out = malloc(size);
    if (!out)
        return 0;
    if (pipentry_encode(&e, out) != size || memcmp(out, data, size) != 0)
        abort();
    free(out);
    return 0;
}

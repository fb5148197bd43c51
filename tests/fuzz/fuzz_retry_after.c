/* fuzz: roost_forwarder_core
 * Retry-After header lines from a pipeline's HTTP API (services/forwarder/
 * retry.c): any bytes, read only within their length, never a negative
 * delay. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long secs = -1;
    if (retry_after_parse((const char *)data, size, 1700000000, &secs))
        assert(secs >= 0);
    return 0;
}

/* fuzz: roost_store
 * Sentinel's +switch-master messages (lib/store/sentinel.c), which arrive
 * from the network: read only within their length; an accepted one names
 * our master, and gives a NUL-terminated host without spaces that fits
 * its buffer and a port in 1..65535; a refused one leaves the outputs
 * untouched. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/sentinel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char host[64];
    memset(host, 'x', sizeof(host));
    int port = -7;
    if (sentinel_switch_parse((const char *)data, size, "roost", host, sizeof(host), &port) == 0) {
        assert(size > 6 && memcmp(data, "roost ", 6) == 0);
        assert(strlen(host) > 0 && strlen(host) < sizeof(host) && !strchr(host, ' '));
        assert(port >= 1 && port <= 65535);
    } else {
        assert(port == -7 && host[0] == 'x');
    }
    return 0;
}

/* fuzz: roost_base */
/* proxy_parse never reads past its input, reports a consumed size within
 * it, and gives the same answer for the same bytes at the end of a larger
 * buffer (it must not depend on what follows the header). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    size_t used = 0;
    proxy_info_t a;
    int rc = proxy_parse(copy, size, &used, &a);
    if (rc == 0 && (used == 0 || used > size))
        __builtin_trap();
    if (rc == 0) {
        size_t used2 = 0;
        proxy_info_t b;
        if (proxy_parse(copy, used, &used2, &b) != 0 || used2 != used ||
            memcmp(&a, &b, sizeof(a)) != 0)
            __builtin_trap();
    }
    free(copy);
    return 0;
}

/* keys: prefix checks and the global family's prefix (see keys.h). */
#include "store/keys.h"

#include <stdio.h>
#include <string.h>

const char *store_keys_prefix_error(const char *prefix)
{
    if (strlen(prefix) > STORE_KEYS_PREFIX_MAX)
        return "must be at most 64 bytes";
    if (strpbrk(prefix, "{}"))
        return "must not contain '{' or '}' (Redis Cluster hash tags)";
    return NULL;
}

size_t store_keys_global(char *out, size_t cap, const char *prefix)
{
    int n = snprintf(out, cap, "%s" STORE_KEYS_GTAG, prefix);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

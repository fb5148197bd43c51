/* fuzz: roost_store
 * Redis Cluster redirection replies (MOVED/ASK, lib/store/slot.c) and hash
 * tags of arbitrary keys: read only within their length, a parsed reply
 * always has a slot below 16384, a port in 1..65535 and a NUL-terminated
 * host without spaces; a key's hashed part lies inside the key. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/slot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slot_redir_t r;
    if (slot_redir_parse((const char *)data, size, &r) != SLOT_REDIR_NONE) {
        assert(r.slot < SLOT_COUNT);
        assert(r.port >= 1 && r.port <= 65535);
        assert(strlen(r.host) < sizeof(r.host) && !strchr(r.host, ' '));
    }
    size_t n;
    const char *h = slot_hashed((const char *)data, size, &n);
    assert(h >= (const char *)data && h + n <= (const char *)data + size);
    assert(slot_of((const char *)data, size) < SLOT_COUNT);
    return 0;
}

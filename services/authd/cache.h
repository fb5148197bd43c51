/* cache: authd's verified-credential cache (DESIGN.md "Passwords").
 *
 * An entry says "this password was verified against this stored hash for
 * this username". Its key is a keyed BLAKE2b (crypto_generichash with a
 * random per-process key) over the length-prefixed (username, password,
 * stored hash string): no password or hash is kept, the key is useless
 * outside this process, and an edited password changes the stored hash so
 * the old entry can never match again (correctness does not depend on change
 * events). Entries expire after a TTL; at capacity the least recently used
 * entry is evicted.
 *
 * Thread-safe (one mutex); shared by every lookup worker, the loop thread
 * (change events) and the HTTP thread (size). Never blocks beyond the mutex.
 */
#ifndef ROOST_AUTHD_CACHE_H
#define ROOST_AUTHD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_KEY_LEN 32

typedef struct cache cache_t;

/* max_entries 0 disables caching (lookups miss, inserts are ignored).
 * Caller owns the result; NULL on OOM. */
cache_t *cache_new(size_t max_entries, uint64_t ttl_ms);
/* Wipes and frees every entry; nulls *c. */
void cache_destroy(cache_t **c);

/* Computes the entry key for a verification. Borrows everything. */
void cache_key(const cache_t *c, const char *username, const uint8_t *password, size_t password_len,
               const char *stored_hash, uint8_t key[CACHE_KEY_LEN]);
/* True when key is present and fresh at now_ms (monotonic); refreshes LRU. */
bool cache_lookup(cache_t *c, const uint8_t key[CACHE_KEY_LEN], uint64_t now_ms);
/* Remembers a successful verification. -ENOMEM leaves the cache unchanged. */
int cache_insert(cache_t *c, const uint8_t key[CACHE_KEY_LEN], const char *username, uint64_t now_ms);
/* Drops every entry of this username; returns how many. */
size_t cache_drop_user(cache_t *c, const char *username);
/* Drops everything; returns how many. */
size_t cache_clear(cache_t *c);
size_t cache_count(cache_t *c);

#endif

/* coalesce: identical argon2 verifications in flight run once.
 *
 * A reconnect storm brings many CONNECTs with the same credentials at once
 * (a fleet sharing one username, a device retrying). Keyed by the cache key
 * (a keyed hash of username, password and stored hash: cache.h), the first
 * job to reach a hash worker leads and verifies; identical jobs arriving
 * while it runs wait on it and take its result, so argon2 runs at most once
 * per distinct credential in flight. Thread-safe (one mutex; the table holds
 * at most one entry per hash worker).
 */
#ifndef ROOST_AUTHD_COALESCE_H
#define ROOST_AUTHD_COALESCE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"

typedef struct coalesce coalesce_t;

/* Caller owns the result; NULL on OOM. */
coalesce_t *coalesce_new(void);
/* Frees (the table must be empty: every leader ended); nulls *c. */
void coalesce_destroy(coalesce_t **c);

/* 1: an identical verification is in flight; item waits on it (coalesce_end
 * hands it to that leader). 0: item leads: verify, then call coalesce_end
 * with the same key. -ENOMEM: neither (verify it alone, no coalesce_end). */
int coalesce_join(coalesce_t *c, const uint8_t key[CACHE_KEY_LEN], void *item);
/* The leader of key is done: removes it and returns how many items waited
 * on it, in *items (caller frees the array; NULL when none). */
size_t coalesce_end(coalesce_t *c, const uint8_t key[CACHE_KEY_LEN], void ***items);

#endif

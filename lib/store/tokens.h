/* tokens: admin operator tokens, stored hashed (DESIGN "Admin surface").
 * The store only ever sees the hash of a token (admin computes it: BLAKE2b,
 * 32 bytes, as 64 lowercase hex characters); the secret never reaches Redis.
 *
 * Key layout (under the prefix P):
 * (G is the global family's prefix "P{g}:" of store/keys.h: one slot.)
 *   G token:<id>            hash   id name hash created_at last_used_at
 *   G tokens                zset   members "<13-digit created_at>:<id>", score 0
 *   G idx:token:hash        hash   token hash -> token id
 * Create and revoke are one Lua script each (record, index and list move
 * together). Ids are 24 hex characters like every store id.
 *
 * Blocking and threads: as store.h. Errors: 0, -ENOMEM, ROOST_EINVAL,
 * ROOST_ENOTFOUND, ROOST_ECONFLICT, ROOST_EUNAVAILABLE, ROOST_ESTORE.
 */
#ifndef ROOST_STORE_TOKENS_H
#define ROOST_STORE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_TOKEN_HASH_LEN 64
#define STORE_TOKENS_MAX 1000

typedef struct store_token {
    char id[STORE_ID_LEN + 1];
    char *name;
    char hash[STORE_TOKEN_HASH_LEN + 1];
    int64_t created_at;
    int64_t last_used_at; /* 0: never */
} store_token_t;

typedef struct store_token_list {
    store_token_t *items;
    size_t n;
} store_token_list_t;

/* Creates a token record. name 1-255 characters (field "name"); hash is 64
 * lowercase hex (field "hash"; ROOST_ECONFLICT if already stored). With
 * only_if_none, refuses with ROOST_ECONFLICT (field "tokens") when any token
 * exists, atomically: the first-start bootstrap of several admins racing.
 * *out (optional) is the new record, caller owns it. */
int store_token_create(store_t *s, const char *name, const char *hash, bool only_if_none,
                       store_token_t **out);
/* The record whose hash is `hash`: 0 and *out (caller owns) or ROOST_ENOTFOUND. */
int store_token_lookup(store_t *s, const char *hash, store_token_t **out);
/* Sets last_used_at (no-op if the token is gone). */
int store_token_touch(store_t *s, const char *id, int64_t when_ms);
/* Every token, oldest first (at most STORE_TOKENS_MAX). Caller owns *out. */
int store_token_list(store_t *s, store_token_list_t **out);
/* Deletes the token: 0 or ROOST_ENOTFOUND. */
int store_token_revoke(store_t *s, const char *id);
/* Number of tokens. */
int store_token_count(store_t *s, int64_t *out);
void store_token_free(store_token_t **tp);
void store_token_list_free(store_token_list_t **lp);

#endif

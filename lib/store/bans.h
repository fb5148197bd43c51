/* bans: refusals by MQTT client id, username or peer address range (CIDR),
 * with a reason and an optional expiry (issue 13 abuse controls). One Redis
 * hash "P{g}:bans" (store/keys.h): field "<kind>:<value>" (the ban's id), value a JSON
 * record; "P{g}:bans:version" counts changes so readers (authd) reload
 * only when something changed. Expired bans are left out of lists (and
 * removed when listed).
 */
#ifndef ROOST_STORE_BANS_H
#define ROOST_STORE_BANS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_BANS_MAX 100000

typedef struct store_ban {
    char *id;          /* "<kind>:<value>" */
    char *kind;        /* client_id | username | cidr */
    char *value;
    char *reason;      /* "" when none given */
    char *actor;       /* who made it (token name), "" unknown */
    int64_t created_at, expires_at; /* unix ms; expires_at 0 = never */
} store_ban_t;

typedef struct store_ban_list {
    store_ban_t *items;
    size_t n;
} store_ban_list_t;

/* Creates or replaces the ban on (kind, value). Validates: kind one of the
 * three, value 1-255 bytes of UTF-8 without control characters (cidr: an
 * address or range), reason at most 255 bytes, expires_at 0 or in the
 * future. ROOST_EINVAL (field kind/value/reason/expires_at), or store codes.
 * *out (optional, caller frees) is the record. */
int store_ban_put(store_t *s, const char *kind, const char *value, const char *reason, int64_t expires_at,
                  const char *actor, store_ban_t **out);
/* Removes a ban by id; ROOST_ENOTFOUND when there is none. */
int store_ban_delete(store_t *s, const char *id);
/* Every ban in force at now_ms (unix), by id. Caller owns *out. */
int store_ban_list(store_t *s, int64_t now_ms, store_ban_list_t **out);
/* Flapping detection: counts one CONNECT of client_id in a window that
 * starts with the first one ("P{g}:flap:<id>", expires after window_ms);
 * *count is the number so far. store_flap_reset forgets the count. */
int store_flap_hit(store_t *s, const char *client_id, int64_t window_ms, int64_t *count);
int store_flap_reset(store_t *s, const char *client_id);
/* The change counter (0 when no ban was ever made). */
int store_bans_version(store_t *s, int64_t *out);
void store_ban_free(store_ban_t **b);
void store_ban_list_free(store_ban_list_t **l);

#endif

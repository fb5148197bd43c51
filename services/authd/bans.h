/* bans: authd's view of the store's bans (store/bans.h), checked at every
 * CONNECT before the password: a banned client id, username or peer
 * address gets NOT_AUTHORIZED (CONNACK 5). The snapshot is reloaded when
 * the store's bans version changed, looked at no more than every
 * BANS_RECHECK_MS, so a new ban refuses CONNECTs within that time.
 * Thread-safe: lookup workers share one (a mutex; reloads swap snapshots).
 */
#ifndef ROOST_AUTHD_BANS_H
#define ROOST_AUTHD_BANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define BANS_RECHECK_MS 300

typedef struct bans bans_t;

bans_t *bans_new(void);
void bans_destroy(bans_t **b);
/* Reloads from s when due and changed. 0, or a store code (the old
 * snapshot stays in force). */
int bans_refresh(bans_t *b, store_t *s, uint64_t now_mono_ms);
/* Whether a ban in force at now_unix_ms applies to the request; the ban's
 * id goes to why (cap bytes). peer is "ip:port" or "[v6]:port". */
bool bans_match(bans_t *b, const char *client_id, const char *username, const char *peer, int64_t now_unix_ms,
                char *why, size_t cap);
size_t bans_count(bans_t *b);

#endif

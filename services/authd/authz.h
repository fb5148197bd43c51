/* authz: the rules and groups (with their ACLs) authd evaluates per CONNECT,
 * kept in memory as immutable snapshots, each one tagged with the config
 * version it was read at.
 *
 * Why this is correct without change events (DESIGN.md "Change events"):
 * every store write INCRs the config version in the same atomic script, so
 * one version number names exactly one content of the store. A request
 * learns the current version atomically with its client record
 * (store_auth_lookup) or, anonymous, with one GET (store_config_version),
 * and uses the cached snapshot only when its version is EXACTLY that one.
 * Any write in between (admin, roostctl --redis, a seeding tool; event sent
 * or not) changes the version, so the next request misses and reloads.
 *
 * Rule for what may be cached: a snapshot must be the content of ONE
 * version. It is loaded in two atomic reads, every rule
 * (store_rule_list_all, version R) then every group any rule names
 * (store_group_get_many, version G); R == G proves no write committed
 * between the reads, so rules and groups are both the store at R. Only
 * then is it installed, keyed by R, its own version, never by the version
 * the request looked up (R may be newer than that: the request is then
 * answered from R, exactly as the uncached code read whatever was current;
 * R is never labelled as an older version). When R != G (a write raced the
 * reload) the load is retried; after AUTHZ_LOAD_TRIES inconsistent loads
 * the last one answers this request only (what the uncached code did: its
 * reads were never atomic together) and is never cached.
 *
 * The cache holds one snapshot; a newly loaded one always replaces it (the
 * latest read wins, whatever its number: if the store went backwards,
 * e.g. Redis lost its data, a stale higher-numbered snapshot is not kept).
 * A racing worker may briefly install an older snapshot over a newer one;
 * that costs one reload, never a wrong answer. As a last guard against a
 * reset store climbing back to the very same version number, a snapshot is
 * reused for at most AUTHZ_MAX_AGE_MS. Change events for groups, rules and
 * ACLs only drop the snapshot early.
 *
 * Threading: the cache is a pointer swapped under a mutex (critical
 * sections are a compare and a refcount increment); snapshots are
 * refcounted and read-only once built, so lookup workers evaluate them
 * without any lock, and a job keeps its snapshot alive until it is replied.
 */
#ifndef ROOST_AUTHD_AUTHZ_H
#define ROOST_AUTHD_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "rpc/rpc.h"
#include "rules.h"
#include "store/store.h"

#define AUTHZ_LOAD_TRIES 3
#define AUTHZ_MAX_AGE_MS 60000u

typedef struct authz_snap authz_snap_t;
typedef struct authz_cache authz_cache_t;

/* Caller owns the result; NULL on OOM. */
authz_cache_t *authz_cache_new(void);
/* Releases the cached snapshot (jobs may still hold theirs); nulls *c. */
void authz_cache_destroy(authz_cache_t **c);
/* Drops the cached snapshot; returns 1 if there was one. */
size_t authz_cache_drop(authz_cache_t *c);
/* Version of the cached snapshot, -1 when none. */
int64_t authz_cache_version(authz_cache_t *c);

/* The snapshot for `version` (the one this request read from the store):
 * the cached one when it has exactly that version (MET_AUTHZ_HIT, no store
 * call), otherwise loaded through s (blocks) and installed as described
 * above (MET_AUTHZ_RELOAD; MET_AUTHZ_INCONSISTENT per raced load). On 0 the
 * caller holds a reference (authz_snap_release). Store error codes or
 * -ENOMEM otherwise. */
int authz_resolve(authz_cache_t *c, store_t *s, int64_t version, metrics_t *m, authz_snap_t **out);
/* NULL-safe; nulls *sp. */
void authz_snap_release(authz_snap_t **sp);
int64_t authz_snap_version(const authz_snap_t *sn);

/* Evaluates the snapshot's rules for these facts and returns the matched
 * groups (ids, in rule order) and their ACL entries flattened in group
 * order, in arrays the caller frees (free()); the strings belong to the
 * snapshot. 0, ROOST_ELIMIT (more than RPC_MAX_GROUPS groups or RPC_MAX_ACL
 * entries for one reply) or -ENOMEM. */
int authz_eval(const authz_snap_t *sn, const rules_facts_t *f, const char ***ids, size_t *n_ids,
               rpc_acl_entry_t **acl, size_t *n_acl);

/* The inbound limits of a client in these groups (ids as authz_eval gave
 * them): per limit, the most generous one a group sets, so membership in a
 * faster group raises it; 0 when none of them sets it (the broker's own
 * flag applies then). */
/* rules_client_id_allowed over the snapshot's rules. */
bool authz_client_id_allowed(const authz_snap_t *sn, const rules_facts_t *f, const char *username);

void authz_rates(const authz_snap_t *sn, const char *const *ids, size_t n, uint64_t *msgs,
                 uint64_t *bytes);

#endif

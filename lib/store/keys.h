/* keys: the hash-tag layout of every Roost key, so that everything one
 * operation touches (a Lua script, a MULTI, an atomic pipeline) lies in one
 * Redis Cluster hash slot (store/slot.h). Two families, both under the
 * configured prefix P (default "roost:"):
 *
 *   per MQTT client id:  P <name>{c:<client id>}      e.g. roost:q:{c:dev-7}
 *     a persistent session's keys (sess subs q qm rx2 rel) and its lease;
 *     the tag starts with "c:" so it is never empty, whatever bytes the
 *     client id holds ('}' included: the tag then ends there, the same for
 *     every key of that client). Sessions spread over the cluster by client.
 *   everything else:     P {g}:<name>                e.g. roost:{g}:client:<id>
 *     access data (clients, groups, rules, indexes, version, schema), bans,
 *     tokens, audit, TLS settings, pipelines and their queue streams,
 *     broker membership and leases' alive keys, the persistent-subscription
 *     index (psubs), retained messages, the connection registry and the
 *     instance records: one slot, so their scripts may keep computing key
 *     names from the prefix they are given (P {g}:).
 *
 * An operation never mixes the families (lib/store splits the few that
 * would, e.g. a subscription's session hash and the psubs index). P itself
 * must hold no '{' or '}' (it would capture the tag).
 *
 * Schema 2 is this layout; schema 1 had no tags (store_migrate.c renames a
 * schema-1 store in place).
 */
#ifndef ROOST_STORE_KEYS_H
#define ROOST_STORE_KEYS_H

#include <stddef.h>

#define STORE_KEYS_GTAG "{g}:"
#define STORE_KEYS_GTAG_LEN 4
#define STORE_KEYS_CTAG_OPEN "{c:"
#define STORE_KEYS_CTAG_CLOSE "}"
#define STORE_KEYS_PREFIX_MAX 64 /* bytes of the configured prefix P */

/* 0 when P can be a prefix; else a static reason ("must be at most 64
 * bytes", "must not contain '{' or '}'"). */
const char *store_keys_prefix_error(const char *prefix);

/* The prefix of the global family, P "{g}:", into out (cap bytes). Its
 * length, or 0 when it does not fit. */
size_t store_keys_global(char *out, size_t cap, const char *prefix);

#endif

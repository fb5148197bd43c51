/* sentinel: finding the Redis primary through Redis Sentinel (DESIGN.md
 * "Clustering": Sentinel for HA), the client side of Sentinel's documented
 * protocol: ask each Sentinel in turn `SENTINEL get-master-addr-by-name
 * NAME`, move the one that answered to the front, connect to that address
 * and check with ROLE that it really is a primary before writing. store.c
 * (blocking) and sstore.c (the broker's async link) each call it where they
 * connect; services only carry the options (redis_conf.h: --redis-sentinels,
 * --redis-master, --redis-sentinel-user, --redis-sentinel-password) and hand
 * them to store_set_sentinel / sstore_set_sentinel.
 *
 * Following a failover: a Sentinel's `+switch-master` event (subscribed to
 * by ssentinel.h for the broker, sentinel_watch.h for store.c), a link that drops, a connection whose ROLE is
 * not "master", or a READONLY reply (the primary was demoted under us)
 * makes the next connection ask Sentinel again; and a live link re-asks at
 * most once a second (sentinel_changed, or sentinel_recheck_due for an
 * async asker) so a primary that is still reachable but was replaced (a
 * partition healed the wrong way, a missed event) is left within a second.
 *
 * Blocking: sentinel_resolve does blocking I/O, at most timeout_ms per
 * Sentinel (connect, then the command): for the services whose store is
 * synchronous anyway (authd, admin, forwarder, roostctl). The broker never
 * calls it from its loop (ssentinel.h).
 */
#ifndef ROOST_STORE_SENTINEL_H
#define ROOST_STORE_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


/* The options, as every service takes them (strings borrowed from argv or
 * the environment). sentinels "" = no Sentinel: --redis is used as given. */
typedef struct store_sentinel_conf {
    const char *sentinels;       /* "host:port,host:port,..." */
    const char *master;          /* the master name the Sentinels monitor */
    const char *user, *password; /* AUTH to the Sentinels; "" = none */
} store_sentinel_conf_t;

#define STORE_SENTINEL_CONF_DEFAULT {.sentinels = "", .master = "roost", .user = "", .password = ""}

/* store_check_require_auth (store.h) on the primary the Sentinels name
 * when sc has some, else on host:port. */
int store_check_require_auth_ha(const char *host, int port, const store_sentinel_conf_t *sc);

#define SENTINEL_MAX 16 /* Sentinels in one list */

/* True when sc names Sentinels. NULL-safe. */
bool store_sentinel_on(const store_sentinel_conf_t *sc);
/* Checks the list (1..SENTINEL_MAX HOST:PORT entries) and the master name
 * when Sentinels are given. 0, or ROOST_ECONFIG after printing
 * "error: --redis-sentinels: ..." to err. */
int store_sentinel_conf_check(const store_sentinel_conf_t *sc, FILE *err);

typedef struct sentinel sentinel_t;

/* Parses and copies sc. NULL on OOM or a list store_sentinel_conf_check
 * refuses. Caller owns the result. */
sentinel_t *sentinel_new(const store_sentinel_conf_t *sc);
void sentinel_free(sentinel_t **sp);
/* Replaces *sp (freed) with a handle for sc, or NULL when sc names no
 * Sentinels. 0, -ENOMEM, ROOST_EINVAL (a list store_sentinel_conf_check
 * refuses; said on stderr). */
int sentinel_set(sentinel_t **sp, const store_sentinel_conf_t *sc);
/* Asks the Sentinels in turn for the primary's address; the first that
 * answers moves to the front. 0 and host (NUL-terminated, < host_cap) and
 * *port; ROOST_EUNAVAILABLE when none answered with an address (why, if
 * non-NULL, says what the last one did). Blocks up to timeout_ms per
 * Sentinel tried. */
int sentinel_resolve(sentinel_t *s, int timeout_ms, char *host, size_t host_cap, int *port,
                     char *why, size_t why_cap);
/* For a live link to host:port: at most once per second (now_ms, any
 * monotonic clock), asks again; true when the Sentinels now name another
 * address (the caller drops the link and connects to the new one). False
 * when they agree, when it is not time yet, or when none answers (the link
 * keeps working; a dead link is noticed by its own errors; the next ask is
 * then 10 s later). */
bool sentinel_changed(sentinel_t *s, const char *host, int port, uint64_t now_ms, int timeout_ms);
/* The list as parsed, in the order they are asked (the last that answered
 * first). */
size_t sentinel_count(const sentinel_t *s);
const char *sentinel_at(const sentinel_t *s, size_t i, int *port);
const char *sentinel_master(const sentinel_t *s);
/* AUTH [user] password for the Sentinels (redis_auth_argv); 0: none. */
int sentinel_auth_argv(const sentinel_t *s, const char *argv[3]);
/* Sentinel i answered: it is asked first from now on. */
void sentinel_promote(sentinel_t *s, size_t i);
/* `SENTINEL get-master-addr-by-name`'s reply (a redisReply *, NULL for
 * none): 0 and the address (host NUL-terminated, < host_cap), or -1 and
 * *why (static text or the error reply's, valid while the reply is). */
int sentinel_addr_reply(const void *reply, char *host, size_t host_cap, int *port, const char **why);
/* A `+switch-master` message ("<name> <old-ip> <old-port> <new-ip>
 * <new-port>", Sentinel's documented format): 0 and the new address when it
 * is about `master`; -1 for another master or a malformed message. */
int sentinel_switch_parse(const char *msg, size_t len, const char *master, char *host, size_t host_cap,
                          int *port);
/* On a link subscribed to +switch-master (a redisReply * each): true for
 * the subscription's confirmation; sentinel_switch_reply is
 * sentinel_switch_parse on a pushed message (-1 for anything else). */
bool sentinel_subscribed(const void *reply);
int sentinel_switch_reply(const void *reply, const char *master, char *host, size_t host_cap, int *port);
/* The once-a-second re-ask of a live link, for callers that ask
 * asynchronously: true when one is due (now_ms, any monotonic clock; it
 * counts as started); after one where no Sentinel answered,
 * sentinel_recheck_failed puts the next off by 10 s. */
bool sentinel_recheck_due(sentinel_t *s, uint64_t now_ms);
void sentinel_recheck_failed(sentinel_t *s, uint64_t now_ms);
/* A +switch-master named host:port at now_ms. For 10 s after it an answer
 * naming another address is older news (a Sentinel not yet told of the
 * failover, or an ask sent before the event): sentinel_outranks gives the
 * announced address (*to_port) to use instead, NULL when the answer
 * host:port agrees with it or no switch is that recent. Connecting to the
 * old primary, still saying ROLE master until Sentinel demotes it, would
 * acknowledge writes that its demotion then discards. */
void sentinel_note_switch(sentinel_t *s, const char *host, int port, uint64_t now_ms);
const char *sentinel_outranks(const sentinel_t *s, const char *host, int port, uint64_t now_ms, int *to_port);
/* ROLE's reply (hiredis redisReply *, passed as void * so callers need no
 * cast): true when its first element is "master". */
bool sentinel_role_is_master(const void *reply);
/* An error reply that means "this node is (now) a replica": READONLY, also
 * as a script's error. */
bool sentinel_readonly(const char *error);

#endif

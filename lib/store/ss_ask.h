/* ss_ask: one question put to a list of Redis nodes in turn, on an event
 * loop, never blocking it. Used where the broker must find something out
 * from whichever node answers: the master's address from Sentinels
 * (ssentinel.c), the slot map from Redis Cluster nodes (sstore_cluster.c).
 * A node out of reach (a stopped process, a host gone from the network)
 * costs the loop nothing; it costs the ask timeout_ms before the next node
 * is tried.
 *
 * For node 0, 1, ... of the caller's list: a non-blocking connect (ss_io.h),
 * AUTH when auth_argc > 0, then the command; the node gets timeout_ms for
 * all of it. Its reply goes to take(), which keeps it (0: the ask ends
 * there) or refuses it (-1 and a reason: the next node is asked). A node
 * that fails (refused connect, AUTH error, a closed link, the timeout) is
 * reported to miss() with the reason, for the caller's log, and the next
 * one is asked. done() runs once at the end: 0 and the index of the node
 * whose reply was kept, or ROOST_EUNAVAILABLE when none was.
 *
 * Callbacks come from the loop, never from inside ss_ask_start. The
 * strings the spec points at (node hosts, AUTH and command arguments) must
 * stay valid until done() runs or the ask is dropped. Host names are
 * resolved off the loop (ss_dns.h): a node whose name is still being
 * looked up counts as not answering this time.
 */
#ifndef ROOST_STORE_SS_ASK_H
#define ROOST_STORE_SS_ASK_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/loop.h"

typedef struct ss_ask ss_ask_t;

typedef struct ss_ask_spec {
    /* Node i: its host (NULL past the end of the list) and *port. */
    const char *(*node)(size_t i, int *port, void *arg);
    /* Node i answered r (valid during the call): 0 keeps it, -1 and *why
     * (text that outlives the call) to ask the next node. */
    int (*take)(const redisReply *r, size_t i, const char **why, void *arg);
    /* Node i gave nothing useful: why (valid during the call). */
    void (*miss)(size_t i, const char *host, int port, const char *why, void *arg);
    void (*done)(int rc, size_t i, void *arg);
    void *arg;
    const char *const *auth_argv; /* AUTH [user] password, or auth_argc 0 */
    int auth_argc;
    const char *const *argv;      /* the command */
    int argc;
    int timeout_ms;               /* per node: connect, AUTH, the answer */
} ss_ask_spec_t;

/* NULL on OOM. */
ss_ask_t *ss_ask_new(loop_t *loop);
/* Drops an ask in flight (no callback runs) and frees a. NULL-safe. */
void ss_ask_free(ss_ask_t **ap);
/* Starts asking (the spec is copied, not what it points at); an ask in
 * flight is dropped first (its callbacks never run). 0 or -ENOMEM. */
int ss_ask_start(ss_ask_t *a, const ss_ask_spec_t *spec);
bool ss_ask_busy(const ss_ask_t *a);

#endif

/* store_wait: the synchronous handle's replicated writes (store.h
 * store_set_wait / store_wait_begin / store_wait_writes).
 *
 * Redis replicates asynchronously: a write the primary answered is lost if
 * the primary dies before a replica has it. WAIT N T on the connection that
 * made the writes blocks until N replicas acknowledged everything that
 * connection wrote (or T ms passed) and answers how many did. So a caller
 * (admin: one per API request) brackets its work with store_wait_begin and
 * store_wait_writes, and one WAIT covers every write in between; a request
 * that only read sends none (a read must not fail because a replica is
 * down).
 *
 * WAIT counts per connection, so a link that carried writes must be waited
 * on before it is left: store.c's drop_conn calls store_wait_leaving (a
 * MOVED to the slot's new owner, a failover a Sentinel announced, a
 * demoted primary); a link already broken cannot be asked and its writes
 * count as unconfirmed. A write run after ASK went out on the ASK target's
 * own short-lived link: store_cluster_ask WAITs there before closing it.
 */
#include "store/store_priv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "base/err.h"

/* Commands the sync modules send that only read (or touch no data). */
static const char *const READS[] = {
    "GET",      "MGET",       "STRLEN",         "EXISTS",      "TYPE",       "TTL",        "PTTL",
    "HGET",     "HMGET",      "HGETALL",        "HLEN",        "HKEYS",      "HVALS",      "HEXISTS",
    "HSCAN",    "SMEMBERS",   "SISMEMBER",      "SCARD",       "SSCAN",      "ZCARD",      "ZSCORE",
    "ZRANGE",   "ZRANGEBYLEX", "ZRANGEBYSCORE", "ZREVRANGE",   "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE",
    "ZSCAN",    "ZRANK",      "LRANGE",         "LLEN",        "LINDEX",     "SCAN",       "XLEN",
    "XRANGE",   "XREVRANGE",  "XPENDING",       "XINFO",       "PING",       "ROLE",       "INFO",
    "TIME",     "AUTH",       "SCRIPT",         "ASKING",      "CLUSTER",    "WAIT",
};

bool store_cmd_writes(int argc, const char *const *argv)
{
    if (argc < 1 || !argv[0])
        return false;
    for (size_t i = 0; i < sizeof(READS) / sizeof(READS[0]); i++)
        if (!strcasecmp(argv[0], READS[i]))
            return false;
    return true;
}

bool store_script_writes(enum store_script sc)
{
    switch (sc) {
    case SC_LIST:
    case SC_CLIENT_BY_USERNAME:
    case SC_AUTH_LOOKUP:
    case SC_AUTH_LOOKUP_CERT:
    case SC_GROUP_MANY:
    case SC_RULE_ALL:
    case SC_ROUTES_ALL:
        return false;
    default:
        return true;
    }
}

void store_set_wait(store_t *s, int min_replicas, int timeout_ms)
{
    store_wait_state_t *w = store_wait_state(s);
    w->min_replicas = min_replicas > 0 ? min_replicas : 0;
    w->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
}

void store_wait_begin(store_t *s)
{
    store_wait_state_t *w = store_wait_state(s);
    w->armed = w->min_replicas > 0;
    w->dirty = false;
    w->lost = 0;
    w->reason[0] = '\0';
}

void store_wait_note(store_t *s, bool write)
{
    store_wait_state_t *w = store_wait_state(s);
    if (write && w->armed && !w->unwaited)
        w->dirty = true;
}

int store_cmd_unwaited(store_t *s, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    store_wait_state_t *w = store_wait_state(s);
    bool was = w->unwaited;
    w->unwaited = true;
    int rc = store_cmd(s, argc, argv, lens, out);
    w->unwaited = was;
    return rc;
}

/* The first unconfirmed write's reason is kept. */
static void lost(store_wait_state_t *w, const char *fmt, long long got)
{
    if (w->lost)
        return;
    w->lost = ROOST_EUNAVAILABLE;
    snprintf(w->reason, sizeof(w->reason), fmt, got, w->min_replicas, w->timeout_ms);
}

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* WAIT on ctx; a short or failed answer is counted as lost. */
static void wait_link(store_t *s, redisContext *ctx)
{
    store_wait_state_t *w = store_wait_state(s);
    redisReply *r = NULL;
    if (!ctx->err) {
        /* the link's command timeout must outlast the WAIT's own */
        redisSetTimeout(ctx, ms_tv(w->timeout_ms + store_command_ms(s)));
        r = redisCommand(ctx, "WAIT %d %d", w->min_replicas, w->timeout_ms);
        if (!ctx->err)
            redisSetTimeout(ctx, ms_tv(store_command_ms(s)));
    }
    if (!r || r->type != REDIS_REPLY_INTEGER)
        lost(w, "the write was sent to the Redis primary, but the link broke or WAIT was refused before "
                "its replicas confirmed it (%lld of %d within %d ms): it may have been made, and a "
                "failover could lose it", 0);
    else if (r->integer < w->min_replicas)
        lost(w, "the write was made on the Redis primary, but only %lld of %d replicas confirmed it within "
                "%d ms (--redis-min-replicas): a failover could lose it", r->integer);
    if (r)
        freeReplyObject(r);
}

void store_wait_leaving(store_t *s, redisContext *ctx)
{
    store_wait_state_t *w = store_wait_state(s);
    if (!w->armed || !w->dirty)
        return;
    w->dirty = false;
    wait_link(s, ctx);
}

void store_wait_on_link(store_t *s, redisContext *ctx)
{
    if (store_wait_state(s)->armed)
        wait_link(s, ctx);
}

int store_wait_writes(store_t *s)
{
    store_wait_state_t *w = store_wait_state(s);
    if (!w->armed)
        return 0;
    if (w->dirty) {
        redisContext *ctx = store_link(s);
        if (ctx)
            wait_link(s, ctx);
        else
            lost(w, "the link to the Redis primary was closed before its replicas confirmed the write "
                    "(%lld of %d within %d ms): it may have been made, and a failover could lose it", 0);
    }
    int rc = w->lost;
    w->armed = w->dirty = false;
    w->lost = 0;
    return rc ? store_fail(s, rc, NULL, w->reason) : 0;
}

#include "route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/proc.h"
#include "cluster.h"
#include "mqtt/topic.h"
#include "publish5.h"
#include "session.h"

/* Target QoS of a session a deny entry keeps the message from: it gets
 * nothing, but a copy queued for it in Redis is acknowledged. */
#define ROUTE_FILTERED 0xff
/* Target QoS of the publisher's own session through a No Local
 * subscription: it gets nothing from that one [MQTT-3.8.3-3] (any other
 * matching subscription still delivers), and a copy queued for it in Redis
 * is acknowledged. */
#define ROUTE_NO_LOCAL 0xfe

/* Overlapping subscriptions of one session: one delivery at the highest
 * QoS among them [MQTT-3.3.4-2] (5.0 allows one message for all of them,
 * with all their Subscription Identifiers [MQTT-3.3.4-4,5]); deny wins: a
 * topic one filter's ACL denies, no other grants; a No Local one gives
 * way to any other. */
static uint8_t merge(uint8_t have, uint8_t add)
{
    if (have == ROUTE_FILTERED || add == ROUTE_FILTERED)
        return ROUTE_FILTERED;
    if (have == ROUTE_NO_LOCAL)
        return add;
    if (add == ROUTE_NO_LOCAL)
        return have;
    return add > have ? add : have;
}

/* s's routing target for a matching subscription with these options: the
 * one it has in this match, or a new one; NULL under OOM. */
static inline route_target_t *target(broker_t *b, session_t *s, uint8_t options)
{
    uint8_t qos = options & 3;
    bool rap = false;
    if (__builtin_expect((options & (SUBOPT_NO_LOCAL | SUBOPT_FILTERED | SUBOPT_RAP)) != 0, 0)) {
        /* (one test for the common subscription: none of these options;
         * a target with any is delivered by deliver_v5) */
        b->targets_v5 = true;
        rap = (options & SUBOPT_RAP) != 0;
        if ((options & SUBOPT_NO_LOCAL) && s == b->cur_origin) {
            qos = ROUTE_NO_LOCAL;
            rap = false;
        } else if ((options & SUBOPT_FILTERED) && s->acl &&
                   !acl_check_deliver(s->acl, b->cur_topic, b->cur_topic_len)) {
            qos = ROUTE_FILTERED; /* a deny entry overlapping this subscription covers the topic */
        }
    }
    if (s->stamp == b->stamp) {
        route_target_t *t = &b->targets[s->target_idx];
        t->qos = merge(t->qos, qos);
        t->rap = t->rap || rap;
        return t;
    }
    if (b->ntargets == b->captargets) {
        uint32_t n = b->captargets ? b->captargets * 2 : 64;
        route_target_t *p = realloc(b->targets, n * sizeof(*p));
        if (!p)
            return NULL; /* fan-out truncated under OOM; counted below */
        b->targets = p;
        b->captargets = n;
    }
    s->stamp = b->stamp;
    s->target_idx = b->ntargets;
    route_target_t *t = &b->targets[b->ntargets++];
    *t = (route_target_t){s, 0, qos, rap};
    return t;
}

/* A matching subscription with a Subscription Identifier (session.h's
 * subref_t): its session's target gets the identifier too, unless it is
 * the publisher's own No Local subscription, which did not deliver it
 * [MQTT-3.8.3-3]. Under OOM the identifier is left out. Out of line: the
 * common case (collect without identifiers) keeps its short prologue. */
__attribute__((noinline)) static void collect_subid(broker_t *b, const subref_t *r,
                                                    uint8_t options)
{
    route_target_t *t = target(b, r->sess, options);
    if (!t || ((options & SUBOPT_NO_LOCAL) && r->sess == b->cur_origin))
        return;
    b->targets_v5 = true;
    if (b->nsubids == b->capsubids) {
        uint32_t n = b->capsubids ? b->capsubids * 2 : 16;
        route_subid_t *p = realloc(b->subids, n * sizeof(*p));
        if (!p)
            return;
        b->subids = p;
        b->capsubids = n;
    }
    b->subids[b->nsubids] = (route_subid_t){r->subid, t->ids};
    t->ids = ++b->nsubids;
}

/* collect for a subscription with a 5.0 option or a filtered topic. */
__attribute__((noinline)) static void collect_v5(broker_t *b, void *sub, uint8_t options)
{
    if (options & SUBOPT_SUBID)
        collect_subid(b, sub, options);
    else
        (void)target(b, sub, options);
}

static void collect(void *sub, uint8_t options, void *ctx)
{
    broker_t *b = ctx;
    if (__builtin_expect((options & (SUBOPT_NO_LOCAL | SUBOPT_FILTERED | SUBOPT_RAP | SUBOPT_SUBID)) != 0, 0))
        collect_v5(b, sub, options);
    else
        (void)target(b, sub, options & 3); /* (one test for the commonest subscription) */
}

static inline uint32_t match(broker_t *b, const char *topic, size_t len)
{
    b->stamp++;
    b->ntargets = 0;
    b->nsubids = 0;
    b->targets_v5 = false;
    b->cur_topic = topic;
    b->cur_topic_len = len;
    subtrie_match(b->trie, topic, len, collect, b);
    return b->ntargets;
}

/* A target no subscription with an identifier matched (own: session.c
 * takes it from b->cur_origin for what routing delivers). */
static const pub_ids_t NONE = {NULL, 0, true, false, false};

/* One PUBLISH with the identifiers of every subscription that matched
 * [MQTT-3.3.4-3,4,5]. Out of line, like collect_subid. */
__attribute__((noinline)) static void deliver_ids(broker_t *b, const route_target_t *t, msg_t *m, uint8_t qos, bool retain)
{
    uint32_t ids[PUBLISH5_SUBIDS_MAX];
    pub_ids_t pi = {ids, 0, true, false, false};
    for (uint32_t k = t->ids; k && pi.n < PUBLISH5_SUBIDS_MAX; k = b->subids[k - 1].next)
        ids[pi.n++] = b->subids[k - 1].id;
    session_deliver_ids(b, t->sess, m, qos, retain, &pi);
}

/* deliver's loop when a target has a 5.0 part (b->targets_v5). */
__attribute__((noinline)) static void deliver_v5(broker_t *b, msg_t *m)
{
    for (uint32_t i = 0; i < b->ntargets; i++) {
        route_target_t *t = &b->targets[i];
        if (t->qos >= ROUTE_NO_LOCAL) { /* ROUTE_NO_LOCAL or ROUTE_FILTERED */
            session_filtered(b, t->sess, m);
            continue;
        }
        uint8_t qos = t->qos < m->qos ? t->qos : m->qos;
        /* Retain As Published keeps the flag [MQTT-3.3.1-13]; otherwise a
         * live delivery has it 0 [MQTT-3.3.1-12] */
        bool retain = t->rap && m->retain;
        if (t->ids)
            deliver_ids(b, t, m, qos, retain);
        else
            session_deliver_ids(b, t->sess, m, qos, retain, &NONE);
    }
}

static inline void deliver(broker_t *b, msg_t *m)
{
    if (__builtin_expect(b->targets_v5, 0)) {
        deliver_v5(b, m);
        return;
    }
    /* (every target: a QoS, no identifiers, live retain 0 [MQTT-3.3.1-12]) */
    for (uint32_t i = 0; i < b->ntargets; i++) {
        route_target_t *t = &b->targets[i];
        session_deliver_ids(b, t->sess, m, t->qos < m->qos ? t->qos : m->qos, false, &NONE);
    }
}

uint32_t route_match(broker_t *b, const char *topic, size_t len) { return match(b, topic, len); }

void route_deliver(broker_t *b, msg_t *m) { deliver(b, m); }

void route_publish(broker_t *b, msg_t *m)
{
    if (match(b, msg_topic(m), m->topic_len))
        deliver(b, m);
}

int route_local(broker_t *b, const msg_parts_t *p)
{
    uint32_t here = match(b, p->topic, p->topic_len);
    if (!here && !p->retain)
        return 0; /* nobody here keeps it: no message is made */
    msg_t *m = msg_make_inline(p, NULL); /* (no constructor call: one per PUBLISH) */
    if (!m)
        return -ENOMEM;
    if (m->retain)
        route_retain(b, m);
    if (here)
        deliver(b, m);
    msg_unref(&m);
    return here != 0;
}

typedef struct expired {
    msg_t **v;
    size_t n, cap;
} expired_t;

static void note_expired(void *value, void *ctx)
{
    expired_t *x = ctx;
    msg_t *m = value;
    if (!msg_expired_now(m))
        return;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        msg_t **v = realloc(x->v, cap * sizeof(*v));
        if (!v)
            return; /* the rest waits for the next walk */
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = m;
}

static void on_redis_expired(int rc, void *arg)
{
    (void)arg;
    if (rc < 0)
        log_warn("retained_expire_failed", "rc=%d", rc);
}

/* Removes the retained messages whose Message Expiry Interval has run out
 * [MQTT-3.3.2-5], so they stop counting towards --max-retained, here and
 * (cluster) in Redis; returns how many. A walk of the whole store: at most
 * once a second. */
static size_t retained_expire(broker_t *b)
{
    uint64_t now = proc_wall_ms();
    if (now - b->retained_swept_ms < 1000)
        return 0;
    b->retained_swept_ms = now;
    expired_t x = {0};
    (void)topictree_each(b->retained, note_expired, &x); /* (OOM: fewer found) */
    for (size_t i = 0; i < x.n; i++) {
        /* (Redis deletes it only if what it holds has expired as well) */
        if (b->cluster)
            (void)sstore_retain_expire(cluster_store(b->cluster), msg_topic(x.v[i]),
                                       x.v[i]->topic_len, now, on_redis_expired, NULL);
        msg_t *o = topictree_del(b->retained, msg_topic(x.v[i]), x.v[i]->topic_len);
        msg_unref(&o);
    }
    free(x.v);
    if (x.n)
        log_info("retained_expired", "count=%zu", x.n);
    return x.n;
}

static void retain_apply(broker_t *b, msg_t *m);

static char fresh_mark; /* the value of every topic in b->retained_fresh */

void route_retain(broker_t *b, msg_t *m)
{
    if (b->retained_loads && !b->retained_fresh_lost &&
        topictree_put(b->retained_fresh, msg_topic(m), m->topic_len, &fresh_mark, NULL) < 0)
        b->retained_fresh_lost = true;
    retain_apply(b, m);
}

void route_retain_load_begin(broker_t *b)
{
    if (b->retained_loads++ == 0 && !(b->retained_fresh = topictree_new()))
        b->retained_fresh_lost = true;
}

void route_retain_stored(broker_t *b, msg_t *m)
{
    if (b->retained_loads &&
        (b->retained_fresh_lost || topictree_get(b->retained_fresh, msg_topic(m), m->topic_len)))
        return; /* changed here since the read went out: what we hold is as new */
    retain_apply(b, m);
}

int route_retain_load_end(broker_t *b)
{
    int rc = b->retained_fresh_lost ? -ENOMEM : 0;
    if (b->retained_loads && --b->retained_loads == 0) {
        topictree_destroy(&b->retained_fresh, NULL);
        b->retained_fresh_lost = false;
    }
    return rc;
}

static void retain_apply(broker_t *b, msg_t *m)
{
    void *old = NULL;
    if (m->payload_len == 0) {
        old = topictree_del(b->retained, msg_topic(m), m->topic_len);
    } else {
        if (!topictree_get(b->retained, msg_topic(m), m->topic_len) &&
            topictree_count(b->retained) >= (size_t)b->cfg->max_retained &&
            (retained_expire(b) == 0 ||
             topictree_count(b->retained) >= (size_t)b->cfg->max_retained)) {
            b->stats.dropped_retained++;
            char qt[LOG_QUOTE_CAP];
            log_warn("retained_limit", "topic=%s max_retained=%lld",
                     log_quote(qt, sizeof(qt), msg_topic(m), m->topic_len),
                     (long long)b->cfg->max_retained);
            return;
        }
        if (topictree_put(b->retained, msg_topic(m), m->topic_len, msg_ref(m), &old) < 0) {
            msg_unref(&m);
            return;
        }
    }
    msg_t *o = old;
    msg_unref(&o);
}

typedef struct send_ctx {
    broker_t *b;
    session_t *s;
    uint8_t qos;
    bool filtered;
    uint32_t subid;
} send_ctx_t;

static void send_one(void *value, void *arg)
{
    send_ctx_t *x = arg;
    msg_t *m = value;
    if (msg_expired_now(m))
        return; /* a retained message past its expiry is not sent [MQTT-3.3.2-5] */
    if (!x->filtered || acl_check_deliver(x->s->acl, msg_topic(m), m->topic_len))
        session_deliver_ids(x->b, x->s, m, m->qos < x->qos ? m->qos : x->qos, true,
                            &(pub_ids_t){&x->subid, x->subid != 0, true, false, false});
}

void route_send_retained(broker_t *b, session_t *s, const char *filter, size_t len, uint8_t qos,
                         uint32_t subid)
{
    send_ctx_t x = {b, s, qos & 3, (qos & SUBOPT_FILTERED) != 0, subid};
    if (!topic_has_wildcard(filter, len)) {
        msg_t *m = topictree_get(b->retained, filter, len);
        if (m)
            send_one(m, &x);
        return;
    }
    if (topictree_match(b->retained, filter, len, send_one, &x) < 0) {
        char qf[LOG_QUOTE_CAP];
        log_warn("retained_match_oom", "filter=%s detail=\"some retained messages not sent\"",
                 log_quote(qf, sizeof(qf), filter, len));
    }
}

static void free_msg(void *value)
{
    msg_t *m = value;
    msg_unref(&m);
}

void route_fini(broker_t *b)
{
    topictree_destroy(&b->retained, free_msg);
    topictree_destroy(&b->retained_fresh, NULL);
}

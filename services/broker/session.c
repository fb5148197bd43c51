#include "session.h"
#include "conn5.h"
#include "session_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/loop.h"
#include "cluster.h"
#include "conn.h"
#include "mqtt/share.h"
#include "mqtt/topic.h"
#include "shared.h"
#include "store/sstore.h"

session_t *session_new(broker_t *b, const char *id, size_t len, bool clean)
{
    session_t *s = calloc(1, sizeof(*s) + len + 1);
    if (!s)
        return NULL;
    memcpy(s->id, id, len);
    s->id[len] = '\0';
    s->id_len = (uint16_t)len;
    s->clean = clean;
    s->next_pid = 1;
    if (map_put(&b->sessions, s->id, len, s, NULL) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void session_destroy(broker_t *b, session_t **sp)
{
    session_t *s = *sp;
    if (!s)
        return;
    *sp = NULL;
    session_keep(b, s);
    if (b->shared)
        shared_session_gone(b->shared, s); /* before its subscriptions go */
    for (uint32_t i = 0; i < s->nsubs; i++) {
        session_sub_detach(b, s, &s->subs[i]);
        session_sub_free(&s->subs[i]);
    }
    session_track_seen(s, false);
    free(s->subs);
    acl_destroy(&s->acl);
    for (uint16_t i = 0; i < s->ninflight; i++)
        msg_unref(&s->inflight[i].m);
    free(s->inflight);
    for (uint32_t i = 0; i < s->qlen; i++)
        msg_unref(&s->queue[(s->qhead + i) % s->qcap].m);
    free(s->queue);
    free(s->rx_qos2);
    free(s->owner);
    map_del(&b->sessions, s->id, s->id_len);
    free(s);
}

static uint16_t alloc_pid(session_t *s)
{
    for (;;) {
        uint16_t pid = s->next_pid++;
        if (s->next_pid == 0)
            s->next_pid = 1;
        bool used = false;
        for (uint16_t i = 0; i < s->ninflight && !used; i++)
            used = s->inflight[i].pid == pid;
        if (!used)
            return pid;
    }
}

/* The outgoing QoS 1/2 window: --max-inflight, or less when a 5.0 client's
 * Receive Maximum says so: the broker MUST NOT send more PUBLISHes
 * unacknowledged than that [MQTT-3.3.4-9]. */
static uint16_t window(const broker_t *b, const session_t *s)
{
    uint16_t w = (uint16_t)b->cfg->max_inflight;
    const conn_t *c = s->conn;
    if (c && c->v5 && c->v5->receive_max < w)
        w = c->v5->receive_max;
    return w;
}

static void remove_inflight(session_t *s, int i);
static sstore_t *mirror(broker_t *b, const session_t *s);

/* Whether s published the message it is given with ids: routing tells
 * (b->cur_origin) for what it delivers; any other caller says. Kept with a
 * message that waits, for its identifiers found when it is written. */
static inline bool own_of(const broker_t *b, const session_t *s, const pub_ids_t *ids)
{
    return ids->routed ? s == b->cur_origin : ids->own;
}

/* The identifiers an entry written later carries: a shared copy its
 * group's alone, any other those of the session's subscriptions found
 * when it is written (publish5_send). */
static inline pub_ids_t entry_ids(const out_entry_t *e)
{
    return (pub_ids_t){&e->subid, e->subid != 0, e->shared, e->own, e->shared};
}

static inline uint32_t shared_id(const pub_ids_t *ids)
{
    return ids->shared && ids->n ? ids->v[0] : 0;
}

/* A PUBLISH larger than the client's Maximum Packet Size is not sent: the
 * broker behaves as if it had been sent and acknowledged [MQTT-3.1.2-25]
 * (its Redis queue entry is acknowledged too), and counts it. Inflight
 * entry i is removed. */
static void drop_too_large(broker_t *b, session_t *s, int i)
{
    const msg_t *m = s->inflight[i].m;
    sstore_t *st = mirror(b, s);
    if (st && m && msg_eid(m))
        sstore_queue_ack(st, s->id, s->id_len, msg_eid(m), session_store_done, b);
    b->stats.dropped_too_large++;
    char qid[LOG_QUOTE_CAP];
    log_debug("publish_too_large", "client_id=%s detail=\"over the client's Maximum Packet Size: dropped\"",
              log_quote(qid, sizeof(qid), s->id, s->id_len));
    remove_inflight(s, i);
}

/* The window's slots, at a session's first QoS 1/2 send; false (the
 * connection closes) on OOM. Out of line: once per session. */
static __attribute__((noinline)) bool inflight_alloc(broker_t *b, session_t *s)
{
    s->inflight = calloc((size_t)b->cfg->max_inflight, sizeof(*s->inflight));
    if (!s->inflight)
        conn_close(s->conn, "out_of_memory");
    return s->inflight != NULL;
}

/* Puts m in the window and writes it. The caller checked the window has room
 * and the session is online. Takes a new reference. (Inline in its two
 * callers, the delivery and the queue's pump: it has seven arguments.) */
static inline __attribute__((always_inline)) void send_inflight(broker_t *b, session_t *s, msg_t *m,
                                                                uint8_t qos, bool retain, bool dup,
                                                                const pub_ids_t *ids)
{
    if (!s->inflight && !inflight_alloc(b, s))
        return;
    uint16_t pid = alloc_pid(s);
    out_entry_t *e = &s->inflight[s->ninflight++];
    *e = (out_entry_t){msg_ref(m), pid, qos, qos == 1 ? OUT_WAIT_PUBACK : OUT_WAIT_PUBREC, retain,
                       dup, own_of(b, s, ids), ids->shared, shared_id(ids)};
    int rc = conn_send_publish(s->conn, m, qos, pid, dup, retain, ids);
    if (rc == CONN_TOO_LARGE)
        drop_too_large(b, s, s->ninflight - 1);
    else if (rc < 0)
        conn_close(s->conn, "out_of_memory");
}

void session_count_queue_drop(broker_t *b, size_t n, const char *client_id)
{
    b->stats.dropped_queue += n;
    uint64_t now = loop_clock_ms(); /* (not the loop's time: unit tests run without a loop) */
    if (b->stats.queue_full_log_ms && now - b->stats.queue_full_log_ms < 1000)
        return;
    char qid[LOG_QUOTE_CAP];
    log_warn("queue_full", "dropped=%llu total=%llu client_id=%s detail=\"newest messages dropped at "
             "--max-queued; one line a second at most\"",
             (unsigned long long)(b->stats.dropped_queue - b->stats.dropped_queue_logged),
             (unsigned long long)b->stats.dropped_queue,
             log_quote(qid, sizeof(qid), client_id ? client_id : "", client_id ? strlen(client_id) : 0));
    b->stats.dropped_queue_logged = b->stats.dropped_queue;
    b->stats.queue_full_log_ms = now ? now : 1;
}

static bool enqueue(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain, bool dup,
                    bool own, const pub_ids_t *ids)
{
    if (s->qlen >= (uint32_t)b->cfg->max_queued) {
        /* a persistent session's message with an entry id is in its Redis
         * queue, whose push counted the drop on the publishing broker: count
         * it once, there */
        if (!(msg_eid(m) && !s->clean && b->cluster))
            session_count_queue_drop(b, 1, s->id);
        return false;
    }
    if (s->qlen == s->qcap) {
        uint32_t n = s->qcap ? s->qcap * 2 : 8;
        out_entry_t *p = malloc(n * sizeof(*p));
        if (!p)
            return false;
        for (uint32_t i = 0; i < s->qlen; i++)
            p[i] = s->queue[(s->qhead + i) % s->qcap];
        free(s->queue);
        s->queue = p;
        s->qcap = n;
        s->qhead = 0;
    }
    s->queue[(s->qhead + s->qlen) % s->qcap] =
        (out_entry_t){msg_ref(m), 0, qos, 0, retain, dup, own, ids && ids->shared, ids ? shared_id(ids) : 0};
    s->qlen++;
    b->stats.queued++;
    return true;
}

static bool resend(broker_t *b, session_t *s, uint16_t i);

static void pump(broker_t *b, session_t *s)
{
    /* first what is in flight from a previous connection and not resent
     * yet (session_resume), then the queue */
    while (s->conn && s->unsent && s->ninflight - s->unsent < window(b, s)) {
        uint16_t i = (uint16_t)(s->ninflight - s->unsent);
        s->unsent--;
        if (!resend(b, s, i))
            continue;
    }
    while (s->conn && !s->unsent && s->qlen && s->ninflight < window(b, s)) {
        out_entry_t e = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        if (msg_expired_now(e.m)) {
            /* its Message Expiry Interval ran out while queued: not
             * delivered [MQTT-3.3.2-5], and gone from Redis too */
            session_filtered(b, s, e.m);
            msg_unref(&e.m);
            continue;
        }
        pub_ids_t ids = entry_ids(&e);
        send_inflight(b, s, e.m, e.qos, e.retain, e.dup, &ids);
        msg_unref(&e.m);
    }
    if (s->qlen == 0 && s->queue) {
        free(s->queue);
        s->queue = NULL;
        s->qcap = s->qhead = 0;
    }
}

static bool seen_before(session_t *s, const msg_t *m)
{
    const char *eid = msg_eid(m);
    if (!s->seen || !eid)
        return false;
    if (map_get(s->seen, eid, m->eid_len))
        return true;
    char *k = strdup(eid);
    if (k && map_put(s->seen, k, m->eid_len, k, NULL) < 0)
        free(k);
    return false;
}

void session_deliver(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain)
{
    pub_ids_t found = {.own = s == b->cur_origin};
    session_deliver_ids(b, s, m, qos, retain, &found);
}

/* A QoS 0 delivery to s's connection c whose output is over
 * --max-outbuf: dropped and counted, logged once until it drains. (Out of
 * line: its log buffer stays off the delivery path's frame.) */
static __attribute__((noinline)) void drop_qos0(broker_t *b, const session_t *s, conn_t *c)
{
    b->stats.dropped_qos0++;
    if (!c->drop_logged) {
        c->drop_logged = true;
        char qid[LOG_QUOTE_CAP];
        log_warn("slow_subscriber", "client_id=%s pending=%zu action=drop_qos0",
                 log_quote(qid, sizeof(qid), s->id, s->id_len), conn_pending(c));
    }
}

/* A QoS 0 delivery: to an online session only (QoS 0 is not queued for
 * offline clients). */
static inline void send_qos0(broker_t *b, const session_t *s, msg_t *m, bool retain,
                             const pub_ids_t *ids)
{
    conn_t *c = s->conn;
    if (!c)
        return;
    if (conn_pending(c) > (size_t)b->cfg->max_outbuf) {
        drop_qos0(b, s, c);
        return;
    }
    c->drop_logged = false;
    int rc = conn_send_publish(c, m, 0, 0, false, retain, ids);
    if (rc == CONN_TOO_LARGE)
        b->stats.dropped_too_large++; /* [MQTT-3.1.2-24] */
    else if (rc < 0)
        conn_close(c, "out_of_memory");
}

void session_deliver_ids(broker_t *b, session_t *s, msg_t *m, uint8_t qos, bool retain,
                         const pub_ids_t *ids)
{
    if (qos == 0 && !m->expiry_ms) {
        send_qos0(b, s, m, retain, ids); /* (the commonest: nothing to check first) */
        return;
    }
    if (qos > 0 && seen_before(s, m))
        return; /* already restored from Redis */
    if (msg_expired_now(m)) { /* [MQTT-3.3.2-5] */
        session_filtered(b, s, m);
        return;
    }
    if (qos == 0)
        send_qos0(b, s, m, retain, ids);
    else if (s->conn && s->qlen == 0 && s->ninflight < window(b, s))
        send_inflight(b, s, m, qos, retain, false, ids);
    else
        enqueue(b, s, m, qos, retain, false, own_of(b, s, ids), ids);
}

static int find_inflight(const session_t *s, uint16_t pid, uint8_t state)
{
    for (uint16_t i = 0; i < s->ninflight; i++)
        if (s->inflight[i].pid == pid && s->inflight[i].state == state)
            return i;
    return -1;
}

static void remove_inflight(session_t *s, int i)
{
    if (i >= s->ninflight - s->unsent)
        s->unsent--;
    msg_unref(&s->inflight[i].m);
    /* keep order: resends on resume go out in the original order [MQTT-4.6.0-1] */
    memmove(&s->inflight[i], &s->inflight[i + 1],
            (size_t)(s->ninflight - i - 1) * sizeof(s->inflight[0]));
    s->ninflight--;
}

void session_store_done(int rc, void *arg)
{
    broker_t *b = arg;
    if (rc)
        b->stats.store_failures++;
}

/* Persistent sessions in a cluster mirror acknowledgements into Redis. */
static sstore_t *mirror(broker_t *b, const session_t *s)
{
    return b->cluster && !s->clean ? cluster_store(b->cluster) : NULL;
}

void session_filtered(broker_t *b, session_t *s, const msg_t *m)
{
    sstore_t *st = mirror(b, s);
    if (st && msg_eid(m))
        sstore_queue_ack(st, s->id, s->id_len, msg_eid(m), session_store_done, b);
}

/* The end of an outgoing exchange in state `state`: the message leaves
 * the window and its Redis queue entry. */
static int finish_out(broker_t *b, session_t *s, uint16_t pid, uint8_t state)
{
    int i = find_inflight(s, pid, state);
    if (i < 0)
        return ROOST_ENOTFOUND;
    sstore_t *st = mirror(b, s);
    if (st && msg_eid(s->inflight[i].m))
        sstore_queue_ack(st, s->id, s->id_len, msg_eid(s->inflight[i].m), session_store_done, b);
    if (b->shared_holds) /* (no call per acknowledgement without shared messages) */
        shared_acked(b->shared, s, s->inflight[i].m);
    remove_inflight(s, i);
    if (s->qlen || s->unsent || s->queue) /* (pump has nothing else to do) */
        pump(b, s);
    return 0;
}

int session_on_puback(broker_t *b, session_t *s, uint16_t pid)
{
    return finish_out(b, s, pid, OUT_WAIT_PUBACK);
}

int session_on_pubrec_refused(broker_t *b, session_t *s, uint16_t pid)
{
    return finish_out(b, s, pid, OUT_WAIT_PUBREC);
}

int session_on_pubrec(broker_t *b, session_t *s, uint16_t pid)
{
    int i = find_inflight(s, pid, OUT_WAIT_PUBREC);
    if (i < 0) {
        /* a PUBREC we already moved past (resent after reconnect): answer again */
        if (find_inflight(s, pid, OUT_WAIT_PUBCOMP) < 0)
            return ROOST_ENOTFOUND;
    } else {
        s->inflight[i].state = OUT_WAIT_PUBCOMP;
        sstore_t *st = mirror(b, s);
        if (st && msg_eid(s->inflight[i].m))
            sstore_rel_add(st, s->id, s->id_len, msg_eid(s->inflight[i].m), pid, session_store_done, b);
        if (b->shared_holds)
            shared_acked(b->shared, s, s->inflight[i].m);
        msg_unref(&s->inflight[i].m); /* the message itself is delivered */
    }
    if (s->conn && conn_send_ack(s->conn, MQTT_PUBREL, pid) < 0)
        conn_close(s->conn, "out_of_memory");
    return 0;
}

int session_on_pubcomp(broker_t *b, session_t *s, uint16_t pid)
{
    int i = find_inflight(s, pid, OUT_WAIT_PUBCOMP);
    if (i < 0)
        return ROOST_ENOTFOUND;
    sstore_t *st = mirror(b, s);
    if (st)
        sstore_rel_del(st, s->id, s->id_len, pid, session_store_done, b);
    remove_inflight(s, i);
    pump(b, s);
    return 0;
}

/* Resends in-flight entry i (PUBLISH with DUP, or PUBREL) with its own
 * packet id [MQTT-4.4.0-1]. False when it was dropped instead (too large
 * for the client: removed from the window). */
static bool resend(broker_t *b, session_t *s, uint16_t i)
{
    out_entry_t *e = &s->inflight[i];
    e->dup = true;
    pub_ids_t ids = entry_ids(e);
    int rc = e->state == OUT_WAIT_PUBCOMP
                 ? conn_send_ack(s->conn, MQTT_PUBREL, e->pid)
                 : conn_send_publish(s->conn, e->m, e->qos, e->pid, true, e->retain, &ids);
    if (rc == CONN_TOO_LARGE) {
        drop_too_large(b, s, i);
        return false;
    }
    if (rc < 0)
        conn_close(s->conn, "out_of_memory");
    return true;
}

void session_resume(broker_t *b, session_t *s)
{
    /* [MQTT-4.4.0-1], in order; a 5.0 client's Receive Maximum may now be
     * below what is in flight: the rest wait (s->unsent) and go out, with
     * their packet ids, as acknowledgements free the window (pump)
     * [MQTT-3.3.4-9] */
    uint16_t w = window(b, s), i = 0;
    s->unsent = 0;
    while (i < s->ninflight && s->conn) {
        if (i >= w) {
            s->unsent = (uint16_t)(s->ninflight - i);
            break;
        }
        if (resend(b, s, i))
            i++;
    }
    pump(b, s);
}

void session_take(broker_t *b, session_t *s, session_take_fn take, void *arg)
{
    for (uint16_t i = 0; i < s->ninflight;) {
        out_entry_t *e = &s->inflight[i];
        if (e->m && e->state != OUT_WAIT_PUBCOMP && take(arg, e->m))
            remove_inflight(s, i);
        else
            i++;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->qlen; i++) {
        out_entry_t e = s->queue[(s->qhead + i) % s->qcap];
        if (take(arg, e.m))
            msg_unref(&e.m);
        else
            s->queue[(s->qhead + kept++) % s->qcap] = e;
    }
    s->qlen = kept;
}

static bool same_eid(const msg_t *m, const char *eid)
{
    return m && msg_eid(m) && strcmp(msg_eid(m), eid) == 0;
}

bool session_holds(const session_t *s, const char *eid)
{
    for (uint16_t i = 0; i < s->ninflight; i++)
        if (same_eid(s->inflight[i].m, eid))
            return true;
    for (uint32_t i = 0; i < s->qlen; i++)
        if (same_eid(s->queue[(s->qhead + i) % s->qcap].m, eid))
            return true;
    return false;
}

void session_prune_queue(broker_t *b, session_t *s)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->qlen; i++) {
        out_entry_t e = s->queue[(s->qhead + i) % s->qcap];
        if (session_wants(s, msg_topic(e.m), e.m->topic_len))
            s->queue[(s->qhead + kept++) % s->qcap] = e;
        else
            msg_unref(&e.m);
    }
    s->qlen = kept;
}

void session_set_acl(broker_t *b, session_t *s, acl_matcher_t **acl)
{
    acl_destroy(&s->acl);
    s->acl = *acl;
    *acl = NULL;
    for (uint32_t i = 0; i < s->nsubs;) {
        sub_entry_t *e = &s->subs[i];
        acl_sub_result_t r = s->acl ? acl_check_subscribe(s->acl, e->filter, e->len) : ACL_SUB_GRANTED;
        if (r == ACL_SUB_DENIED) {
            session_sub_detach(b, s, e);
            sstore_t *st = mirror(b, s);
            if (st) { /* no more queueing for it anywhere in the cluster */
                sstore_sub_del(st, s->id, s->id_len, e->filter, e->len, session_store_done, b);
                cluster_psub(b->cluster, s->id, s->id_len, e->filter, e->len, 0, false);
            }
            session_sub_free(e);
            s->subs[i] = s->subs[--s->nsubs];
            continue;
        }
        e->qos = (uint8_t)((e->qos & SUBOPT_MQTT) | (r == ACL_SUB_GRANTED_FILTERED ? SUBOPT_FILTERED : 0));
        session_sub_attach(b, s, e, false);
        i++;
    }
}

static void remember(session_t *s, const msg_t *m)
{
    const char *eid = m ? msg_eid(m) : NULL;
    if (!eid || map_get(s->seen, eid, m->eid_len))
        return;
    char *k = strdup(eid);
    if (k && map_put(s->seen, k, m->eid_len, k, NULL) < 0)
        free(k);
}

int session_track_seen(session_t *s, bool on)
{
    if (on && !s->seen) {
        s->seen = malloc(sizeof(*s->seen));
        if (!s->seen)
            return -ENOMEM;
        map_init(s->seen);
        /* what is already in flight or queued was delivered (or will be)
         * before tracking began: a catch-up read must not send it again, even
         * if it is acknowledged while the read is on its way */
        for (uint16_t i = 0; i < s->ninflight; i++)
            remember(s, s->inflight[i].m);
        for (uint32_t i = 0; i < s->qlen; i++)
            remember(s, s->queue[(s->qhead + i) % s->qcap].m);
        return 0;
    }
    if (!on && s->seen) {
        size_t it = 0;
        map_entry_t *e;
        while (map_next(s->seen, &it, &e))
            free(e->value);
        map_fini(s->seen);
        free(s->seen);
        s->seen = NULL;
    }
    return 0;
}

/* May this queued message have been sent before? Only the ids the last
 * holder recorded were; without its record, any may have been. */
static bool was_sent(const sstore_session_t *st, const char *eid)
{
    if (!st->sent_known)
        return true;
    for (size_t i = 0; i < st->n_sent; i++)
        if (!strcmp(st->sent[i], eid))
            return true;
    return false;
}

int session_restore(broker_t *b, session_t *s, const sstore_session_t *st)
{
    int rc = 0;
    for (size_t i = 0; i < st->n_rx2 && rc == 0; i++)
        rc = session_rx2_add(s, st->rx2[i]);
    /* PUBREL-pending ids take window slots and are resent on resume */
    for (size_t i = 0; i < st->n_rel && rc == 0; i++) {
        if (!s->inflight) {
            s->inflight = calloc((size_t)b->cfg->max_inflight, sizeof(*s->inflight));
            if (!s->inflight)
                return -ENOMEM;
        }
        if (s->ninflight == b->cfg->max_inflight)
            break;
        s->inflight[s->ninflight++] =
            (out_entry_t){NULL, st->rel[i], 2, OUT_WAIT_PUBCOMP, false, true, false, false, 0};
    }
    uint64_t now = proc_wall_ms();
    for (size_t i = 0; i < st->n_msgs && rc == 0; i++) {
        const sstore_msg_t *q = &st->msgs[i];
        /* queued for a subscription the current ACL no longer grants, or
         * its Message Expiry Interval ran out meanwhile [MQTT-3.3.2-5] */
        if (!session_wants(s, q->topic, q->topic_len) || (q->expiry_ms && now >= q->expiry_ms)) {
            sstore_t *mst = mirror(b, s);
            if (mst)
                sstore_queue_ack(mst, s->id, s->id_len, q->entry_id, session_store_done, b);
            continue;
        }
        msg_ext_t x = {q->props, q->props_len, q->expiry_ms};
        msg_t *m = msg_new_ext(q->topic, q->topic_len, q->payload, q->payload_len, q->qos,
                               q->retain, q->entry_id, &x);
        if (!m)
            return -ENOMEM;
        char *k = s->seen ? strdup(q->entry_id) : NULL;
        if (k && map_put(s->seen, k, strlen(k), k, NULL) < 0)
            free(k);
        if (q->qos)
            enqueue(b, s, m, q->qos, session_queued_retain(s, q->topic, q->topic_len, q->retain),
                    was_sent(st, q->entry_id), false, NULL); /* counts what it drops */
        msg_unref(&m);
    }
    /* pids must not collide with the restored PUBREL ones; after 65535
     * comes 1, never 0 [MQTT-2.3.1-1] */
    for (uint16_t i = 0; i < s->ninflight; i++)
        if (s->inflight[i].pid >= s->next_pid)
            s->next_pid = s->inflight[i].pid == UINT16_MAX ? 1 : (uint16_t)(s->inflight[i].pid + 1);
    return rc;
}

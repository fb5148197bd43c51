#include "adopt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster.h"
#include "dispatch.h"
#include "session.h"
#include "store/sstore.h"
#include "conn5.h"
#include "will.h"
#include "mqtt/reason.h"

#define CATCHUP1_MS 300
#define CATCHUP2_MS 1500
/* How long a catch-up read keeps entry-id tracking on after its reply: the
 * bus copy of an entry it just delivered may still be on its way (the
 * publishing broker forwards once its Redis write is acknowledged). */
#define CATCHUP_GRACE_MS 2000

struct adopt {
    broker_t *b;
    conn_t *conn;             /* NULL once the connection went away */
    char *cid;
    size_t len;
    bool clean;
    bool registered;          /* in b->adopting under cid */
    bool waiting_release;     /* waiting for a peer's answer to our kick */
    bool in_store_call;       /* a store callback will run (and frees us if cancelled) */
    uint64_t deadline;
    char holder[128];         /* the peer asked to release, while waiting_release */
    acl_matcher_t *acl;
    const adopt_hooks_t *hooks;
};

static void unregister(struct adopt *a)
{
    if (a->registered && map_get(&a->b->adopting, a->cid, a->len) == a)
        map_del(&a->b->adopting, a->cid, a->len);
    a->registered = false;
    a->waiting_release = false;
}

static void adopt_free(struct adopt *a)
{
    unregister(a);
    acl_destroy(&a->acl);
    free(a->cid);
    free(a);
}

/* Refuses the CONNECT. Frees the adoption unless a store callback is still
 * to come (it frees it then). */
static void fail(struct adopt *a, int rc)
{
    conn_t *c = a->conn;
    a->conn = NULL;
    unregister(a);
    if (c) {
        c->adopt = NULL;
        dispatch_fail(c, rc, MQTT_CONNECT);
    }
    if (!a->in_store_call)
        adopt_free(a);
}

/* A catch-up read for a resumed session: queued entries it has not seen. */
typedef struct catchup {
    broker_t *b;
    uint64_t serial;
    bool grace;               /* the read is done: this timer ends its hold on tracking */
    uint64_t timer;
    struct catchup *prev, *next; /* b->catchups while the timer is pending */
} catchup_t;

static void catchup_unlink(catchup_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        k->b->catchups = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
}

void adopt_fini(broker_t *b)
{
    while (b->catchups) {
        catchup_t *k = b->catchups;
        catchup_unlink(k);
        loop_del_timer(b->loop, k->timer);
        free(k);
    }
}

static void arm(catchup_t *k, uint64_t ms);

/* Ends one catch-up's hold on the session's entry-id tracking. */
static void release(catchup_t *k)
{
    conn_t *c = conn_by_serial(k->b, k->serial);
    session_t *s = c ? c->sess : NULL;
    if (s && s->catchups && --s->catchups == 0)
        session_track_seen(s, false);
    free(k);
}

static void on_catchup(int rc, const sstore_session_t *st, void *arg)
{
    catchup_t *k = arg;
    conn_t *c = conn_by_serial(k->b, k->serial);
    session_t *s = c ? c->sess : NULL;
    if (s && rc == 0) {
        for (size_t i = 0; i < st->n_msgs; i++) {
            const sstore_msg_t *q = &st->msgs[i];
            msg_ext_t x = {q->props, q->props_len, q->expiry_ms};
            msg_t *m = msg_new_ext(q->topic, q->topic_len, q->payload, q->payload_len, q->qos,
                                   q->retain, q->entry_id, &x);
            if (m && q->qos && session_wants(s, q->topic, q->topic_len) &&
                !session_holds(s, q->entry_id))
                session_deliver(k->b, s, m, q->qos, /* skips seen ids */
                                session_queued_retain(s, q->topic, q->topic_len, q->retain));
            msg_unref(&m);
        }
    }
    if (!s || !k->b->cluster) {
        free(k); /* the session (and its tracking) is gone */
        return;
    }
    k->grace = true;
    arm(k, CATCHUP_GRACE_MS);
}

static uint64_t catchup_timer(loop_t *l, void *arg)
{
    catchup_t *k = arg;
    catchup_unlink(k);
    conn_t *c = conn_by_serial(k->b, k->serial);
    if (k->grace || !c || !c->sess || !k->b->cluster ||
        sstore_session_load(cluster_store(k->b->cluster), c->sess->id, c->sess->id_len,
                            on_catchup, k) < 0)
        release(k);
    return 0;
}

/* Puts k on the broker's list with a timer (freed at shutdown if pending). */
static void arm(catchup_t *k, uint64_t ms)
{
    broker_t *b = k->b;
    k->prev = NULL;
    k->next = b->catchups;
    k->timer = loop_add_timer(b->loop, ms, catchup_timer, k);
    if (!k->timer) {
        release(k);
        return;
    }
    if (b->catchups)
        b->catchups->prev = k;
    b->catchups = k;
}

/* A catch-up read of the session's Redis queue in ms; tracking (which the
 * caller turned on) stays on until every scheduled read and its grace ended. */
static void schedule_catchup(broker_t *b, conn_t *c, uint64_t ms)
{
    catchup_t *k = malloc(sizeof(*k));
    if (!k)
        return;
    *k = (catchup_t){b, conn_handle(c), false, 0, NULL, NULL};
    c->sess->catchups++;
    arm(k, ms);
}

static void on_done_quiet(int rc, void *arg) {}

static void finish(struct adopt *a, const sstore_session_t *st)
{
    conn_t *c = a->conn;
    broker_t *b = a->b;
    c->adopt = NULL;
    unregister(a);
    int rc = a->hooks->finish(c, a->cid, a->len, a->clean, &a->acl, st);
    if (rc < 0) {
        dispatch_fail(c, rc, MQTT_CONNECT);
        adopt_free(a);
        return;
    }
    sstore_t *store = cluster_store(b->cluster);
    /* catch-up reads only deliver what this session has not seen: track
     * every entry id delivered from now until the last one */
    if (!a->clean || !c->sess->clean) {
        /* resumed, or persistent (3.1.1 clean session 0, 5.0 Session Expiry
         * above 0, also with Clean Start 1): its sess key says it exists */
        sstore_session_touch(store, a->cid, a->len, b->id, conn_store_id(c), on_done_quiet, NULL);
        /* in use: no TTLs; looked at later in case this broker dies */
        sstore_session_expire(store, a->cid, a->len, true, session_expiry_ms(c->sess),
                              on_done_quiet, NULL);
    }
    if (!a->clean && session_track_seen(c->sess, true) == 0) {
        schedule_catchup(b, c, CATCHUP1_MS);
        schedule_catchup(b, c, CATCHUP2_MS);
    }
    adopt_free(a);
    conn_resume(c);
}

static void on_loaded(int rc, const sstore_session_t *st, void *arg)
{
    struct adopt *a = arg;
    a->in_store_call = false;
    if (!a->conn) {
        adopt_free(a);
        return;
    }
    if (rc) {
        fail(a, ROOST_ESTORE_UNAVAILABLE);
        return;
    }
    finish(a, st);
}

static void on_cleared(int rc, void *arg)
{
    on_loaded(rc, NULL, arg);
}

static void load(struct adopt *a)
{
    sstore_t *st = cluster_store(a->b->cluster);
    int rc = a->clean ? sstore_session_clear(st, a->cid, a->len, on_cleared, a)
                      : sstore_session_load(st, a->cid, a->len, on_loaded, a);
    if (rc < 0) {
        fail(a, ROOST_ESTORE_UNAVAILABLE);
        return;
    }
    a->in_store_call = true;
}

static void on_lease(int rc, const char *previous, bool alive, void *arg)
{
    struct adopt *a = arg;
    broker_t *b = a->b;
    a->in_store_call = false;
    if (!a->conn) {
        adopt_free(a);
        return;
    }
    if (rc) {
        if (rc == ROOST_EAUTH_NOT_AUTHORIZED)
            a->hooks->foreign(a->conn, a->cid, a->len);
        fail(a, rc == ROOST_EAUTH_NOT_AUTHORIZED ? rc : ROOST_ESTORE_UNAVAILABLE);
        return;
    }
    if (previous[0] && strcmp(previous, b->id) != 0 && alive &&
        !cluster_peer_gone(b->cluster, previous)) {
        /* a live peer holds the client: ask it to close, wait for its word */
        a->waiting_release = true;
        snprintf(a->holder, sizeof(a->holder), "%s", previous);
        a->deadline = loop_now(b->loop) + ADOPT_RELEASE_WAIT_MS;
        cluster_kick(b->cluster, previous, a->cid, a->len);
        char qid[LOG_QUOTE_CAP];
        log_info("takeover_requested", "client_id=%s holder=%s",
                 log_quote(qid, sizeof(qid), a->cid, a->len), previous);
        return;
    }
    load(a);
}

int adopt_start(conn_t *c, const char *cid, size_t len, bool clean, acl_matcher_t **acl,
                const adopt_hooks_t *hooks)
{
    broker_t *b = c->b;
    /* its messages would be routed without the persistent sessions they
     * match (nothing queued for them): cluster_ready */
    if (!cluster_ready(b->cluster))
        return ROOST_ENOT_READY;
    struct adopt *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cid = malloc(len + 1);
    if (!a->cid) {
        free(a);
        return -ENOMEM;
    }
    memcpy(a->cid, cid, len);
    a->cid[len] = '\0';
    a->len = len;
    a->b = b;
    a->conn = c;
    a->clean = clean;
    a->hooks = hooks;
    if (acl) {
        a->acl = *acl;
        *acl = NULL;
    }
    /* an older CONNECT for this id still being adopted here: the newer wins */
    struct adopt *older = map_get(&b->adopting, cid, len);
    if (older)
        fail(older, ROOST_ESUPERSEDED);
    if (sstore_lease_take(cluster_store(b->cluster), cid, len, b->id, conn_store_id(c),
                          b->cfg->session_owner_only, on_lease, a) < 0 ||
        map_put(&b->adopting, a->cid, a->len, a, NULL) < 0) {
        adopt_free(a);
        return ROOST_ESTORE_UNAVAILABLE;
    }
    a->registered = true;
    a->in_store_call = true;
    c->adopt = a;
    c->state = CONN_AUTHING;
    conn_pause(c);
    return 0;
}

void adopt_cancel(conn_t *c)
{
    struct adopt *a = c->adopt;
    c->adopt = NULL;
    if (!a)
        return;
    a->conn = NULL;
    unregister(a);
    if (!a->in_store_call)
        adopt_free(a);
    /* else the pending store callback frees it */
}

static void proceed(broker_t *b, struct adopt *a)
{
    a->waiting_release = false;
    load(a);
}

void adopt_on_peer_joined(broker_t *b)
{
    size_t it = 0, n = 0;
    map_entry_t *e;
    while (map_next(&b->sessions, &it, &e)) {
        session_t *s = e->value;
        if (s->clean || !s->conn || s->nsubs == 0 || session_track_seen(s, true) < 0)
            continue;
        schedule_catchup(b, s->conn, CATCHUP1_MS);
        n++;
    }
    if (n)
        log_info("peer_catchup", "sessions=%zu delay_ms=%d", n, CATCHUP1_MS);
}

void adopt_on_released(broker_t *b, const char *cid, size_t len, const char *from)
{
    struct adopt *a = map_get(&b->adopting, cid, len);
    if (a && a->waiting_release)
        proceed(b, a);
}

/* Goes on with every adoption waiting for a release that holder (any
 * holder when NULL) will not send: past its deadline, or the holder gone.
 * Collected first: going on may refuse one, which edits the map. */
static void proceed_waiting(broker_t *b, const char *holder, uint64_t now)
{
    size_t n = 0, it = 0, cap = b->adopting.count;
    map_entry_t *e;
    struct adopt **late = cap ? malloc(cap * sizeof(*late)) : NULL;
    if (!late)
        return; /* (out of memory: the next sweep tries again) */
    while (n < cap && map_next(&b->adopting, &it, &e)) {
        struct adopt *a = e->value;
        if (a->waiting_release && (holder ? strcmp(a->holder, holder) == 0 : a->deadline <= now))
            late[n++] = a;
    }
    if (n && holder)
        log_info("takeover_holder_gone", "holder=%s waiting=%zu", holder, n);
    else if (n) {
        char qid[LOG_QUOTE_CAP];
        log_warn("takeover_unanswered", "waiting=%zu wait_ms=%d client_id=%s", n, ADOPT_RELEASE_WAIT_MS,
                 log_quote(qid, sizeof(qid), late[0]->cid, late[0]->len));
    }
    for (size_t i = 0; i < n; i++)
        proceed(b, late[i]);
    free(late);
}

void adopt_sweep(broker_t *b)
{
    proceed_waiting(b, NULL, loop_now(b->loop));
}

void adopt_on_peer_gone(broker_t *b, const char *id)
{
    proceed_waiting(b, id, 0);
}

/* The peer's answer goes out once every Redis write for the closed
 * session (issued before this point) has completed. */
typedef struct release_ack {
    broker_t *b;
    char *cid;
    size_t len;
    char from[128];
} release_ack_t;

static void on_release_barrier(int rc, void *arg)
{
    release_ack_t *r = arg;
    if (r->b->cluster)
        cluster_released(r->b->cluster, r->from, r->cid, r->len);
    free(r->cid);
    free(r);
}

void adopt_on_kick(broker_t *b, const char *cid, size_t len, const char *from)
{
    /* a CONNECT for this id still being adopted here lost the race */
    struct adopt *a = map_get(&b->adopting, cid, len);
    char qid[LOG_QUOTE_CAP];
    if (a) {
        log_info("takeover_by_peer", "client_id=%s peer=%s stage=connecting",
                 log_quote(qid, sizeof(qid), cid, len), from);
        fail(a, ROOST_ESUPERSEDED);
    }
    will_cancel(b, cid, len); /* back on another broker within the Will Delay [MQTT-3.1.3-9] */
    session_t *s = map_get(&b->sessions, cid, len);
    if (s && s->conn) {
        log_info("takeover_by_peer", "client_id=%s peer=%s", log_quote(qid, sizeof(qid), cid, len), from);
        /* [MQTT-3.1.4-3]: 0x8E, also when the new CONNECT reached a peer */
        conn_disconnect(s->conn, MQTT_RC_SESSION_TAKEN_OVER, "session taken over", "takeover");
    }
    release_ack_t *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->b = b;
    r->cid = malloc(len + 1);
    if (!r->cid) {
        free(r);
        return;
    }
    memcpy(r->cid, cid, len);
    r->cid[len] = '\0';
    r->len = len;
    snprintf(r->from, sizeof(r->from), "%s", from);
    if (sstore_barrier(cluster_store(b->cluster), on_release_barrier, r) < 0)
        on_release_barrier(0, r);
}

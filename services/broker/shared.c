#include "shared.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cluster.h"
#include "conn.h"
#include "mqtt/share.h"
#include "mqtt/topic.h"
#include "session.h"
#include "shgroup.h"

#define ANNOUNCE_MS 1000    /* the whole membership, to every broker, at least this often */
#define FRAME_MAX 65536     /* a frame to one broker is sent once it holds this much */
/* A message in custody that its peer has neither acknowledged nor given
 * back for this long is sent again (chosen anew): its frame may have been
 * dropped (ZeroMQ's high-water mark towards a stalled peer). QoS 1 may
 * then deliver it twice. */
#define CUSTODY_RESEND_MS 30000

static void dispatch(shared_t *sh, shgroup_t *g, msg_t *m, shcust_t *c, uint64_t tried);

/* Custody records past CUSTODY_RESEND_MS, given again. */
static void resend_stale(shared_t *sh)
{
    uint64_t now = loop_now(sh->b->loop);
    size_t n = 0, k = 0, it = 0;
    map_entry_t *e;
    while (map_next(&sh->custody, &it, &e))
        n += now - ((shcust_t *)e->value)->sent_ms >= CUSTODY_RESEND_MS;
    shcust_t **v = n ? malloc(n * sizeof(*v)) : NULL;
    for (it = 0; v && map_next(&sh->custody, &it, &e);)
        if (now - ((shcust_t *)e->value)->sent_ms >= CUSTODY_RESEND_MS)
            v[k++] = e->value;
    for (size_t i = 0; i < k; i++) {
        sh->redispatched++;
        dispatch(sh, v[i]->g, v[i]->m, v[i], v[i]->tried);
    }
    if (k)
        log_warn("shared_custody_resent", "messages=%zu detail=\"no answer from the peer for %d s\"", k,
                 CUSTODY_RESEND_MS / 1000);
    free(v);
}

static void announce(shared_t *sh);

static uint64_t on_timer(loop_t *l, void *arg)
{
    shared_t *sh = arg;
    if (sh->b->cluster)
        sh->dirty = true; /* a peer that joined since hears it */
    if (sh->custody.count)
        resend_stale(sh);
    if (sh->sweep)
        sh->sweep = shgroup_sweep(sh, false) > 0;
    return ANNOUNCE_MS;
}

shared_t *shared_new(broker_t *b)
{
    shared_t *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return NULL;
    sh->b = b;
    map_init(&sh->groups);
    map_init(&sh->holds);
    map_init(&sh->custody);
    snprintf(sh->ids[0], sizeof(sh->ids[0]), "%s", b->id);
    sh->nids = 1;
    if (!(sh->trie = subtrie_new())) {
        free(sh);
        return NULL;
    }
    if (b->loop)
        sh->timer = loop_add_timer(b->loop, ANNOUNCE_MS, on_timer, sh);
    return sh;
}

/* b->shared_holds follows sh->holds (read inline on every PUBACK). */
static void holds_counted(shared_t *sh) { sh->b->shared_holds = (uint32_t)sh->holds.count; }

/* Frees c; its group too when nothing else keeps it. */
static void cust_free(shared_t *sh, shcust_t *c)
{
    map_del(&sh->custody, (const char *)&c->seq, sizeof(c->seq));
    msg_unref(&c->m);
    shgroup_unref(sh, c->g);
    free(c);
}

/* Frees h; its group too when nothing else keeps it. */
static void hold_free(shared_t *sh, shhold_t *h)
{
    map_del(&sh->holds, (const char *)&h->m, sizeof(h->m));
    holds_counted(sh);
    msg_unref(&h->m);
    shgroup_unref(sh, h->g);
    free(h);
}

/* Empties a map of shcust_t or shhold_t (the map changes: restart). */
static void drain(shared_t *sh, map_t *m, bool custody)
{
    map_entry_t *e;
    for (size_t it = 0; map_next(m, &it, &e); it = 0) {
        if (custody)
            cust_free(sh, e->value);
        else
            hold_free(sh, e->value);
    }
    map_fini(m);
}

void shared_destroy(shared_t **shp)
{
    shared_t *sh = *shp;
    if (!sh)
        return;
    *shp = NULL;
    if (sh->timer && sh->b->loop)
        loop_del_timer(sh->b->loop, sh->timer);
    drain(sh, &sh->custody, true);
    drain(sh, &sh->holds, false);
    shgroup_free_all(sh);
    subtrie_destroy(&sh->trie);
    for (int i = 0; i < SHPICK_MAX; i++)
        free(sh->out[i].p);
    free(sh->hit);
    free(sh);
}

void shared_stop(shared_t *sh)
{
    if (sh)
        sh->stopping = true;
}

/* ---- groups and members -------------------------------------------------- */

static int member_idx(const shgroup_t *g, const session_t *s)
{
    for (uint32_t i = 0; i < g->n; i++)
        if (g->m[i].s == s)
            return (int)i;
    return -1;
}

int shared_join(shared_t *sh, session_t *s, const char *f, size_t len, uint8_t opts)
{
    share_filter_t sf;
    if (share_parse(f, len, &sf) != 1)
        return ROOST_EPROTO_TOPIC;
    shgroup_t *g = shgroup_get(sh, sf.name, sf.name_len, sf.filter, sf.filter_len, true);
    if (!g)
        return -ENOMEM;
    int i = member_idx(g, s);
    if (i >= 0) {
        g->m[i].opts = opts; /* [MQTT-3.8.4-3]: replaces the options */
        return 0;
    }
    if (g->n == g->cap) {
        uint32_t n = g->cap ? g->cap * 2 : 4;
        shmember_t *p = realloc(g->m, n * sizeof(*p));
        if (!p) {
            shgroup_release(sh, g); /* it may have just been made for s */
            return -ENOMEM;
        }
        g->m = p;
        g->cap = n;
    }
    g->m[g->n++] = (shmember_t){s, opts, 0};
    sh->dirty = true;
    return 0;
}

void shared_leave(shared_t *sh, session_t *s, const char *f, size_t len)
{
    share_filter_t sf;
    if (share_parse(f, len, &sf) != 1)
        return;
    shgroup_t *g = shgroup_get(sh, sf.name, sf.name_len, sf.filter, sf.filter_len, false);
    int i = g ? member_idx(g, s) : -1;
    if (i < 0)
        return;
    /* keep the order (the round-robin goes on where it was) */
    memmove(&g->m[i], &g->m[i + 1], (g->n - (uint32_t)i - 1) * sizeof(g->m[0]));
    g->n--;
    if (g->cursor > (uint32_t)i)
        g->cursor--;
    if (g->cursor >= g->n)
        g->cursor = 0;
    sh->dirty = true;
    shgroup_release(sh, g); /* its last member here left */
}

static uint16_t online_here(const shgroup_t *g)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n; i++)
        n += g->m[i].s->conn != NULL;
    return (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
}

/* ---- frames to peers ------------------------------------------------------- */

static int slot_of(shared_t *sh, const char *id, bool add)
{
    for (int i = 1; i < sh->nids; i++)
        if (strcmp(sh->ids[i], id) == 0)
            return i;
    if (!add || sh->nids == SHPICK_MAX || strlen(id) >= sizeof(sh->ids[0]) ||
        strcmp(id, sh->ids[0]) == 0)
        return -1;
    snprintf(sh->ids[sh->nids], sizeof(sh->ids[0]), "%s", id);
    return sh->nids++;
}

static void send_slot(shared_t *sh, int slot)
{
    shframe_buf_t *o = &sh->out[slot];
    if (o->records && sh->b->cluster) {
        cluster_send_frame(sh->b->cluster, o->p, o->len); /* takes the buffer */
        *o = (shframe_buf_t){0};
    }
    o->len = o->records = 0;
}

/* The frame being built for slot (0: every broker), started if need be. */
static shframe_buf_t *out_for(shared_t *sh, int slot)
{
    shframe_buf_t *o = &sh->out[slot];
    if (o->len > FRAME_MAX)
        send_slot(sh, slot);
    if (o->len == 0 && shframe_begin(o, slot ? sh->ids[slot] : "", sh->ids[0]) < 0)
        return NULL;
    return o;
}

static void send_ack(shared_t *sh, int slot, char type, uint64_t seq, uint8_t flags)
{
    shframe_buf_t *o = out_for(sh, slot);
    if (!o || shframe_ack(o, type, seq, flags) < 0)
        log_warn("shared_ack_lost", "peer=%s detail=\"out of memory\"", sh->ids[slot]);
}

static void announce(shared_t *sh)
{
    sh->dirty = false;
    shframe_buf_t *o = out_for(sh, 0);
    if (!o || shframe_reset(o) < 0)
        return;
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&sh->groups, &it, &e)) {
        shgroup_t *g = e->value;
        uint16_t n = online_here(g);
        if (n && shframe_weight(o, g->key, g->key_len, n) < 0)
            sh->dirty = true; /* try again at the next flush */
    }
}

void shared_flush(shared_t *sh)
{
    if (!sh->b->cluster)
        return;
    if (sh->dirty)
        announce(sh);
    for (int i = 0; i < sh->nids; i++)
        send_slot(sh, i);
}

/* ---- delivery here ---------------------------------------------------------- */

typedef struct pick_ctx {
    shared_t *sh;
    shgroup_t *g;
    const msg_t *m;
} pick_ctx_t;

static bool acl_lets(const shmember_t *mb, const msg_t *m)
{
    session_t *s = mb->s;
    return !(mb->opts & SUBOPT_FILTERED) || !s->acl ||
           acl_check_deliver(s->acl, msg_topic(m), m->topic_len);
}

/* Connected, room in its queue, and allowed the topic. */
static bool eligible(const pick_ctx_t *x, const shmember_t *mb)
{
    return mb->s->conn && mb->s->qlen < (uint32_t)x->sh->b->cfg->max_queued && acl_lets(mb, x->m);
}

/* Not slow: its in-flight window has room and nothing waits behind it (at
 * QoS 0: its output is not backed up). A slow member is skipped while
 * another member can take the message at once. */
static bool ready(void *arg, uint32_t i)
{
    pick_ctx_t *x = arg;
    const shmember_t *mb = &x->g->m[i];
    const broker_config_t *cfg = x->sh->b->cfg;
    if (!eligible(x, mb))
        return false;
    if (x->m->qos == 0 || (mb->opts & 3) == 0)
        return conn_pending(mb->s->conn) < (size_t)cfg->max_outbuf / 2;
    return mb->s->qlen == 0 && mb->s->ninflight < cfg->max_inflight;
}

/* When every member is slow: the one with the least unacknowledged (in
 * flight and queued), the first from the round-robin's cursor on a tie. */
static int least_loaded(pick_ctx_t *x)
{
    shgroup_t *g = x->g;
    int best = -1;
    uint32_t load = UINT32_MAX;
    for (uint32_t k = 0; k < g->n; k++) {
        uint32_t i = (g->cursor + k) % g->n;
        const session_t *s = g->m[i].s;
        if (eligible(x, &g->m[i]) && s->ninflight + s->qlen < load) {
            load = s->ninflight + s->qlen;
            best = (int)i;
        }
    }
    if (best >= 0)
        g->cursor = ((uint32_t)best + 1) % g->n;
    return best;
}

/* A member's own copy: its acknowledgement is told apart by the pointer
 * (QoS 1/2 only: a QoS 0 delivery is written out at once, nothing keeps
 * it, so it is given m itself). */
static msg_t *copy_of(const msg_t *m)
{
    msg_t *c = msg_alloc(m->topic_len, m->payload_len, m->props_len, 0, m->qos, false);
    if (c) {
        memcpy(c->data, m->data, (size_t)m->topic_len + m->payload_len + m->props_len);
        c->expiry_ms = m->expiry_ms;
    }
    return c;
}

/* Gives m to one member here. Returns the QoS it was delivered at (0..2),
 * or -1 when no member here can take it. origin/seq: whose custody it is
 * in (0: this broker's). own: m is already a copy nobody else holds (made
 * from a peer's frame for this delivery), so it is not copied again. */
static int deliver_here(shared_t *sh, shgroup_t *g, msg_t *m, int origin, uint64_t seq, bool own)
{
    pick_ctx_t x = {sh, g, m};
    int k = shpick_next(&g->cursor, g->n, ready, &x);
    if (k < 0)
        k = least_loaded(&x);
    if (k < 0)
        return -1;
    shmember_t *mb = &g->m[k];
    uint8_t qos = (mb->opts & 3) < m->qos ? (mb->opts & 3) : m->qos;
    /* the group's Subscription Identifier alone, not those of the member's
     * other matching subscriptions (their copies carry them) [MQTT-3.3.4-5] */
    uint32_t id = mb->s->has_subids ? session_share_subid(mb->s, g->key, g->name_len, g->filter,
                                                          g->filter_len)
                                    : 0;
    pub_ids_t ids = {&id, id != 0, true, false, true};
    if (qos == 0) { /* session_deliver writes it out or drops it; no reference is taken */
        session_deliver_ids(sh->b, mb->s, m, 0, false, &ids);
        mb->deliveries++;
        g->delivered++;
        return 0;
    }
    msg_t *c = own ? msg_ref(m) : copy_of(m);
    if (!c)
        return -1;
    uint32_t refs = c->refs;
    session_deliver_ids(sh->b, mb->s, c, qos, false, &ids);
    bool kept = c->refs > refs; /* in flight or queued */
    shhold_t *h = kept ? malloc(sizeof(*h)) : NULL;
    if (h) {
        *h = (shhold_t){msg_ref(c), g, seq, (uint8_t)origin};
        if (map_put(&sh->holds, (const char *)&h->m, sizeof(h->m), h, NULL) < 0) {
            msg_unref(&h->m);
            free(h);
            h = NULL;
        } else {
            g->refs++;
            holds_counted(sh);
        }
    }
    msg_unref(&c);
    if (!kept)
        return -1;
    if (!h) { /* OOM: delivered, but a disconnect would lose it */
        char qid[LOG_QUOTE_CAP];
        log_warn("shared_untracked", "client_id=%s detail=\"out of memory\"",
                 log_quote(qid, sizeof(qid), mb->s->id, mb->s->id_len));
    }
    mb->deliveries++;
    g->delivered++;
    return qos;
}

/* ---- choosing a member, cluster-wide -------------------------------------- */

static void dropped(shared_t *sh, shgroup_t *g, const msg_t *m)
{
    g->dropped++;
    char qt[LOG_QUOTE_CAP], qg[LOG_QUOTE_CAP];
    log_debug("shared_dropped", "group=%s topic=%s qos=%u reason=no_member",
              log_quote(qg, sizeof(qg), g->key, g->name_len),
              log_quote(qt, sizeof(qt), msg_topic(m), m->topic_len), m->qos);
}

/* Sends m to slot's members: appends a 'D' record. c: its custody (QoS 1/2),
 * or NULL at QoS 0. */
static bool send_peer(shared_t *sh, shgroup_t *g, const msg_t *m, int slot, const shcust_t *c)
{
    shframe_buf_t *o = out_for(sh, slot);
    shframe_msg_t fm = {m->qos, msg_topic(m), m->topic_len, msg_payload(m), m->payload_len,
                        msg_props(m), m->props_len, m->expiry_ms};
    if (!o || shframe_deliver(o, c ? c->seq : 0, g->key, g->key_len, &fm) < 0)
        return false;
    g->sent++;
    return true;
}

/* Gives m to one member of g, anywhere, never to a slot in tried. c: m's
 * custody when it is already in it (a peer gave it back), else NULL (made
 * here when a peer's member is chosen). */
static void dispatch(shared_t *sh, shgroup_t *g, msg_t *m, shcust_t *c, uint64_t tried)
{
    for (;;) {
        g->weight[0] = online_here(g);
        int slot = shpick_weighted(g->cur, g->weight, sh->nids, tried);
        if (slot < 0)
            break;
        if (slot == 0) {
            if (deliver_here(sh, g, m, 0, 0, false) >= 0) {
                if (c)
                    cust_free(sh, c);
                return;
            }
        } else if (m->qos == 0) {
            if (send_peer(sh, g, m, slot, NULL))
                return;
        } else {
            if (!c && (c = calloc(1, sizeof(*c)))) {
                *c = (shcust_t){++sh->seq, msg_ref(m), g, 0, 0, 0};
                if (map_put(&sh->custody, (const char *)&c->seq, sizeof(c->seq), c, NULL) < 0) {
                    msg_unref(&c->m);
                    free(c);
                    c = NULL;
                } else {
                    g->refs++;
                }
            }
            if (c) {
                c->target = (uint8_t)slot;
                c->tried = tried;
                c->sent_ms = sh->b->loop ? loop_now(sh->b->loop) : 0;
                if (send_peer(sh, g, m, slot, c))
                    return;
            }
        }
        tried |= 1ull << slot;
    }
    dropped(sh, g, m);
    if (c)
        cust_free(sh, c);
}

static void collect(void *sub, uint8_t options, void *ctx)
{
    shared_t *sh = ctx;
    if (sh->nhit == sh->caphit) {
        size_t n = sh->caphit ? sh->caphit * 2 : 8;
        shgroup_t **p = realloc(sh->hit, n * sizeof(*p));
        if (!p)
            return;
        sh->hit = p;
        sh->caphit = n;
    }
    sh->hit[sh->nhit++] = sub;
}

void shared_publish(shared_t *sh, msg_t *m)
{
    sh->nhit = 0;
    subtrie_match(sh->trie, msg_topic(m), m->topic_len, collect, sh);
    /* delivering changes no group: the list stays valid */
    size_t n = sh->nhit;
    for (size_t i = 0; i < n; i++)
        dispatch(sh, sh->hit[i], m, NULL, 0);
}

/* ---- acknowledgements and members that go away ----------------------------- */

void shared_acked(shared_t *sh, session_t *s, const msg_t *m)
{
    if (!sh->holds.count)
        return;
    shhold_t *h = map_get(&sh->holds, (const char *)&m, sizeof(m));
    if (!h)
        return;
    if (h->origin)
        send_ack(sh, h->origin, 'A', h->seq, 0);
    hold_free(sh, h);
}

typedef struct taken {
    shhold_t **v;
    size_t n, cap;
    shared_t *sh;
} taken_t;

static bool take_held(void *arg, msg_t *m)
{
    taken_t *t = arg;
    shhold_t *h = map_get(&t->sh->holds, (const char *)&m, sizeof(m));
    if (!h)
        return false;
    if (t->n == t->cap) {
        size_t n = t->cap ? t->cap * 2 : 16;
        shhold_t **p = realloc(t->v, n * sizeof(*p));
        if (!p)
            return false; /* stays with the session */
        t->v = p;
        t->cap = n;
    }
    map_del(&t->sh->holds, (const char *)&h->m, sizeof(h->m));
    holds_counted(t->sh);
    t->v[t->n++] = h;
    return true;
}

void shared_session_gone(shared_t *sh, session_t *s)
{
    if (!sh->holds.count)
        return;
    taken_t t = {NULL, 0, 0, sh};
    session_take(sh->b, s, take_held, &t);
    for (size_t i = 0; i < t.n; i++) {
        shhold_t *h = t.v[i];
        sh->redispatched++;
        if (h->origin && sh->b->cluster && !cluster_peer_gone(sh->b->cluster, sh->ids[h->origin]))
            send_ack(sh, h->origin, 'N', h->seq, 0); /* its publisher chooses again */
        else if (!sh->stopping)
            dispatch(sh, h->g, h->m, NULL, 0);
        msg_unref(&h->m);
        shgroup_unref(sh, h->g);
        free(h);
    }
    free(t.v);
}

/* ---- from peers -------------------------------------------------------------- */

static void on_nack(shared_t *sh, int from, uint64_t seq, uint8_t flags)
{
    shcust_t *c = map_get(&sh->custody, (const char *)&seq, sizeof(seq));
    if (!c || c->target != from)
        return; /* already given elsewhere (the peer was taken for dead) */
    uint64_t tried = c->tried | ((flags & SHFRAME_NACK_NO_MEMBER) ? 1ull << from : 0);
    if (flags & SHFRAME_NACK_NO_MEMBER)
        sh->nacked++;
    else
        sh->redispatched++;
    dispatch(sh, c->g, c->m, c, tried);
}

static void on_ack(shared_t *sh, int from, uint64_t seq)
{
    shcust_t *c = map_get(&sh->custody, (const char *)&seq, sizeof(seq));
    if (c && c->target == from)
        cust_free(sh, c);
}

static void on_deliver(shared_t *sh, int from, const shframe_rec_t *r)
{
    const shframe_msg_t *fm = &r->msg;
    shgroup_t *g = shgroup_of_peer(sh, r->key, r->key_len, false);
    if (fm->qos > 2 || topic_check_name(fm->topic, fm->topic_len) != 0) {
        sh->malformed++;
        return;
    }
    msg_ext_t ext = {fm->props, fm->props_len, fm->expiry_ms};
    msg_t *m = g ? msg_new_ext(fm->topic, fm->topic_len, fm->payload, fm->payload_len, fm->qos,
                               false, NULL, &ext)
                 : NULL;
    int q = m ? deliver_here(sh, g, m, from, r->seq, true) : -1;
    msg_unref(&m);
    if (q < 0 && fm->qos)
        send_ack(sh, from, 'N', r->seq, SHFRAME_NACK_NO_MEMBER);
    else if (q == 0 && fm->qos)
        send_ack(sh, from, 'A', r->seq, 0); /* delivered at the member's QoS 0: done */
}

void shared_on_frame(shared_t *sh, const uint8_t *f, size_t n)
{
    shframe_reader_t r;
    shframe_rec_t rec;
    int rc, from;
    if (shframe_open(&r, f, n) < 0 || (from = slot_of(sh, r.sender, true)) < 0) {
        sh->malformed++;
        return;
    }
    while ((rc = shframe_next(&r, &rec)) > 0) {
        shgroup_t *g;
        switch (rec.type) {
        case 'D':
            on_deliver(sh, from, &rec);
            break;
        case 'A':
            on_ack(sh, from, rec.seq);
            break;
        case 'N':
            on_nack(sh, from, rec.seq, rec.flags);
            break;
        case 'R': /* its 'W' records follow: groups without one are swept */
            shgroup_clear_slot(sh, from);
            sh->sweep = true;
            break;
        case 'W':
            if ((g = shgroup_of_peer(sh, rec.key, rec.key_len, true))) {
                g->weight[from] = rec.members;
                sh->sweep |= rec.members == 0;
            } else {
                sh->malformed++;
            }
            break;
        }
    }
    if (rc < 0) {
        sh->malformed++;
        log_warn("shared_frame_malformed", "peer=%s reason=\"%s\" record=%zu", sh->ids[from],
                 r.error, r.index);
    }
}

void shared_peer_gone(shared_t *sh, const char *id)
{
    int slot = slot_of(sh, id, false);
    if (slot < 0)
        return;
    size_t it = 0;
    map_entry_t *e;
    shgroup_clear_slot(sh, slot);
    /* what was on its way to it is not sent; what it holds is given again */
    free(sh->out[slot].p);
    sh->out[slot] = (shframe_buf_t){0};
    size_t n = 0, k = 0;
    for (it = 0; map_next(&sh->custody, &it, &e);)
        n += ((shcust_t *)e->value)->target == slot;
    shcust_t **v = n ? malloc(n * sizeof(*v)) : NULL;
    for (it = 0; v && map_next(&sh->custody, &it, &e);)
        if (((shcust_t *)e->value)->target == slot)
            v[k++] = e->value;
    for (size_t i = 0; i < k; i++) {
        sh->redispatched++;
        dispatch(sh, v[i]->g, v[i]->m, v[i], v[i]->tried | 1ull << slot);
    }
    free(v);
    /* messages it published that members here hold are ours now */
    for (it = 0; map_next(&sh->holds, &it, &e);) {
        shhold_t *h = e->value;
        if (h->origin == slot)
            h->origin = 0;
    }
    shgroup_sweep(sh, true); /* the groups only its members kept */
    if (k)
        log_info("shared_peer_gone", "peer=%s redispatched=%zu", id, k);
}

#include "cluster.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "base/log.h"
#include "rpc/curve.h"
#include "mqtt/subtrie.h"
#include "mqtt/topic.h"
#include "route.h"

#define HEARTBEAT_MS 1000
#define ALIVE_TTL_MS 3000
#define PSUB_CHECK_MS 1000 /* one GET per second: the index follows Redis within it */
#define MAX_PEERS 256
#define BATCH_BYTES 65536 /* a batch frame is sent once it holds this much */
#define HOLD_TURNS 8      /* busy loop turns a batch may wait to grow */
/* Frames queued per peer (XPUB) and from peers (SUB) before ZeroMQ drops
 * (XPUB) or stops reading (SUB): seconds of traffic at any rate, since
 * frames grow with the load (a message each when idle, up to BATCH_BYTES
 * busy), and at most 1 GiB per stalled peer. */
#define BUS_HWM 16384
#define SUB_TURN 2 /* bus frames read per loop turn */
#define BATCH_MAX 32      /* labels in progress in one turn; more sends all first */
#define ENTRY_FIXED (1 + 1 + 2 + 4)

enum { CTL_KICK = 1, CTL_RELEASED = 2, CTL_PSUB_ADD = 3, CTL_PSUB_DEL = 4 };

/* One persistent session in the cluster-wide index. */
typedef struct pstub {
    char *cid;
    size_t len;
    uint32_t nsubs;
    uint64_t stamp;
    uint32_t idx;
} pstub_t;

typedef struct batch {
    uint8_t *buf;       /* the frame being built */
    size_t len, cap;
    size_t label_len;   /* label = buf[1 .. 1 + label_len) */
    uint32_t count;
} batch_t;

typedef struct peer {
    char id[128];
    char endpoint[256];
    bool seen;
} peer_t;

struct cluster {
    broker_t *b;
    cluster_hooks_t hooks;
    char *redis_host, *prefix, *bus_bind, *advertise;
    char *redis_user, *redis_password;
    char *curve_spec;            /* "" = plain bus */
    uint8_t curve_public[32];    /* the cluster key's public half (ZAP compares) */
    void *zap;                   /* ZAP handler (REP) while the bus uses CURVE */
    int zap_fd;
    int redis_port;
    sstore_t *store;
    void *zctx, *xpub, *sub;
    int xpub_fd, sub_fd;
    char endpoint[256];
    uint64_t started_ms;
    uint64_t eid_seq;
    map_t interest;            /* 'm' prefixes some peer subscribed (from XPUB notices) */
    batch_t batches[BATCH_MAX]; /* frames being built this turn */
    int nbatches;
    int held;                  /* busy turns the pending batches have waited */
    bool sub_more;             /* on_sub stopped with frames left to read */
    char *lt;                  /* last topic peers_label answered for, and its answer */
    size_t lt_len, lt_cap;
    long lt_label;
    bool lt_valid;
    peer_t peers[MAX_PEERS];
    int npeers;
    uint64_t hb_timer;
    uint64_t hb_count;
    /* persistent-subscription index */
    subtrie_t *ptrie;
    map_t pstubs;              /* cid -> pstub_t */
    uint64_t psub_version;
    bool psub_loading;
    uint64_t pstamp;
    const char **m_cids;
    size_t *m_lens;
    uint8_t *m_qos;
    size_t m_n, m_cap;
};

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

cluster_t *cluster_new(broker_t *b, const cluster_config_t *cfg, const cluster_hooks_t *hooks)
{
    cluster_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->b = b;
    c->hooks = *hooks;
    c->redis_host = xstrdup(cfg->redis_host);
    c->redis_user = xstrdup(cfg->redis_user);
    c->curve_spec = xstrdup(cfg->bus_curve_secret);
    c->redis_password = xstrdup(cfg->redis_password);
    c->prefix = xstrdup(cfg->prefix);
    c->bus_bind = xstrdup(cfg->bus_bind);
    c->advertise = xstrdup(cfg->bus_advertise);
    c->redis_port = cfg->redis_port;
    c->xpub_fd = c->sub_fd = c->zap_fd = -1;
    c->ptrie = subtrie_new();
    map_init(&c->pstubs);
    map_init(&c->interest);
    if (!c->redis_host || !c->curve_spec || !c->redis_user || !c->redis_password || !c->prefix || !c->bus_bind || !c->advertise || !c->ptrie) {
        cluster_destroy(&c);
        return NULL;
    }
    return c;
}

sstore_t *cluster_store(cluster_t *c) { return c->store; }
const char *cluster_endpoint(const cluster_t *c) { return c->endpoint; }

void cluster_next_eid(cluster_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%llx:%llu", c->b->id, (unsigned long long)c->started_ms,
             (unsigned long long)++c->eid_seq);
}

/* ---- persistent-subscription index -------------------------------------- */

static pstub_t *pstub_get(cluster_t *c, const char *cid, size_t len, bool create)
{
    pstub_t *p = map_get(&c->pstubs, cid, len);
    if (p || !create)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cid = malloc(len + 1);
    if (!p->cid || map_put(&c->pstubs, p->cid, len, p, NULL) < 0) {
        free(p->cid);
        free(p);
        return NULL;
    }
    memcpy(p->cid, cid, len);
    p->cid[len] = '\0';
    p->len = len;
    return p;
}

static void psub_apply(cluster_t *c, const char *cid, size_t cid_len, const char *filter,
                       size_t flen, uint8_t qos, bool add)
{
    if (topic_check_filter(filter, flen) != 0)
        return;
    pstub_t *p = pstub_get(c, cid, cid_len, add);
    if (!p)
        return;
    if (add) {
        bool existed = false;
        if (subtrie_add(c->ptrie, filter, flen, p, qos, &existed) == 0 && !existed)
            p->nsubs++;
        return;
    }
    if (subtrie_remove(c->ptrie, filter, flen, p) == 0 && --p->nsubs == 0) {
        map_del(&c->pstubs, p->cid, p->len);
        free(p->cid);
        free(p);
    }
}

static void psubs_clear(cluster_t *c)
{
    subtrie_destroy(&c->ptrie);
    c->ptrie = subtrie_new();
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&c->pstubs, &it, &e)) {
        pstub_t *p = e->value;
        free(p->cid);
        free(p);
    }
    map_fini(&c->pstubs);
    map_init(&c->pstubs);
}

static void on_psubs(int rc, const sstore_sub_t *subs, size_t n, uint64_t version, void *arg)
{
    cluster_t *c = arg;
    c->psub_loading = false;
    if (rc)
        return;
    psubs_clear(c);
    if (!c->ptrie)
        return;
    for (size_t i = 0; i < n; i++)
        psub_apply(c, subs[i].cid, subs[i].cid_len, subs[i].filter, subs[i].filter_len,
                   subs[i].qos, true);
    c->psub_version = version;
    log_info("psubs_loaded", "subscriptions=%zu sessions=%zu version=%llu", n, c->pstubs.count,
             (unsigned long long)version);
}

static void reload_psubs(cluster_t *c)
{
    if (!c->psub_loading && sstore_psubs_load(c->store, on_psubs, c) == 0)
        c->psub_loading = true;
}

static void on_psub_version(int rc, uint64_t version, void *arg)
{
    cluster_t *c = arg;
    if (rc == 0 && version != c->psub_version)
        reload_psubs(c);
}

static void pcollect(void *sub, uint8_t options, void *ctx)
{
    cluster_t *c = ctx;
    pstub_t *p = sub;
    uint8_t qos = options & 3;
    if (p->stamp == c->pstamp) {
        if (qos > c->m_qos[p->idx])
            c->m_qos[p->idx] = qos;
        return;
    }
    if (c->m_n == c->m_cap) {
        size_t n = c->m_cap ? c->m_cap * 2 : 32;
        const char **a = realloc(c->m_cids, n * sizeof(*a));
        if (a)
            c->m_cids = a;
        size_t *l = realloc(c->m_lens, n * sizeof(*l));
        if (l)
            c->m_lens = l;
        uint8_t *q = realloc(c->m_qos, n);
        if (q)
            c->m_qos = q;
        if (!a || !l || !q)
            return;
        c->m_cap = n;
    }
    p->stamp = c->pstamp;
    p->idx = (uint32_t)c->m_n;
    c->m_cids[c->m_n] = p->cid;
    c->m_lens[c->m_n] = p->len;
    c->m_qos[c->m_n] = qos;
    c->m_n++;
}

size_t cluster_psub_match(cluster_t *c, const char *topic, size_t len, uint8_t max_qos,
                          const char *const **cids, const size_t **cid_lens, const uint8_t **qos)
{
    c->pstamp++;
    c->m_n = 0;
    if (c->ptrie)
        subtrie_match(c->ptrie, topic, len, pcollect, c);
    /* cap at the published QoS; QoS 0 is never queued for a session */
    size_t kept = 0;
    for (size_t i = 0; i < c->m_n; i++) {
        uint8_t q = c->m_qos[i] < max_qos ? c->m_qos[i] : max_qos;
        if (q == 0)
            continue;
        c->m_cids[kept] = c->m_cids[i];
        c->m_lens[kept] = c->m_lens[i];
        c->m_qos[kept++] = q;
    }
    c->m_n = kept;
    *cids = c->m_cids;
    *cid_lens = c->m_lens;
    *qos = c->m_qos;
    return c->m_n;
}

/* ---- bus ---------------------------------------------------------------- */

/* A data frame is a batch: kind ('m', or 'r' for retained), label, NUL,
 * then entries. The label is a prefix of every entry's topic (topic names
 * hold no U+0000, so the NUL ends it); each entry is flags (QoS in bits
 * 0-1, retain in bit 2), entry id length (u8) and id, the rest of the topic
 * after the label (u16 length, big-endian, and bytes), payload (u32 length
 * and bytes). XPUB filters on the frame's start, so 'm' + a filter's literal
 * prefix selects it.
 *
 * Which label: the longest prefix of the topic that some peer subscribed
 * (from XPUB's notices). Every peer prefix that is a prefix of the topic is
 * a prefix of that one (they are all prefixes of one string), so the frame
 * reaches exactly the peers the topic alone would reach, and messages whose
 * topics share the label travel in one frame: one ZeroMQ message, one
 * wake-up of each I/O thread, for up to BATCH_BYTES of messages. A batch
 * leaves at the end of the first loop turn that finds nothing to do, or
 * after HOLD_TURNS busy ones (batches_flush). A topic maps
 * to one label until the interest set changes, and every pending batch is
 * sent before it does (and before any control or retained frame), so
 * messages on one topic keep their order [MQTT-4.6.0-5]. */

static void zfree(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Hands bt's frame to ZeroMQ (which frees it); bt is spent. */
static void batch_emit(cluster_t *c, batch_t *bt)
{
    if (bt->len < bt->cap / 2) {
        /* a queued frame holds its whole buffer: give back what it left
         * empty, so a stalled peer's queue (BUS_HWM frames) costs what it
         * carries */
        uint8_t *shrunk = realloc(bt->buf, bt->len);
        if (shrunk)
            bt->buf = shrunk;
    }
    zmq_msg_t z;
    if (zmq_msg_init_data(&z, bt->buf, bt->len, zfree, NULL) != 0) {
        free(bt->buf);
    } else if (zmq_msg_send(&z, c->xpub, ZMQ_DONTWAIT) < 0) {
        c->b->stats.bus_dropped += bt->count;
        zmq_msg_close(&z); /* frees the buffer */
    } else {
        c->b->stats.bus_frames_out++;
        c->b->stats.bus_msgs_out += bt->count;
    }
}

static void batches_send(cluster_t *c)
{
    c->held = 0;
    for (int i = 0; i < c->nbatches; i++) /* labels need no order between them */
        batch_emit(c, &c->batches[i]);
    c->nbatches = 0;
}

bool cluster_pending(const cluster_t *c) { return c->nbatches > 0; }

/* At the end of a loop turn. While the loop is busy (its last wait found
 * events) a batch may wait a few turns to grow, the loop polling instead of
 * sleeping; a turn that finds nothing to do sends it. So a lone message
 * leaves after one empty poll, and under load each frame carries the
 * messages of several turns: fewer frames, fewer wake-ups of the ZeroMQ
 * I/O threads on both sides. */
static void batches_flush(cluster_t *c)
{
    if (!c->nbatches)
        return;
    if (loop_last_ready(c->b->loop) > 0 && c->held < HOLD_TURNS) {
        c->held++;
        loop_no_sleep(c->b->loop);
        return;
    }
    batches_send(c);
}

/* The batch for this kind and label, created empty when there is none. */
static batch_t *batch_for(cluster_t *c, char kind, const char *label, size_t llen, size_t need)
{
    for (int i = c->nbatches - 1; i >= 0; i--) {
        batch_t *bt = &c->batches[i];
        if (bt->buf[0] == kind && bt->label_len == llen && memcmp(bt->buf + 1, label, llen) == 0) {
            if (bt->len + need <= bt->cap)
                return bt;
            batch_emit(c, bt); /* full: send it, start the next in its place */
            c->batches[i] = c->batches[--c->nbatches];
            break;
        }
    }
    if (c->nbatches == BATCH_MAX)
        batches_send(c);
    size_t cap = 1 + llen + 1 + need;
    if (cap < BATCH_BYTES)
        cap = BATCH_BYTES;
    batch_t *bt = &c->batches[c->nbatches];
    bt->buf = malloc(cap);
    if (!bt->buf)
        return NULL;
    bt->cap = cap;
    bt->buf[0] = (uint8_t)kind;
    memcpy(bt->buf + 1, label, llen);
    bt->buf[1 + llen] = '\0';
    bt->len = 1 + llen + 1;
    bt->label_len = llen;
    bt->count = 0;
    c->nbatches++;
    return bt;
}

/* Length of the longest prefix of the topic some peer wants, or -1 when no
 * peer wants it. Peers subscribe to literal prefixes that end at a level
 * boundary ("", "a", "a/", "a/b", ..., the whole topic); the answer for the
 * last topic asked is kept until the interest set changes. */
static long peers_label(cluster_t *c, const char *t, size_t len)
{
    if (c->interest.count == 0 || len > UINT16_MAX) /* topic names are at most 65535 bytes */
        return -1;
    if (c->lt_valid && c->lt_len == len && memcmp(c->lt, t, len) == 0)
        return c->lt_label;
    long found = -1;
    for (size_t i = len + 1; i-- > 0;) {
        bool edge = i == 0 || i == len || t[i] == '/' || t[i - 1] == '/';
        if (edge && map_get(&c->interest, t, i)) {
            found = (long)i;
            break;
        }
    }
    if (c->lt_cap < len) {
        char *n = realloc(c->lt, len);
        if (!n)
            return found;
        c->lt = n;
        c->lt_cap = len;
    }
    if (len)
        memcpy(c->lt, t, len);
    c->lt_len = len;
    c->lt_label = found;
    c->lt_valid = true;
    return found;
}

void cluster_forward_raw(cluster_t *c, const char *t, size_t tlen, const uint8_t *payload,
                         size_t plen, uint8_t qos, bool retain, const char *eid, size_t elen)
{
    if (!c->xpub || tlen > 65535 || plen > UINT32_MAX || elen > 255)
        return;
    long label;
    if (retain) {
        batches_send(c); /* retained ones go to every broker ('r'), in order */
        label = (long)tlen;
    } else if ((label = peers_label(c, t, tlen)) < 0) {
        return;
    }
    size_t rest = tlen - (size_t)label;
    size_t need = ENTRY_FIXED + elen + rest + plen;
    batch_t *bt = batch_for(c, retain ? 'r' : 'm', t, (size_t)label, need);
    if (!bt) {
        c->b->stats.bus_dropped++;
        return;
    }
    uint8_t *p = bt->buf + bt->len;
    *p++ = (uint8_t)(qos | (retain ? 4 : 0));
    *p++ = (uint8_t)elen;
    if (elen)
        memcpy(p, eid, elen);
    p += elen;
    *p++ = (uint8_t)(rest >> 8);
    *p++ = (uint8_t)rest;
    memcpy(p, t + label, rest);
    p += rest;
    *p++ = (uint8_t)(plen >> 24);
    *p++ = (uint8_t)(plen >> 16);
    *p++ = (uint8_t)(plen >> 8);
    *p++ = (uint8_t)plen;
    if (plen)
        memcpy(p, payload, plen);
    bt->len += need;
    bt->count++;
    if (retain)
        batches_send(c);
}

void cluster_forward(cluster_t *c, const msg_t *m)
{
    cluster_forward_raw(c, msg_topic(m), m->topic_len, msg_payload(m), m->payload_len, m->qos,
                        m->retain, msg_eid(m), m->eid_len);
}

void cluster_interest(cluster_t *c, const char *filter, size_t len, bool add)
{
    if (!c->sub)
        return;
    char buf[1 + 65535];
    size_t n = topic_literal_prefix(filter, len);
    buf[0] = 'm';
    memcpy(buf + 1, filter, n);
    zmq_setsockopt(c->sub, add ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, buf, n + 1);
}

/* Control body: type, target (u8 len), cid (u16 len), filter (u16 len), qos. */
static void send_control(cluster_t *c, uint8_t type, const char *target, const char *cid,
                         size_t cid_len, const char *filter, size_t flen, uint8_t qos)
{
    size_t tlen = strlen(target);
    if (tlen > 255 || cid_len > 65535 || flen > 65535)
        return;
    size_t n = 1 + 1 + tlen + 2 + cid_len + 2 + flen + 1;
    uint8_t *body = malloc(n), *p = body;
    if (!body)
        return;
    *p++ = type;
    *p++ = (uint8_t)tlen;
    memcpy(p, target, tlen);
    p += tlen;
    *p++ = (uint8_t)(cid_len >> 8);
    *p++ = (uint8_t)cid_len;
    memcpy(p, cid, cid_len);
    p += cid_len;
    *p++ = (uint8_t)(flen >> 8);
    *p++ = (uint8_t)flen;
    memcpy(p, filter, flen);
    p += flen;
    *p++ = qos;
    /* three frames: 'c' (every broker subscribes it), the body, the sender
     * id; after every batched message, so peers see them in order */
    batches_send(c);
    if (c->xpub && zmq_send(c->xpub, "c", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 1) {
        zmq_send(c->xpub, body, n, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(c->xpub, c->b->id, strlen(c->b->id), ZMQ_DONTWAIT);
    }
    free(body);
}

void cluster_kick(cluster_t *c, const char *target, const char *cid, size_t len)
{
    send_control(c, CTL_KICK, target, cid, len, "", 0, 0);
}

void cluster_released(cluster_t *c, const char *target, const char *cid, size_t len)
{
    send_control(c, CTL_RELEASED, target, cid, len, "", 0, 0);
}

void cluster_psub(cluster_t *c, const char *cid, size_t cid_len, const char *filter,
                  size_t filter_len, uint8_t qos, bool add)
{
    psub_apply(c, cid, cid_len, filter, filter_len, qos, add);
    send_control(c, add ? CTL_PSUB_ADD : CTL_PSUB_DEL, "", cid, cid_len, filter, filter_len, qos);
}

static void on_control(cluster_t *c, const uint8_t *p, size_t n, const char *from)
{
    const uint8_t *end = p + n;
    if (n < 1 + 1)
        return;
    uint8_t type = *p++;
    size_t tlen = *p++;
    if ((size_t)(end - p) < tlen + 2)
        return;
    const char *target = (const char *)p;
    p += tlen;
    size_t cid_len = ((size_t)p[0] << 8) | p[1];
    p += 2;
    if ((size_t)(end - p) < cid_len + 2)
        return;
    const char *cid = (const char *)p;
    p += cid_len;
    size_t flen = ((size_t)p[0] << 8) | p[1];
    p += 2;
    if ((size_t)(end - p) < flen + 1)
        return;
    const char *filter = (const char *)p;
    uint8_t qos = p[flen];
    bool for_me = tlen == strlen(c->b->id) && memcmp(target, c->b->id, tlen) == 0;
    switch (type) {
    case CTL_KICK:
        if (for_me)
            c->hooks.kick(c->b, cid, cid_len, from);
        break;
    case CTL_RELEASED:
        if (for_me)
            c->hooks.released(c->b, cid, cid_len, from);
        break;
    case CTL_PSUB_ADD:
    case CTL_PSUB_DEL:
        psub_apply(c, cid, cid_len, filter, flen, qos & 3, type == CTL_PSUB_ADD);
        break;
    default:
        break;
    }
}

static void bus_malformed(cluster_t *c, const char *why, size_t entry, bool rest_too)
{
    c->b->stats.bus_malformed++;
    log_warn("bus_frame_malformed", "reason=\"%s\" entry=%zu dropped=%s", why, entry,
             rest_too ? "rest_of_frame" : "entry");
}

/* A data frame (see "bus" above). An entry that cannot be parsed drops the
 * rest of the frame, one whose topic is not a valid name drops itself;
 * either is counted and logged, and what came before is delivered. */
static void on_data(cluster_t *c, const uint8_t *f, size_t n)
{
    const uint8_t *end = f + n;
    const uint8_t *label = f + 1;
    const uint8_t *nul = memchr(label, '\0', n - 1);
    if (!nul) {
        bus_malformed(c, "no label end", 0, true);
        return;
    }
    size_t llen = (size_t)(nul - label);
    c->b->stats.bus_frames_in++;
    bool retained_frame = f[0] == 'r';
    const uint8_t *p = nul + 1;
    size_t idx = 0;
    const uint8_t *prev = NULL; /* the last delivered entry's topic rest */
    size_t prev_len = 0;
    for (; p < end; idx++) {
        if ((size_t)(end - p) < ENTRY_FIXED) {
            bus_malformed(c, "short entry", idx, true);
            return;
        }
        uint8_t flags = p[0], elen = p[1];
        const uint8_t *eid = p + 2;
        if ((flags & 3) > 2 || flags > 7 || (size_t)(end - eid) < elen + 2u + 4u) {
            bus_malformed(c, "bad entry header", idx, true);
            return;
        }
        const uint8_t *q = eid + elen;
        size_t rest = ((size_t)q[0] << 8) | q[1];
        const uint8_t *suffix = q + 2;
        if ((size_t)(end - suffix) < rest + 4 || llen + rest > 65535) {
            bus_malformed(c, "bad topic length", idx, true);
            return;
        }
        q = suffix + rest;
        size_t pl = ((size_t)q[0] << 24) | ((size_t)q[1] << 16) | ((size_t)q[2] << 8) | q[3];
        const uint8_t *payload = q + 4;
        if ((size_t)(end - payload) < pl) {
            bus_malformed(c, "bad payload length", idx, true);
            return;
        }
        p = payload + pl;
        bool retain = (flags & 4) != 0;
        if (retain != retained_frame) {
            bus_malformed(c, "retain flag outside an 'r' frame", idx, true);
            return;
        }
        msg_t *m = msg_alloc(llen + rest, pl, elen, flags & 3, retain);
        if (!m) {
            c->b->stats.bus_dropped++;
            continue;
        }
        memcpy(m->data, label, llen);
        memcpy(m->data + llen, suffix, rest);
        memcpy(m->data + llen + rest, payload, pl);
        if (elen)
            memcpy(m->data + llen + rest + pl, eid, elen);
        /* a run of one topic (the usual batch) is checked and routed once */
        bool same = prev && rest == prev_len && memcmp(suffix, prev, rest) == 0;
        if (same || topic_check_name(m->data, m->topic_len) == 0) {
            c->b->stats.bus_msgs_in++;
            c->hooks.deliver(c->b, m, same);
            prev = suffix;
            prev_len = rest;
        } else {
            bus_malformed(c, "invalid topic name", idx, false);
        }
        msg_unref(&m);
    }
}

/* Reads one message from SUB; returns false when none is left. Data
 * messages are one frame; control messages are three ('c', body, sender). */
/* Receives one whole message from sock without waiting: its first cap
 * frames into f (the rest are dropped). Returns how many were kept, or -1
 * when no message is waiting. The caller closes f[0..n). */
static int recv_parts(void *sock, zmq_msg_t *f, int cap)
{
    int n = 0;
    for (bool more = true; more;) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&tmp);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            return -1;
        }
        more = zmq_msg_more(&tmp);
        if (n < cap)
            f[n++] = tmp;
        else
            zmq_msg_close(&tmp);
    }
    return n;
}

static bool recv_one(cluster_t *c)
{
    zmq_msg_t f[3];
    int nf = recv_parts(c->sub, f, 3);
    if (nf < 0)
        return false;
    const uint8_t *f1 = zmq_msg_data(&f[0]);
    size_t l1 = zmq_msg_size(&f[0]);
    if (nf == 1 && l1 >= 2 && (f1[0] == 'm' || f1[0] == 'r')) {
        on_data(c, f1, l1);
    } else if (nf == 3 && l1 == 1 && f1[0] == 'c') {
        char from[256];
        size_t fl = zmq_msg_size(&f[2]) < 255 ? zmq_msg_size(&f[2]) : 255;
        memcpy(from, zmq_msg_data(&f[2]), fl);
        from[fl] = '\0';
        on_control(c, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), from);
    }
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
    return true;
}

static bool readable(void *sock)
{
    int ev = 0;
    size_t sz = sizeof(ev);
    return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

static void on_sub(loop_t *l, int fd, unsigned events, void *arg)
{
    cluster_t *c = arg;
    /* At most SUB_TURN frames, then back to the loop so what they delivered
     * is written out before the next ones are read (a deep backlog read in
     * one go would hold every subscriber's output meanwhile); the loop
     * polls instead of sleeping while some are left. Edge-triggered: when
     * none are left, ask ZMQ_EVENTS once (asking before every message costs
     * a poll and more per message). */
    c->sub_more = false;
    int n = 0;
    do {
        while (recv_one(c)) {
            if (++n == SUB_TURN) {
                c->sub_more = true;
                loop_no_sleep(c->b->loop);
                return;
            }
        }
    } while (readable(c->sub));
}

/* A subscription notice from XPUB: byte 1 (subscribe) or 0 (unsubscribe),
 * then the prefix. XPUB reports a prefix's first subscription and its last
 * unsubscription over all peers, so a set is enough. */
static void on_notice(cluster_t *c, const uint8_t *d, size_t n)
{
    log_debug("bus_interest", "op=%s prefix=%.*s", n && d[0] ? "add" : "remove",
              n > 1 ? (int)(n - 1) : 0, n > 1 ? (const char *)d + 1 : "");
    if (n < 2 || d[1] != 'm')
        return; /* 'c' and 'r' are always wanted */
    batches_send(c); /* labels chosen so far were chosen under the old set */
    c->lt_valid = false;
    const char *prefix = (const char *)d + 2;
    size_t len = n - 2;
    char *have = map_get(&c->interest, prefix, len);
    if (d[0] == 1 && !have) {
        char *k = malloc(len + 1);
        if (!k)
            return;
        memcpy(k, prefix, len); /* the key is hashed by map_put: fill it first */
        k[len] = '\0';
        if (map_put(&c->interest, k, len, k, NULL) < 0)
            free(k);
    } else if (d[0] == 0 && have) {
        map_del(&c->interest, prefix, len);
        free(have);
    }
}

static void on_xpub(loop_t *l, int fd, unsigned events, void *arg)
{
    cluster_t *c = arg;
    do {
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, c->xpub, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            on_notice(c, zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
        }
    } while (readable(c->xpub));
}

/* ---- CurveZMQ on the bus ------------------------------------------------- */

/* Every broker holds the cluster's one key pair: its XPUB is a CURVE server
 * with it, its SUB a CURVE client with it, and this ZAP handler (RFC 27,
 * in the bus's own context) lets a client finish the handshake only when
 * its public key is the cluster's, which CurveZMQ proves it holds the
 * secret of. Anyone else (a plain socket, another key) gets nothing from
 * the bus and puts nothing on it. */
static void zap_answer(cluster_t *c, zmq_msg_t *req, int n)
{
    /* request: version, request id, domain, address, routing id, mechanism,
     * credentials...; reply: version, request id, status, text, user, meta */
    bool ok = n >= 7 && zmq_msg_size(&req[5]) == 5 && !memcmp(zmq_msg_data(&req[5]), "CURVE", 5) &&
              zmq_msg_size(&req[6]) == 32 && !memcmp(zmq_msg_data(&req[6]), c->curve_public, 32);
    if (!ok) {
        size_t al = n >= 4 ? zmq_msg_size(&req[3]) : 0;
        log_warn("bus_peer_refused", "address=%.*s detail=\"not the cluster's CurveZMQ key\"",
                 (int)(al < 64 ? al : 64), n >= 4 ? (const char *)zmq_msg_data(&req[3]) : "");
    }
    const char *status = ok ? "200" : "400", *text = ok ? "OK" : "not a cluster member";
    zmq_send(c->zap, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->zap, n >= 2 ? zmq_msg_data(&req[1]) : "", n >= 2 ? zmq_msg_size(&req[1]) : 0,
             ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->zap, status, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->zap, text, strlen(text), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->zap, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(c->zap, "", 0, ZMQ_DONTWAIT);
}

static void on_zap(loop_t *l, int fd, unsigned events, void *arg)
{
    cluster_t *c = arg;
    do {
        zmq_msg_t f[8];
        int n;
        while ((n = recv_parts(c->zap, f, 8)) >= 0) {
            zap_answer(c, f, n);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
        }
    } while (readable(c->zap));
}

static int join_loop(cluster_t *c, void *sock, int *fdp, loop_fd_fn fn);

static int curve_setup(cluster_t *c)
{
    char secret[RPC_CURVE_KEY_LEN + 1], pub[RPC_CURVE_KEY_LEN + 1];
    int rc = rpc_curve_load_key(c->curve_spec, secret);
    if (rc < 0) {
        log_error("bus_curve_key_invalid", "detail=\"--bus-curve-secret: 40 Z85 characters or a file "
                  "holding them\" rc=%d", rc);
        return rc;
    }
    bool ok = zmq_curve_public(pub, secret) == 0 && zmq_z85_decode(c->curve_public, pub);
    sodium_memzero(secret, sizeof(secret));
    if (!ok)
        return -ENOTSUP;
    c->zap = zmq_socket(c->zctx, ZMQ_REP);
    int zero = 0;
    if (!c->zap)
        return -errno;
    zmq_setsockopt(c->zap, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(c->zap, "inproc://zeromq.zap.01") < 0)
        return -errno;
    if ((rc = join_loop(c, c->zap, &c->zap_fd, on_zap)) < 0)
        return rc;
    if ((rc = rpc_curve_server(c->xpub, c->curve_spec)) < 0)
        return rc;
    if ((rc = rpc_curve_client(c->sub, pub, c->curve_spec)) < 0)
        return rc;
    return 0;
}

void cluster_poll(cluster_t *c)
{
    if (c->zap && readable(c->zap))
        on_zap(c->b->loop, c->zap_fd, LOOP_READ, c);
    batches_flush(c); /* before reading: a send may take the ZMQ_FD edge */
    if (c->xpub && readable(c->xpub))
        on_xpub(c->b->loop, c->xpub_fd, LOOP_READ, c);
    if (c->sub && (c->sub_more || readable(c->sub)))
        on_sub(c->b->loop, c->sub_fd, LOOP_READ, c);
}

/* ---- membership --------------------------------------------------------- */

static void on_peers(int rc, const sstore_peer_t *peers, size_t n, void *arg)
{
    cluster_t *c = arg;
    bool joined = false;
    if (rc)
        return;
    for (int i = 0; i < c->npeers; i++)
        c->peers[i].seen = false;
    for (size_t k = 0; k < n; k++) {
        if (strcmp(peers[k].id, c->b->id) == 0)
            continue;
        int i;
        for (i = 0; i < c->npeers; i++)
            if (strcmp(c->peers[i].id, peers[k].id) == 0)
                break;
        if (i < c->npeers && strcmp(c->peers[i].endpoint, peers[k].endpoint) == 0) {
            c->peers[i].seen = true;
            continue;
        }
        if (i == c->npeers) {
            if (c->npeers == MAX_PEERS)
                continue;
            c->npeers++;
        } else {
            zmq_disconnect(c->sub, c->peers[i].endpoint);
        }
        peer_t *p = &c->peers[i];
        snprintf(p->id, sizeof(p->id), "%s", peers[k].id);
        snprintf(p->endpoint, sizeof(p->endpoint), "%s", peers[k].endpoint);
        p->seen = true;
        if (zmq_connect(c->sub, p->endpoint) == 0) {
            log_info("peer_joined", "peer=%s endpoint=%s", p->id, p->endpoint);
            joined = true;
        }
        else
            log_warn("peer_connect_failed", "peer=%s endpoint=%s reason=\"%s\"", p->id,
                     p->endpoint, zmq_strerror(errno));
    }
    for (int i = 0; i < c->npeers;) {
        if (c->peers[i].seen) {
            i++;
            continue;
        }
        log_info("peer_left", "peer=%s endpoint=%s", c->peers[i].id, c->peers[i].endpoint);
        zmq_disconnect(c->sub, c->peers[i].endpoint);
        c->peers[i] = c->peers[--c->npeers];
    }
    if (joined) {
        /* control messages sent before we were connected are lost: the
         * index is re-read, and local persistent sessions catch up */
        reload_psubs(c);
        c->hooks.peer_joined(c->b);
    }
}

static void on_done_quiet(int rc, void *arg) {}

static uint64_t on_heartbeat(loop_t *l, void *arg)
{
    cluster_t *c = arg;
    static const uint64_t checks_per_psub = PSUB_CHECK_MS / HEARTBEAT_MS;
    if (!sstore_connected(c->store))
        return HEARTBEAT_MS;
    sstore_broker_heartbeat(c->store, c->b->id, c->endpoint, c->started_ms, ALIVE_TTL_MS,
                            on_done_quiet, c);
    sstore_conn_refresh(c->store, c->b->id, ALIVE_TTL_MS * 2, on_done_quiet, c);
    sstore_broker_list(c->store, on_peers, c);
    if (++c->hb_count % checks_per_psub == 0 || c->psub_version == 0)
        sstore_psubs_version(c->store, on_psub_version, c);
    return HEARTBEAT_MS;
}

static void on_retained(int rc, const sstore_msg_t *msgs, size_t n, void *arg)
{
    cluster_t *c = arg;
    if (rc) {
        log_warn("retained_load_failed", "rc=%d", rc);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        msg_t *m = msg_new(msgs[i].topic, msgs[i].topic_len, msgs[i].payload, msgs[i].payload_len,
                           msgs[i].qos, true);
        if (m)
            route_retain(c->b, m);
        msg_unref(&m);
    }
    log_info("retained_loaded", "messages=%zu", n);
}

static void on_store_refused(const char *reply, void *arg)
{
    cluster_t *c = arg;
    log_error("redis_refused", "host=%s port=%d reply=\"%s\" detail=\"check --redis-user and "
              "ROOST_REDIS_PASSWORD; retrying\"", c->redis_host, c->redis_port, reply);
}

static void on_store_state(bool connected, void *arg)
{
    cluster_t *c = arg;
    if (connected) {
        log_info("redis_connected", "host=%s port=%d", c->redis_host, c->redis_port);
        reload_psubs(c);
        sstore_retain_load(c->store, on_retained, c);
        on_heartbeat(c->b->loop, c);
    } else {
        log_warn("redis_disconnected", "host=%s port=%d", c->redis_host, c->redis_port);
    }
}

static int join_loop(cluster_t *c, void *sock, int *fdp, loop_fd_fn fn)
{
    size_t sz = sizeof(*fdp);
    if (zmq_getsockopt(sock, ZMQ_FD, fdp, &sz) < 0)
        return -errno;
    return loop_add_fd(c->b->loop, *fdp, LOOP_READ | LOOP_EDGE, fn, c);
}

int cluster_start(cluster_t *c)
{
    int rc;
    c->started_ms = unix_ms();
    c->zctx = zmq_ctx_new();
    if (!c->zctx)
        return -errno;
    c->xpub = zmq_socket(c->zctx, ZMQ_XPUB);
    c->sub = zmq_socket(c->zctx, ZMQ_SUB);
    if (!c->xpub || !c->sub)
        return -errno;
    int hwm = BUS_HWM, zero = 0;
    zmq_setsockopt(c->xpub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(c->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(c->xpub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(c->sub, ZMQ_LINGER, &zero, sizeof(zero));
    if (c->curve_spec[0] && (rc = curve_setup(c)) < 0)
        return rc;
    if (zmq_bind(c->xpub, c->bus_bind) < 0) {
        rc = -errno;
        log_error("bus_bind_failed", "endpoint=%s reason=\"%s\"", c->bus_bind, zmq_strerror(errno));
        return rc;
    }
    char bound[256];
    size_t sz = sizeof(bound);
    zmq_getsockopt(c->xpub, ZMQ_LAST_ENDPOINT, bound, &sz);
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", c->advertise[0] ? c->advertise : bound);
    zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "c", 1);
    zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "r", 1);
    if ((rc = join_loop(c, c->sub, &c->sub_fd, on_sub)) < 0 ||
        (rc = join_loop(c, c->xpub, &c->xpub_fd, on_xpub)) < 0)
        return rc;
    c->store = sstore_new(c->b->loop, c->redis_host, c->redis_port, c->prefix);
    if (!c->store || sstore_set_auth(c->store, c->redis_user, c->redis_password) < 0)
        return -ENOMEM;
    sodium_memzero(c->redis_password, strlen(c->redis_password)); /* sstore has its copy */
    sstore_on_refused(c->store, on_store_refused, c);
    if ((rc = sstore_start(c->store, on_store_state, c)) < 0)
        return rc;
    c->hb_timer = loop_add_timer(c->b->loop, HEARTBEAT_MS, on_heartbeat, c);
    log_info("bus_listening", "endpoint=%s curve=%s", c->endpoint, c->zap ? "on" : "off");
    return 0;
}

void cluster_destroy(cluster_t **cp)
{
    cluster_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    if (c->hb_timer)
        loop_del_timer(c->b->loop, c->hb_timer);
    if (c->sub_fd >= 0)
        loop_del_fd(c->b->loop, c->sub_fd);
    if (c->xpub_fd >= 0)
        loop_del_fd(c->b->loop, c->xpub_fd);
    if (c->zap_fd >= 0)
        loop_del_fd(c->b->loop, c->zap_fd);
    if (c->zap)
        zmq_close(c->zap);
    sstore_destroy(&c->store);
    if (c->xpub)
        batches_send(c);
    for (int i = 0; i < c->nbatches; i++)
        free(c->batches[i].buf);
    free(c->lt);
    if (c->xpub)
        zmq_close(c->xpub);
    if (c->sub)
        zmq_close(c->sub);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    if (c->ptrie)
        psubs_clear(c);
    subtrie_destroy(&c->ptrie);
    map_fini(&c->pstubs);
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&c->interest, &it, &e))
        free(e->value);
    map_fini(&c->interest);
    free(c->m_cids);
    free(c->m_lens);
    free(c->m_qos);
    free(c->redis_host);
    free(c->redis_user);
    free(c->curve_spec);
    if (c->redis_password)
        sodium_memzero(c->redis_password, strlen(c->redis_password));
    free(c->redis_password);
    free(c->prefix);
    free(c->bus_bind);
    free(c->advertise);
    free(c);
}

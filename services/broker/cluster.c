#include "cluster.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/proc.h"
#include "bus.h"
#include "psindex.h"

#define HEARTBEAT_MS 1000
#define ALIVE_TTL_MS 3000
#define PSUB_CHECK_MS 1000 /* one GET per second: the index follows Redis within it */
#define MAX_PEERS 256
/* Heartbeats after a peer joins (or its link comes back) before the
 * retained set is re-read from Redis: its retained messages sent on the bus
 * before our subscription reached it were dropped (PUB/SUB), and by then
 * the link is up, so every later one comes by the bus. The re-read asks
 * only for what was put after our last read (sstore_retain_load_since):
 * a peer joining costs every broker the retained messages changed since,
 * not the whole set. */
#define RETAINED_RELOAD_BEATS 2
#define RETAINED_RETRY_BEATS_MAX 64

typedef struct peer {
    char id[128];
    char endpoint[256];
    bool seen;
    bool link_down;           /* its bus link dropped: gone for takeovers */
} peer_t;

struct cluster {
    broker_t *b;
    cluster_hooks_t hooks;
    char *redis_host, *prefix;
    char *redis_user, *redis_password, *redis_cluster;
    int redis_port;
    store_sentinel_conf_t sentinel; /* strings borrowed from argv/environ, as the config's */
    sstore_t *store;
    bus_t *bus;
    uint64_t started_ms;
    uint64_t eid_seq;
    peer_t peers[MAX_PEERS];
    int npeers;
    uint64_t hb_timer;
    uint64_t hb_count;
    psindex_t *psubs;          /* persistent subscriptions, cluster-wide */
    uint64_t psub_version;
    bool psub_loading;
    bool psub_ready;           /* read once: see cluster_ready */
    int retained_reload;       /* heartbeats until the retained set is re-read; 0: none due */
    int retained_backoff;      /* heartbeats before a failed read is sent again (doubles) */
    /* Where our retained set stands in Redis's log of puts (sstore.h
     * sstore_retain_mark); "": unknown, the next read is of the whole set. */
    char retained_mark[SSTORE_MARK_MAX];
    char retained_mark_asked[SSTORE_MARK_MAX]; /* with the whole read in flight */
    char retained_since[SSTORE_MARK_MAX];      /* what the re-read in flight asked from */
};

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

static void on_bus_deliver(void *arg, msg_t *m, bool same_topic);
static void on_bus_link(void *arg, const char *endpoint, bool up);
static void on_bus_control(void *arg, const busctl_t *ctl, const char *from);
static void on_bus_shared(void *arg, const uint8_t *f, size_t n);
static void load_retained(cluster_t *c);
static void reload_retained(cluster_t *c);

cluster_t *cluster_new(broker_t *b, const cluster_config_t *cfg, const cluster_hooks_t *hooks)
{
    cluster_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->b = b;
    c->hooks = *hooks;
    c->redis_host = xstrdup(cfg->redis->host);
    c->redis_user = xstrdup(cfg->redis->user);
    c->redis_password = xstrdup(cfg->redis->password);
    c->redis_cluster = xstrdup(cfg->redis->cluster);
    c->prefix = xstrdup(cfg->redis->prefix);
    c->redis_port = cfg->redis->port;
    c->sentinel = cfg->redis->sentinel;
    c->psubs = psindex_new();
    bus_hooks_t bh = {on_bus_deliver, on_bus_control, c, on_bus_link, on_bus_shared};
    c->bus = bus_new(b, cfg->bus_bind, cfg->bus_advertise, cfg->bus_curve_secret, &bh);
    if (!c->redis_host || !c->redis_user || !c->redis_password || !c->redis_cluster || !c->prefix || !c->psubs ||
        !c->bus) {
        cluster_destroy(&c);
        return NULL;
    }
    return c;
}

sstore_t *cluster_store(cluster_t *c) { return c->store; }
const char *cluster_endpoint(const cluster_t *c) { return bus_endpoint(c->bus); }

void cluster_next_eid(cluster_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%llx:%llu", c->b->id, (unsigned long long)c->started_ms,
             (unsigned long long)++c->eid_seq);
}

void cluster_poll(cluster_t *c) { bus_poll(c->bus); }
bool cluster_pending(const cluster_t *c) { return bus_pending(c->bus); }
bool cluster_ready(const cluster_t *c) { return c->psub_ready; }

void cluster_forward(cluster_t *c, const msg_t *m)
{
    msg_parts_t p = {msg_topic(m), msg_payload(m), m->payload_len, m->topic_len, m->qos,
                     m->retain, msg_props(m), m->props_len, m->expiry_ms};
    bus_forward(c->bus, &p, msg_eid(m), m->eid_len);
}

void cluster_forward_parts(cluster_t *c, const msg_parts_t *p) { bus_forward(c->bus, p, NULL, 0); }

void cluster_send_frame(cluster_t *c, uint8_t *frame, size_t len)
{
    bus_send_frame(c->bus, frame, len);
}

static void on_bus_shared(void *arg, const uint8_t *f, size_t n)
{
    cluster_t *c = arg;
    if (c->hooks.shared)
        c->hooks.shared(c->b, f, n);
}

void cluster_interest(cluster_t *c, const char *filter, size_t len, bool add)
{
    bus_interest(c->bus, filter, len, add);
}

/* ---- persistent-subscription index -------------------------------------- */

static void on_psubs(int rc, const sstore_sub_t *subs, size_t n, uint64_t version, void *arg)
{
    cluster_t *c = arg;
    c->psub_loading = false;
    if (rc || psindex_clear(c->psubs) < 0) {
        psindex_load_end(c->psubs); /* the index kept what it had */
        if (!c->psub_ready)
            log_warn("psubs_load_failed", "rc=%d detail=\"not ready: read again at the next "
                     "heartbeat\"", rc);
        return;
    }
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += psindex_apply(c->psubs, subs[i].cid, subs[i].cid_len, subs[i].filter,
                                subs[i].filter_len, subs[i].qos, true) < 0;
    /* the snapshot may predate control messages applied meanwhile (a peer
     * sends them before its Redis write): without them, a session whose
     * broker then dies gets nothing queued until the next reload */
    failed += psindex_load_end(c->psubs) < 0;
    c->psub_version = failed ? 0 : version; /* 0: read again at the next heartbeat */
    log_info("psubs_loaded", "subscriptions=%zu sessions=%zu version=%llu failed=%zu", n,
             psindex_sessions(c->psubs), (unsigned long long)version, failed);
    if (!c->psub_ready && !failed) {
        c->psub_ready = true;
        log_info("cluster_ready", "broker_id=%s subscriptions=%zu", c->b->id, n);
        if (c->hooks.ready)
            c->hooks.ready(c->b);
    }
}

static void reload_psubs(cluster_t *c)
{
    if (c->psub_loading)
        return;
    psindex_load_begin(c->psubs); /* updates from now on are applied again on the snapshot */
    if (sstore_psubs_load(c->store, on_psubs, c) == 0)
        c->psub_loading = true;
    else
        psindex_load_end(c->psubs);
}

static void on_psub_version(int rc, uint64_t version, void *arg)
{
    cluster_t *c = arg;
    if (rc == 0 && version != c->psub_version)
        reload_psubs(c);
}

size_t cluster_psub_match(cluster_t *c, const char *topic, size_t len, uint8_t max_qos,
                          const char *const **cids, const size_t **cid_lens, const uint8_t **qos)
{
    return psindex_match(c->psubs, topic, len, max_qos, cids, cid_lens, qos);
}

void cluster_psub(cluster_t *c, const char *cid, size_t cid_len, const char *filter,
                  size_t filter_len, uint8_t qos, bool add)
{
    if (psindex_apply(c->psubs, cid, cid_len, filter, filter_len, qos, add) < 0)
        c->psub_version = 0; /* reloaded from Redis at the next heartbeat */
    busctl_t ctl = {add ? BUSCTL_PSUB_ADD : BUSCTL_PSUB_DEL, "", 0, cid, cid_len, filter,
                    filter_len, qos};
    bus_control(c->bus, &ctl);
}

/* ---- control messages ----------------------------------------------------- */

static void send_to(cluster_t *c, uint8_t type, const char *target, const char *cid, size_t len)
{
    busctl_t ctl = {type, target, strlen(target), cid, len, "", 0, 0};
    bus_control(c->bus, &ctl);
}

void cluster_kick(cluster_t *c, const char *target, const char *cid, size_t len)
{
    send_to(c, BUSCTL_KICK, target, cid, len);
}

void cluster_released(cluster_t *c, const char *target, const char *cid, size_t len)
{
    send_to(c, BUSCTL_RELEASED, target, cid, len);
}

static void on_bus_control(void *arg, const busctl_t *ctl, const char *from)
{
    cluster_t *c = arg;
    bool for_me = ctl->target_len == strlen(c->b->id) &&
                  memcmp(ctl->target, c->b->id, ctl->target_len) == 0;
    switch (ctl->type) {
    case BUSCTL_KICK:
        if (for_me)
            c->hooks.kick(c->b, ctl->cid, ctl->cid_len, from);
        break;
    case BUSCTL_RELEASED:
        if (for_me)
            c->hooks.released(c->b, ctl->cid, ctl->cid_len, from);
        break;
    case BUSCTL_PSUB_ADD:
    case BUSCTL_PSUB_DEL:
        if (psindex_apply(c->psubs, ctl->cid, ctl->cid_len, ctl->filter, ctl->filter_len,
                          ctl->qos & 3, ctl->type == BUSCTL_PSUB_ADD) < 0)
            c->psub_version = 0;
        break;
    default:
        break;
    }
}

static void on_bus_link(void *arg, const char *endpoint, bool up)
{
    cluster_t *c = arg;
    for (int i = 0; i < c->npeers; i++) {
        peer_t *p = &c->peers[i];
        if (strcmp(p->endpoint, endpoint) != 0 || p->link_down == !up)
            continue;
        p->link_down = !up;
        if (up) { /* what it sent while the link was down was dropped */
            c->retained_reload = RETAINED_RELOAD_BEATS;
            continue;
        }
        log_info("peer_link_down", "peer=%s endpoint=%s detail=\"gone for takeovers\"", p->id,
                 p->endpoint);
        if (c->hooks.peer_gone)
            c->hooks.peer_gone(c->b, p->id);
    }
}

bool cluster_peer_gone(const cluster_t *c, const char *id)
{
    for (int i = 0; i < c->npeers; i++)
        if (strcmp(c->peers[i].id, id) == 0)
            return c->peers[i].link_down;
    return false;
}

static void on_bus_deliver(void *arg, msg_t *m, bool same_topic)
{
    cluster_t *c = arg;
    c->hooks.deliver(c->b, m, same_topic);
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
            bus_disconnect(c->bus, c->peers[i].endpoint);
        }
        peer_t *p = &c->peers[i];
        snprintf(p->id, sizeof(p->id), "%s", peers[k].id);
        snprintf(p->endpoint, sizeof(p->endpoint), "%s", peers[k].endpoint);
        p->seen = true;
        p->link_down = false;
        int crc = bus_connect(c->bus, p->endpoint);
        if (crc == 0) {
            log_info("peer_joined", "peer=%s endpoint=%s", p->id, p->endpoint);
            joined = true;
        }
        else
            log_warn("peer_connect_failed", "peer=%s endpoint=%s reason=\"%s\"", p->id,
                     p->endpoint, bus_strerror(crc));
    }
    for (int i = 0; i < c->npeers;) {
        if (c->peers[i].seen) {
            i++;
            continue;
        }
        log_info("peer_left", "peer=%s endpoint=%s", c->peers[i].id, c->peers[i].endpoint);
        bus_disconnect(c->bus, c->peers[i].endpoint);
        c->peers[i] = c->peers[--c->npeers];
    }
    if (joined) {
        /* control messages sent before we were connected are lost: the
         * index is re-read, and local persistent sessions catch up */
        reload_psubs(c);
        c->retained_reload = RETAINED_RELOAD_BEATS; /* so are retained messages */
        c->hooks.peer_joined(c->b);
    }
}

static void on_done_quiet(int rc, void *arg) {}

#define REAP_EVERY 2   /* heartbeats */
#define REAP_BATCH 500 /* sessions per script run */

static void on_reaped(int rc, uint64_t n, void *arg)
{
    if (rc == 0 && n > 0)
        log_info("sessions_expired", "count=%llu", (unsigned long long)n);
}

static uint64_t on_heartbeat(loop_t *l, void *arg)
{
    cluster_t *c = arg;
    static const uint64_t checks_per_psub = PSUB_CHECK_MS / HEARTBEAT_MS;
    if (!sstore_connected(c->store))
        return HEARTBEAT_MS;
    sstore_broker_heartbeat(c->store, c->b->id, bus_endpoint(c->bus), c->started_ms, ALIVE_TTL_MS,
                            on_done_quiet, c);
    sstore_conn_refresh(c->store, c->b->id, ALIVE_TTL_MS * 2, on_done_quiet, c);
    sstore_broker_list(c->store, on_peers, c);
    bool check_psubs = ++c->hb_count % checks_per_psub == 0 || c->psub_version == 0;
    if (!c->psub_ready)
        reload_psubs(c); /* no read succeeded yet: nothing is routed until one does */
    else if (check_psubs)
        sstore_psubs_version(c->store, on_psub_version, c);
    if (c->retained_reload && --c->retained_reload == 0)
        reload_retained(c);
    if (c->hb_count % REAP_EVERY == 0) /* expired offline sessions (any broker may) */
        sstore_session_reap(c->store, proc_wall_ms(), REAP_BATCH, on_reaped, c);
    return HEARTBEAT_MS;
}

/* ---- the retained set from Redis ------------------------------------------ */

/* An answer's messages go to the broker's retained store (anything that
 * arrived while the read was on its way is newer and kept: see
 * route_retain_load_begin), then the read ends. False: nothing was kept
 * (a failed read, or one dropped for lack of memory: read again). */
static bool retained_answer(cluster_t *c, int rc, const sstore_msg_t *msgs, size_t n)
{
    if (rc) {
        /* read again (a link that drops reads the whole set again when it
         * is back too): after 2 heartbeats, doubling up to a minute while
         * it keeps failing; else, alone, no retained message until a peer
         * joined */
        c->hooks.retained_end(c->b);
        c->retained_backoff = c->retained_backoff ? c->retained_backoff * 2 : RETAINED_RELOAD_BEATS;
        if (c->retained_backoff > RETAINED_RETRY_BEATS_MAX)
            c->retained_backoff = RETAINED_RETRY_BEATS_MAX;
        if (!c->retained_reload)
            c->retained_reload = c->retained_backoff;
        log_warn("retained_load_failed", "rc=%d retry_in_ms=%d", rc, c->retained_reload * HEARTBEAT_MS);
        return false;
    }
    c->retained_backoff = 0;
    uint64_t now = proc_wall_ms();
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].expiry_ms && now >= msgs[i].expiry_ms)
            continue; /* expired in Redis: not kept here [MQTT-3.3.2-5] */
        msg_ext_t x = {msgs[i].props, msgs[i].props_len, msgs[i].expiry_ms};
        msg_t *m = msg_new_ext(msgs[i].topic, msgs[i].topic_len, msgs[i].payload,
                               msgs[i].payload_len, msgs[i].qos, true, NULL, &x);
        if (m)
            c->hooks.retained(c->b, m);
        msg_unref(&m);
    }
    if (c->hooks.retained_end(c->b) < 0) {
        c->retained_reload = RETAINED_RELOAD_BEATS;
        log_warn("retained_load_dropped", "messages=%zu detail=\"out of memory; read again\"", n);
        return false;
    }
    return true;
}

static void on_retained_mark(int rc, const char *mark, void *arg)
{
    cluster_t *c = arg;
    snprintf(c->retained_mark_asked, sizeof(c->retained_mark_asked), "%s", rc ? "" : mark);
}

static void on_retained(int rc, const sstore_msg_t *msgs, size_t n, void *arg)
{
    cluster_t *c = arg;
    if (!retained_answer(c, rc, msgs, n))
        return;
    memcpy(c->retained_mark, c->retained_mark_asked, sizeof(c->retained_mark));
    log_info("retained_loaded", "messages=%zu mark=%s", n, c->retained_mark);
}

/* The whole set (at connect): the log's mark asked first, on the same
 * link, so the answer holds every put up to it. */
static void load_retained(cluster_t *c)
{
    c->retained_mark[0] = c->retained_mark_asked[0] = '\0';
    c->hooks.retained_begin(c->b);
    if (sstore_retain_mark(c->store, on_retained_mark, c) < 0 ||
        sstore_retain_load(c->store, on_retained, c) < 0)
        c->hooks.retained_end(c->b);
}

static void on_retained_since(int rc, const sstore_msg_t *msgs, size_t n, const char *mark,
                              bool whole, void *arg)
{
    cluster_t *c = arg;
    if (!retained_answer(c, rc, msgs, n))
        return;
    if (whole) { /* the log no longer reaches back to our mark */
        log_info("retained_log_short", "since=%s", c->retained_since);
        load_retained(c);
        return;
    }
    if (strcmp(c->retained_mark, c->retained_since) == 0) /* (no whole read went out meanwhile) */
        snprintf(c->retained_mark, sizeof(c->retained_mark), "%s", mark);
    log_info("retained_loaded", "messages=%zu since=%s mark=%s", n, c->retained_since, mark);
}

/* After a peer joined: the topics put after our last read, or the whole
 * set when we know of no read. */
static void reload_retained(cluster_t *c)
{
    if (!c->retained_mark[0]) {
        load_retained(c);
        return;
    }
    memcpy(c->retained_since, c->retained_mark, sizeof(c->retained_since));
    c->hooks.retained_begin(c->b);
    if (sstore_retain_load_since(c->store, c->retained_since, on_retained_since, c) < 0)
        c->hooks.retained_end(c->b);
}

static void on_store_refused(const char *reply, void *arg)
{
    cluster_t *c = arg;
    int port;
    const char *host = sstore_address(c->store, &port);
    log_error("redis_refused", "host=%s port=%d reply=\"%s\" detail=\"check --redis-user and "
              "ROOST_REDIS_PASSWORD; retrying\"", host, port, reply);
}

static void on_store_state(bool connected, void *arg)
{
    cluster_t *c = arg;
    int port;
    const char *host = sstore_address(c->store, &port);
    if (connected) {
        log_info("redis_connected", "host=%s port=%d", host, port);
        reload_psubs(c);
        load_retained(c);
        on_heartbeat(c->b->loop, c);
    } else {
        log_warn("redis_disconnected", "host=%s port=%d", host, port);
    }
}

int cluster_start(cluster_t *c)
{
    int rc;
    c->started_ms = proc_wall_ms();
    if ((rc = bus_start(c->bus)) < 0)
        return rc;
    c->store = sstore_new(c->b->loop, c->redis_host, c->redis_port, c->prefix);
    if (!c->store || sstore_set_auth(c->store, c->redis_user, c->redis_password) < 0 ||
        sstore_set_sentinel(c->store, &c->sentinel) < 0 ||
        sstore_set_cluster(c->store, c->redis_cluster) < 0 ||
        sstore_set_wait(c->store, (int)c->b->cfg->redis.min_replicas, (int)c->b->cfg->redis.wait_timeout_ms) < 0)
        return -ENOMEM;
    if (store_sentinel_on(&c->sentinel) || c->b->cfg->redis.min_replicas)
        log_info("redis_ha", "sentinels=%s master=%s min_replicas=%lld wait_timeout_ms=%lld",
                 store_sentinel_on(&c->sentinel) ? c->sentinel.sentinels : "none", c->sentinel.master,
                 (long long)c->b->cfg->redis.min_replicas, (long long)c->b->cfg->redis.wait_timeout_ms);
    sodium_memzero(c->redis_password, strlen(c->redis_password)); /* sstore has its copy */
    sstore_on_refused(c->store, on_store_refused, c);
    if ((rc = sstore_start(c->store, on_store_state, c)) < 0)
        return rc;
    c->hb_timer = loop_add_timer(c->b->loop, HEARTBEAT_MS, on_heartbeat, c);
    log_info("bus_listening", "endpoint=%s curve=%s", bus_endpoint(c->bus),
             bus_curve(c->bus) ? "on" : "off");
    if (!bus_curve(c->bus))
        log_warn("bus_unencrypted", "endpoint=%s detail=\"no --bus-curve-secret: anyone who reaches this port "
                 "can read every message crossing the cluster and inject its own, past every ACL\"",
                 bus_endpoint(c->bus));
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
    sstore_destroy(&c->store);
    bus_destroy(&c->bus);
    psindex_destroy(&c->psubs);
    free(c->redis_host);
    free(c->redis_user);
    free(c->redis_cluster);
    if (c->redis_password)
        sodium_memzero(c->redis_password, strlen(c->redis_password));
    free(c->redis_password);
    free(c->prefix);
    free(c);
}

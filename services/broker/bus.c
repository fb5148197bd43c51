#include "bus.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/log.h"
#include "rpc/linkmon.h"
#include "busbatch.h"
#include "mqtt/topic.h"
#include "rpc/curve.h"
#include "rpc/zap.h"

#define HOLD_TURNS 8 /* busy loop turns a batch may wait to grow */
/* Frames queued per peer (XPUB) and from peers (SUB) before ZeroMQ drops
 * (XPUB) or stops reading (SUB): seconds of traffic at any rate, since
 * frames grow with the load (a message each when idle, up to BUSBATCH_BYTES
 * busy), and at most 1 GiB per stalled peer. */
#define BUS_HWM 16384
#define BUS_HEARTBEAT_MS 500 /* ZeroMQ PING on each SUB link; 3 unanswered: down */
#define SUB_TURN 2 /* bus frames read per loop turn */
/* The link monitor is read when its fd signals; bus_poll reads it as well,
 * in case an edge went unseen, at most this often (reading it on every loop
 * turn cost a ZeroMQ receive and a poll(2) per turn). */
#define MON_POLL_MS 50

struct bus {
    broker_t *b;
    bus_hooks_t hooks;
    char *bind, *advertise;
    char *curve_spec;            /* "" = plain bus */
    void *zctx, *xpub, *sub;
    rpc_zap_t *zap;              /* ZAP handler while the bus uses CURVE */
    rpc_linkmon_t *mon;          /* the SUB's link events */
    int xpub_fd, sub_fd, zap_fd, mon_fd;
    char endpoint[256];
    busbatch_t *batch;
    int held;                    /* busy turns the pending batches have waited */
    bool sub_more;               /* on_sub stopped with frames left to read */
    uint64_t mon_read_ms;        /* loop time the link monitor was last read */
};

static void zfree(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* busbatch's emit: hands the frame to ZeroMQ (which frees it). */
static void emit_frame(void *arg, uint8_t *frame, size_t len, uint32_t count)
{
    bus_t *bus = arg;
    zmq_msg_t z;
    if (zmq_msg_init_data(&z, frame, len, zfree, NULL) != 0) {
        free(frame);
        bus->b->stats.bus_dropped += count;
    } else if (zmq_msg_send(&z, bus->xpub, ZMQ_DONTWAIT) < 0) {
        bus->b->stats.bus_dropped += count;
        zmq_msg_close(&z); /* frees the buffer */
    } else {
        bus->b->stats.bus_frames_out++;
        bus->b->stats.bus_msgs_out += count;
    }
}

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

bus_t *bus_new(broker_t *b, const char *bind, const char *advertise, const char *curve_spec,
               const bus_hooks_t *hooks)
{
    bus_t *bus = calloc(1, sizeof(*bus));
    if (!bus)
        return NULL;
    bus->b = b;
    bus->hooks = *hooks;
    bus->xpub_fd = bus->sub_fd = bus->zap_fd = bus->mon_fd = -1;
    bus->bind = xstrdup(bind);
    bus->advertise = xstrdup(advertise);
    bus->curve_spec = xstrdup(curve_spec);
    bus->batch = busbatch_new(emit_frame, bus);
    if (!bus->bind || !bus->advertise || !bus->curve_spec || !bus->batch) {
        bus_destroy(&bus);
        return NULL;
    }
    return bus;
}

const char *bus_endpoint(const bus_t *bus) { return bus->endpoint; }
bool bus_curve(const bus_t *bus) { return bus->zap != NULL; }
bool bus_pending(const bus_t *bus) { return busbatch_pending(bus->batch) > 0; }

int bus_connect(bus_t *bus, const char *endpoint)
{
    return zmq_connect(bus->sub, endpoint) == 0 ? 0 : -errno;
}

void bus_disconnect(bus_t *bus, const char *endpoint) { zmq_disconnect(bus->sub, endpoint); }
const char *bus_strerror(int rc) { return zmq_strerror(-rc); }

/* ---- sending ------------------------------------------------------------ */

static void batches_send(bus_t *bus)
{
    bus->held = 0;
    busbatch_flush(bus->batch);
}

/* At the end of a loop turn. While the loop is busy (its last wait found
 * events) a batch may wait a few turns to grow, the loop polling instead of
 * sleeping; a turn that finds nothing to do sends it. So a lone message
 * leaves after one empty poll, and under load each frame carries the
 * messages of several turns: fewer frames, fewer wake-ups of the ZeroMQ
 * I/O threads on both sides. */
static void batches_flush(bus_t *bus)
{
    if (!busbatch_pending(bus->batch))
        return;
    if (loop_last_ready(bus->b->loop) > 0 && bus->held < HOLD_TURNS) {
        bus->held++;
        loop_no_sleep(bus->b->loop);
        return;
    }
    batches_send(bus);
}

void bus_forward(bus_t *bus, const msg_parts_t *p, const char *eid, size_t elen)
{
    if (!bus->xpub)
        return;
    if (p->retain)
        bus->held = 0;
    if (busbatch_add(bus->batch, p, eid, elen) < 0)
        bus->b->stats.bus_dropped++;
}

void bus_interest(bus_t *bus, const char *filter, size_t len, bool add)
{
    if (!bus->sub)
        return;
    char buf[1 + 65535];
    size_t n = topic_literal_prefix(filter, len);
    buf[0] = 'm';
    memcpy(buf + 1, filter, n);
    zmq_setsockopt(bus->sub, add ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, buf, n + 1);
}

void bus_send_frame(bus_t *bus, uint8_t *frame, size_t len)
{
    zmq_msg_t z;
    if (!bus->xpub || zmq_msg_init_data(&z, frame, len, zfree, NULL) != 0) {
        free(frame);
        bus->b->stats.bus_dropped++;
    } else if (zmq_msg_send(&z, bus->xpub, ZMQ_DONTWAIT) < 0) {
        bus->b->stats.bus_dropped++;
        zmq_msg_close(&z);
    }
}

void bus_control(bus_t *bus, const busctl_t *ctl)
{
    size_t n = busctl_size(ctl);
    uint8_t *body = n ? malloc(n) : NULL;
    if (!body)
        return;
    busctl_encode(ctl, body);
    /* three frames: 'c' (every broker subscribes it), the body, the sender
     * id; after every batched message, so peers see them in order */
    batches_send(bus);
    if (bus->xpub && zmq_send(bus->xpub, "c", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 1) {
        zmq_send(bus->xpub, body, n, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(bus->xpub, bus->b->id, strlen(bus->b->id), ZMQ_DONTWAIT);
    }
    free(body);
}

/* ---- receiving ---------------------------------------------------------- */

static void bus_malformed(bus_t *bus, const char *why, size_t entry, bool rest_too)
{
    bus->b->stats.bus_malformed++;
    log_warn("bus_frame_malformed", "reason=\"%s\" entry=%zu dropped=%s", why, entry,
             rest_too ? "rest_of_frame" : "entry");
}

/* A data frame (busframe.h). An entry that cannot be parsed drops the rest
 * of the frame, one whose topic is not a valid name drops itself; either is
 * counted and logged, and what came before is delivered. */
static void on_data(bus_t *bus, const uint8_t *f, size_t n)
{
    busframe_reader_t r;
    if (busframe_open(&r, f, n) < 0) {
        bus_malformed(bus, r.error, 0, true);
        return;
    }
    bus->b->stats.bus_frames_in++;
    const char *prev = NULL; /* the last delivered entry's topic rest */
    size_t prev_len = 0;
    busframe_entry_t e;
    int rc;
    while ((rc = busframe_next(&r, &e)) > 0) {
        msg_t *m = msg_alloc(r.label_len + e.rest_len, e.payload_len, e.props_len, e.eid_len,
                             e.qos, e.retain);
        if (!m) {
            bus->b->stats.bus_dropped++;
            continue;
        }
        char *d = m->data;
        memcpy(d, r.label, r.label_len);
        memcpy(d += r.label_len, e.rest, e.rest_len);
        memcpy(d += e.rest_len, e.payload, e.payload_len);
        if (e.props_len)
            memcpy(d + e.payload_len, e.props, e.props_len);
        if (e.eid_len)
            memcpy(d + e.payload_len + e.props_len, e.eid, e.eid_len);
        m->expiry_ms = e.expiry_ms;
        /* a run of one topic (the usual batch) is checked and routed once */
        bool same = prev && e.rest_len == prev_len && memcmp(e.rest, prev, prev_len) == 0;
        if (same || topic_check_name(m->data, m->topic_len) == 0) {
            bus->b->stats.bus_msgs_in++;
            bus->hooks.deliver(bus->hooks.arg, m, same);
            prev = e.rest;
            prev_len = e.rest_len;
        } else {
            bus_malformed(bus, "invalid topic name", r.index - 1, false);
        }
        msg_unref(&m);
    }
    if (rc < 0)
        bus_malformed(bus, r.error, r.index, true);
}

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

/* Reads one message from SUB; returns false when none is left. Data
 * messages are one frame; control messages are three ('c', body, sender). */
static bool recv_one(bus_t *bus)
{
    zmq_msg_t f[3];
    int nf = recv_parts(bus->sub, f, 3);
    if (nf < 0)
        return false;
    const uint8_t *f1 = zmq_msg_data(&f[0]);
    size_t l1 = zmq_msg_size(&f[0]);
    if (nf == 1 && l1 >= 2 && (f1[0] == 'm' || f1[0] == 'r')) {
        on_data(bus, f1, l1);
    } else if (nf == 1 && l1 >= 1 && f1[0] == 's') {
        if (bus->hooks.shared)
            bus->hooks.shared(bus->hooks.arg, f1, l1);
    } else if (nf == 3 && l1 == 1 && f1[0] == 'c') {
        char from[256];
        size_t fl = zmq_msg_size(&f[2]) < 255 ? zmq_msg_size(&f[2]) : 255;
        memcpy(from, zmq_msg_data(&f[2]), fl);
        from[fl] = '\0';
        busctl_t ctl;
        if (busctl_decode(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), &ctl) == 0)
            bus->hooks.control(bus->hooks.arg, &ctl, from);
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
    bus_t *bus = arg;
    /* At most SUB_TURN frames, then back to the loop so what they delivered
     * is written out before the next ones are read (a deep backlog read in
     * one go would hold every subscriber's output meanwhile); the loop
     * polls instead of sleeping while some are left. Edge-triggered: when
     * none are left, ask ZMQ_EVENTS once (asking before every message costs
     * a poll and more per message). */
    bus->sub_more = false;
    int n = 0;
    do {
        while (recv_one(bus)) {
            if (++n == SUB_TURN) {
                bus->sub_more = true;
                loop_no_sleep(bus->b->loop);
                return;
            }
        }
    } while (readable(bus->sub));
}

/* A subscription notice from XPUB: byte 1 (subscribe) or 0 (unsubscribe),
 * then the prefix. XPUB reports a prefix's first subscription and its last
 * unsubscription over all peers, so a set is enough. */
static void on_notice(bus_t *bus, const uint8_t *d, size_t n)
{
    char qp[LOG_QUOTE_CAP]; /* (a label holds the literal prefix of a client's filter) */
    log_debug("bus_interest", "op=%s prefix=%s", n && d[0] ? "add" : "remove",
              log_quote(qp, sizeof(qp), n > 1 ? d + 1 : d, n > 1 ? n - 1 : 0));
    if (n < 2 || d[1] != 'm')
        return; /* 'c' and 'r' are always wanted */
    bus->held = 0;
    if (busbatch_interest(bus->batch, (const char *)d + 2, n - 2, d[0] == 1) < 0)
        log_warn("bus_interest_oom", "detail=\"a peer's subscription is not recorded\"");
}

static void on_xpub(loop_t *l, int fd, unsigned events, void *arg)
{
    bus_t *bus = arg;
    do {
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, bus->xpub, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            on_notice(bus, zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
        }
    } while (readable(bus->xpub));
}

/* ---- CurveZMQ ------------------------------------------------------------ */

/* Every broker holds the cluster's one key pair: its XPUB is a CURVE server
 * with it, its SUB a CURVE client with it, and a ZAP handler (lib/rpc zap.h,
 * in the bus's own context) lets a client finish the handshake only when
 * its public key is the cluster's, which CurveZMQ proves it holds the
 * secret of. Anyone else (a plain socket, another key) gets nothing from
 * the bus and puts nothing on it (logged as curve_client_refused
 * service=bus). */
static void on_zap(loop_t *l, int fd, unsigned events, void *arg)
{
    bus_t *bus = arg;
    rpc_zap_drain(bus->zap);
}

/* The SUB's link events (rpc/linkmon.h): up and down per peer endpoint. */
static void on_mon(loop_t *l, int fd, unsigned events, void *arg)
{
    bus_t *bus = arg;
    bool up;
    char ep[256];
    bus->mon_read_ms = loop_now(l);
    while (rpc_linkmon_read(bus->mon, &up, ep, sizeof(ep)) == 1) {
        log_debug("bus_link", "up=%d endpoint=%s", up, ep);
        if (bus->hooks.link)
            bus->hooks.link(bus->hooks.arg, ep, up);
    }
}

static int join_loop(bus_t *bus, void *sock, int *fdp, loop_fd_fn fn)
{
    size_t sz = sizeof(*fdp);
    if (zmq_getsockopt(sock, ZMQ_FD, fdp, &sz) < 0)
        return -errno;
    return loop_add_fd(bus->b->loop, *fdp, LOOP_READ | LOOP_EDGE, fn, bus);
}

static int curve_setup(bus_t *bus)
{
    char secret[RPC_CURVE_KEY_LEN + 1], pub[RPC_CURVE_KEY_LEN + 1];
    int rc = rpc_curve_load_key(bus->curve_spec, secret);
    if (rc < 0) {
        log_error("bus_curve_key_invalid", "detail=\"--bus-curve-secret: 40 Z85 characters or a file "
                  "holding them\" rc=%d", rc);
        return rc;
    }
    bool ok = zmq_curve_public(pub, secret) == 0;
    sodium_memzero(secret, sizeof(secret));
    if (!ok)
        return -ENOTSUP;
    if ((rc = rpc_zap_new(bus->zctx, pub, "bus", &bus->zap)) < 0)
        return rc;
    bus->zap_fd = rpc_zap_fd(bus->zap);
    if ((rc = loop_add_fd(bus->b->loop, bus->zap_fd, LOOP_READ | LOOP_EDGE, on_zap, bus)) < 0)
        return rc;
    if ((rc = rpc_curve_server(bus->xpub, bus->curve_spec)) < 0)
        return rc;
    if ((rc = rpc_curve_client(bus->sub, pub, bus->curve_spec)) < 0)
        return rc;
    return 0;
}

void bus_poll(bus_t *bus)
{
    if (bus->zap)
        rpc_zap_drain(bus->zap);
    batches_flush(bus); /* before reading: a send may take the ZMQ_FD edge */
    if (bus->xpub && readable(bus->xpub))
        on_xpub(bus->b->loop, bus->xpub_fd, LOOP_READ, bus);
    if (bus->sub && (bus->sub_more || readable(bus->sub)))
        on_sub(bus->b->loop, bus->sub_fd, LOOP_READ, bus);
    if (bus->mon && loop_now(bus->b->loop) - bus->mon_read_ms >= MON_POLL_MS)
        on_mon(bus->b->loop, bus->mon_fd, LOOP_READ, bus);
}

/* Link events of the SUB (a dead peer is known at once, not when its
 * registry entry expires), and ZeroMQ heartbeats so a silent one is too. */
static int monitor_start(bus_t *bus)
{
    int rc = rpc_linkmon_new(bus->zctx, bus->sub, BUS_HEARTBEAT_MS, &bus->mon);
    if (rc < 0)
        return rc;
    bus->mon_fd = rpc_linkmon_fd(bus->mon);
    return loop_add_fd(bus->b->loop, bus->mon_fd, LOOP_READ | LOOP_EDGE, on_mon, bus);
}

int bus_start(bus_t *bus)
{
    int rc;
    bus->zctx = zmq_ctx_new();
    if (!bus->zctx)
        return -errno;
    bus->xpub = zmq_socket(bus->zctx, ZMQ_XPUB);
    bus->sub = zmq_socket(bus->zctx, ZMQ_SUB);
    if (!bus->xpub || !bus->sub)
        return -errno;
    int hwm = BUS_HWM, zero = 0;
    zmq_setsockopt(bus->xpub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(bus->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(bus->xpub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(bus->sub, ZMQ_LINGER, &zero, sizeof(zero));
    if (bus->curve_spec[0] && (rc = curve_setup(bus)) < 0)
        return rc;
    if (zmq_bind(bus->xpub, bus->bind) < 0) {
        rc = -errno;
        log_error("bus_bind_failed", "endpoint=%s reason=\"%s\"", bus->bind, zmq_strerror(errno));
        return rc;
    }
    char bound[256];
    size_t sz = sizeof(bound);
    zmq_getsockopt(bus->xpub, ZMQ_LAST_ENDPOINT, bound, &sz);
    snprintf(bus->endpoint, sizeof(bus->endpoint), "%s", bus->advertise[0] ? bus->advertise : bound);
    zmq_setsockopt(bus->sub, ZMQ_SUBSCRIBE, "c", 1);
    zmq_setsockopt(bus->sub, ZMQ_SUBSCRIBE, "r", 1);
    /* shared-subscription frames for every broker ("s" NUL) and for us */
    char sh[2 + sizeof(bus->b->id)];
    size_t idl = strlen(bus->b->id);
    sh[0] = 's';
    memcpy(sh + 1, bus->b->id, idl);
    sh[1 + idl] = '\0';
    zmq_setsockopt(bus->sub, ZMQ_SUBSCRIBE, "s", 2);
    zmq_setsockopt(bus->sub, ZMQ_SUBSCRIBE, sh, idl + 2);
    if ((rc = join_loop(bus, bus->sub, &bus->sub_fd, on_sub)) < 0 ||
        (rc = join_loop(bus, bus->xpub, &bus->xpub_fd, on_xpub)) < 0 ||
        (rc = monitor_start(bus)) < 0)
        return rc;
    return 0;
}

void bus_destroy(bus_t **bp)
{
    bus_t *bus = *bp;
    if (!bus)
        return;
    *bp = NULL;
    if (bus->sub_fd >= 0)
        loop_del_fd(bus->b->loop, bus->sub_fd);
    if (bus->xpub_fd >= 0)
        loop_del_fd(bus->b->loop, bus->xpub_fd);
    if (bus->zap_fd >= 0)
        loop_del_fd(bus->b->loop, bus->zap_fd);
    rpc_zap_destroy(&bus->zap);
    if (bus->mon_fd >= 0)
        loop_del_fd(bus->b->loop, bus->mon_fd);
    rpc_linkmon_destroy(&bus->mon);
    if (bus->xpub && bus->batch)
        batches_send(bus);
    busbatch_destroy(&bus->batch);
    if (bus->xpub)
        zmq_close(bus->xpub);
    if (bus->sub)
        zmq_close(bus->sub);
    if (bus->zctx)
        zmq_ctx_term(bus->zctx);
    free(bus->bind);
    free(bus->advertise);
    if (bus->curve_spec)
        sodium_memzero(bus->curve_spec, strlen(bus->curve_spec));
    free(bus->curve_spec);
    free(bus);
}

#include "conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/proxyproto.h"
#include "authc.h"
#include "adopt.h"
#include "cluster.h"
#include "store/sstore.h"
#include "conn5.h"
#include "mqtt/reason.h"
#include "dispatch.h"
#include "publish5.h"
#include "session.h"
#include "will.h"

static void on_io(loop_t *l, int fd, unsigned events, void *arg);
static void conn_hold_timer(broker_t *b, uint64_t at, uint64_t now);

/* --max-preauth-memory: connections not accepted yet may each buffer up to
 * --max-connect-size, so their number is capped at budget / that size. */
static bool preauth_full(broker_t *b)
{
    const broker_config_t *cfg = b->cfg;
    if (!cfg->max_preauth_memory)
        return false;
    int64_t cap = cfg->max_preauth_memory / cfg->max_connect_size;
    if ((int64_t)b->npreauth < (cap > 0 ? cap : 1))
        return false;
    static uint64_t last_log_ms;
    uint64_t now = loop_now(b->loop);
    if (!last_log_ms || now - last_log_ms >= 1000) {
        last_log_ms = now;
        log_warn("conn_refused", "reason=\"pre-auth memory budget\" waiting=%u budget=%lld max_connect_size=%lld",
                 b->npreauth, (long long)cfg->max_preauth_memory, (long long)cfg->max_connect_size);
    }
    return true;
}

conn_t *conn_new(broker_t *b, int fd, const struct sockaddr *peer, const xport_kind_t *kind)
{
    if (preauth_full(b)) {
        close(fd);
        return NULL;
    }
    /* a transport's state lives right after the struct: one allocation, and
     * plain TCP connections pay nothing for it */
    conn_t *c = calloc(1, sizeof(*c) + (kind ? kind->ops->size : 0));
    if (!c) {
        close(fd);
        return NULL;
    }
    if (kind && kind->init((xport_t *)(c + 1), fd, kind->arg) < 0) {
        close(fd);
        free(c);
        return NULL;
    }
    c->has_xport = kind != NULL;
    if (kind) {
        conn_xport(c)->peer_addr = c->peer_addr;
        conn_xport(c)->peer_port = &c->peer_port;
    }
    c->fd = fd;
    c->b = b;
    c->rl_on = b->cfg->max_msg_rate || b->cfg->max_byte_rate;
    c->last_rx = (uint32_t)loop_now(b->loop);
    /* until CONNECT is accepted, a packet may be only as large as a CONNECT needs */
    int64_t first = b->cfg->max_connect_size < b->cfg->max_packet_size ? b->cfg->max_connect_size
                                                                         : b->cfg->max_packet_size;
    mqtt_decoder_init(&c->dec, (uint32_t)first, true);
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)peer;
        memcpy(c->peer_addr, &v6->sin6_addr, 16);
        c->peer_port = ntohs(v6->sin6_port);
    } else if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)peer;
        c->peer_addr[10] = 0xff;
        c->peer_addr[11] = 0xff;
        memcpy(&c->peer_addr[12], &v4->sin_addr, 4);
        c->peer_port = ntohs(v4->sin_port);
    }
    if (loop_add_fd(b->loop, fd, LOOP_READ, on_io, c) < 0) {
        if (c->has_xport)
            conn_xport(c)->ops->fini(conn_xport(c));
        close(fd);
        free(c);
        return NULL;
    }
    c->next = b->conns;
    if (b->conns)
        b->conns->prev = c;
    b->conns = c;
    b->nconns++;
    c->preauth = true;
    b->npreauth++;
    b->stats.connections_total++;
    return c;
}

void conn_accepted(conn_t *c)
{
    c->dec.max_packet = (uint32_t)c->b->cfg->max_packet_size;
    if (c->preauth) {
        c->preauth = false;
        c->b->npreauth--;
    }
}

const char *conn_peer(const conn_t *c, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    const uint8_t *a = c->peer_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0)
        inet_ntop(AF_INET, a + 12, addr, sizeof(addr));
    else
        inet_ntop(AF_INET6, a, addr, sizeof(addr));
    snprintf(out, cap, "%s:%u", addr, c->peer_port);
    return out;
}

static void mark_flush(conn_t *c)
{
    if (!c->on_flush) {
        c->on_flush = true;
        c->flush_next = c->b->flush_head;
        c->b->flush_head = c;
    }
}

int conn_write(conn_t *c, const void *p, size_t n)
{
    int rc = buf_append(&c->out, p, n);
    if (rc == 0)
        mark_flush(c);
    return rc;
}

/* Size of a PUBLISH of m at qos for c with a property list of props_len
 * bytes (5.0 only). */
static size_t publish_size(const conn_t *c, const msg_t *m, uint8_t qos, size_t props_len)
{
    size_t rem = 2 + (size_t)m->topic_len + (qos ? 2 : 0) + m->payload_len;
    if (c->version == MQTT_V5)
        rem += mqtt_varint_size((uint32_t)props_len) + props_len;
    return 1 + mqtt_varint_size((uint32_t)rem) + rem;
}

bool conn_publish_fits(const conn_t *c, const msg_t *m, uint8_t qos, size_t props_len)
{
    /* no limit from the client (UINT32_MAX): every packet fits */
    return !c->v5 || c->v5->max_packet >= MQTT_MAX_REMAINING + 5u ||
           publish_size(c, m, qos, props_len) <= c->v5->max_packet;
}

static int write_publish(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                         bool retain, mqtt_str_t props, bool no_topic);

/* A PUBLISH with a Topic Alias (conn5_alias_out): the alias property is
 * added to the list and, when the client knows it, the topic left empty. */
static int send_publish_aliased(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                                bool retain, mqtt_str_t props, uint16_t alias, bool known);

int conn_send_publish_props(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                            bool retain, mqtt_str_t props)
{
    if (c->v5 && c->v5->alias_out_max) {
        bool known;
        uint16_t alias = conn5_alias_out(c, msg_topic(m), m->topic_len, &known);
        if (alias)
            return send_publish_aliased(c, m, qos, pid, dup, retain, props, alias, known);
    }
    return write_publish(c, m, qos, pid, dup, retain, props, false);
}

static int send_publish_aliased(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                                bool retain, mqtt_str_t props, uint16_t alias, bool known)
{
    uint8_t small[512];
    size_t n = props.len + 3;
    uint8_t *list = n <= sizeof(small) ? small : malloc(n);
    if (!list)
        return -ENOMEM;
    if (props.len)
        memcpy(list, props.ptr, props.len);
    mqtt_prop_t a = {.id = MQTT_PROP_TOPIC_ALIAS, .num = alias};
    mqtt_prop_encode(list + props.len, 3, &a);
    int rc = write_publish(c, m, qos, pid, dup, retain, (mqtt_str_t){list, (uint32_t)n}, known);
    if (rc == 0 && !known)
        rc = conn5_alias_commit(c, alias, msg_topic(m), m->topic_len);
    if (list != small)
        free(list);
    return rc;
}

static int write_publish(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup,
                         bool retain, mqtt_str_t props, bool no_topic)
{
    if (!conn_publish_fits(c, m, qos, props.len) &&
        !(no_topic && publish_size(c, m, qos, props.len) - m->topic_len <= c->v5->max_packet))
        return CONN_TOO_LARGE;
    mqtt_publish_t p = {
        .qos = qos,
        .dup = dup,
        .retain = retain,
        .packet_id = pid,
        .topic = {(const uint8_t *)msg_topic(m), no_topic ? 0 : m->topic_len},
        .payload = {msg_payload(m), m->payload_len},
        .props = props,
    };
    /* the header is at most: type, 4-byte remaining length, topic length and
     * topic, packet id, and (5.0) the property length and list; reserving
     * that bound lets the header be encoded once, straight into the buffer */
    size_t bound = 1 + 4 + 2 + m->topic_len + 2 + 4 + props.len;
    int rc = buf_reserve(&c->out, bound + m->payload_len);
    if (rc)
        return rc;
    size_t hlen = mqtt_encode_publish_header(buf_tail(&c->out), buf_space(&c->out), c->version, &p);
    assert(hlen <= bound);
    buf_commit(&c->out, hlen);
    if (m->payload_len)
        memcpy(buf_tail(&c->out), msg_payload(m), m->payload_len);
    buf_commit(&c->out, m->payload_len);
    c->b->stats.msgs_out++;
    mark_flush(c);
    return 0;
}

/* A PUBLISH to a 5.0 client: with the message's 5.0 properties, expiry
 * or Subscription Identifiers (publish5.h), a Topic Alias, within the
 * client's Maximum Packet Size. */
static __attribute__((noinline)) int send_publish_v5(conn_t *c, const msg_t *m, uint8_t qos,
                                                     uint16_t pid, bool dup, bool retain,
                                                     const pub_ids_t *ids)
{
    if (publish5_wanted(c, m, ids))
        return publish5_send(c, m, qos, pid, dup, retain, ids);
    static const mqtt_str_t none = {NULL, 0};
    return conn_send_publish_props(c, m, qos, pid, dup, retain, none);
}

int conn_send_publish(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup, bool retain,
                      const pub_ids_t *ids)
{
    if (c->v5) /* (one test: every 5.0 part is behind it) */
        return send_publish_v5(c, m, qos, pid, dup, retain, ids);
    static const mqtt_str_t none = {NULL, 0};
    return write_publish(c, m, qos, pid, dup, retain, none, false);
}

/* conn_send_ack_rc for a 5.0 client. */
static __attribute__((noinline)) int send_ack_v5(conn_t *c, uint8_t type, uint16_t pid, uint8_t rc)
{
    /* the end of an inbound QoS 1/2 exchange frees a Receive Maximum
     * slot: PUBACK, PUBCOMP, or a PUBREC refusing (3.3.4); not a PUBCOMP
     * for an id the client never used (0x92), or a client could widen
     * its own quota with stray PUBRELs */
    bool ends = type == MQTT_PUBACK || (type == MQTT_PUBCOMP && rc != MQTT_RC_PACKET_ID_NOT_FOUND) ||
                (type == MQTT_PUBREC && rc >= 0x80);
    if (ends && c->v5->rx_unacked)
        c->v5->rx_unacked--;
    uint8_t tmp[96], props[64];
    mqtt_str_t none = {NULL, 0}; /* a Reason String only with a failure code */
    size_t n = mqtt_encode_ack_v5(tmp, sizeof(tmp), type, pid, rc,
                                  rc >= 0x80 ? conn5_ack_reason(c, type, rc, props, sizeof(props)) : none);
    return conn_write(c, tmp, n);
}

/* Bytes of a 3.1.1 acknowledgement: fixed header, remaining length 2,
 * packet id. */
#define ACK_311_SIZE 4

int conn_send_ack_rc(conn_t *c, uint8_t type, uint16_t pid, uint8_t rc)
{
    if (c->v5)
        return send_ack_v5(c, type, pid, rc);
    /* encoded straight into the output, as a PUBLISH header is */
    int err = buf_reserve(&c->out, ACK_311_SIZE);
    if (err)
        return err;
    size_t n = mqtt_encode_ack(buf_tail(&c->out), buf_space(&c->out), c->version, type, pid, 0);
    assert(n == ACK_311_SIZE);
    buf_commit(&c->out, n);
    mark_flush(c);
    return 0;
}

int conn_send_ack(conn_t *c, uint8_t type, uint16_t pid)
{
    return conn_send_ack_rc(c, type, pid, 0);
}

void conn_close(conn_t *c, const char *reason)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->close_reason = reason;
    if (c->preauth) {
        c->preauth = false;
        c->b->npreauth--;
    }
    if (c->auth)
        authc_cancel(c->b->authc, c);
    if (c->serial)
        map_del(&c->b->conns_by_serial, (const char *)&c->serial, sizeof(c->serial));
    if (c->adopt)
        adopt_cancel(c);
    if (c->sess && c->sess->conn == c)
        c->sess->conn = NULL;
    /* keep the fd registered for nothing: output gets one last flush */
    loop_mod_fd(c->b->loop, c->fd, 0);
    c->close_next = c->b->close_head;
    c->b->close_head = c;
}

/* Feeds bytes to the dispatcher; keeps an unconsumed tail in c->in. */
/* --proxy-protocol: the load balancer's PROXY header comes first and names
 * the real client. Returns the bytes it took, 0 while incomplete, or
 * SIZE_MAX after closing a connection that did not start with one. */
static size_t proxy_header(conn_t *c, const uint8_t *data, size_t len)
{
    proxy_info_t pi;
    size_t used = 0;
    const cidr_list_t *trusted = &c->b->cfg->proxy_trusted_list;
    if (trusted->n && !cidr_list_match(trusted, c->peer_addr)) {
        char peer[64];
        log_info("conn_refused", "peer=%s reason=\"PROXY header from an address not in --proxy-trusted\"",
                 conn_peer(c, peer, sizeof(peer)));
        conn_close(c, "proxy_untrusted");
        return SIZE_MAX;
    }
    int rc = proxy_parse(data, len, &used, &pi);
    if (rc == PROXY_NEED_MORE)
        return 0;
    if (rc < 0) {
        char peer[64];
        log_info("conn_refused", "peer=%s reason=\"no valid PROXY protocol header\"",
                 conn_peer(c, peer, sizeof(peer)));
        conn_close(c, "bad_proxy_header");
        return SIZE_MAX;
    }
    c->proxied = true;
    if (pi.has_addr) {
        memcpy(c->peer_addr, pi.addr, sizeof(c->peer_addr));
        c->peer_port = pi.port;
    }
    return used;
}

static void process(conn_t *c, const uint8_t *data, size_t len, bool from_in)
{
    size_t used = 0;
    if (c->b->cfg->proxy_protocol && !c->proxied) {
        size_t h = proxy_header(c, data, len);
        if (h == SIZE_MAX)
            return;
        if (h == 0) { /* keep the partial header */
            if (!from_in && buf_append(&c->in, data, len) < 0)
                conn_close(c, "out_of_memory");
            return;
        }
        used = h;
        if (c->has_xport) {
            /* what follows the header is the transport's (a TLS ClientHello):
             * give it back; do_read reads on while the transport holds bytes */
            xport_t *x = conn_xport(c);
            if (x->ops->unread(x, data + used, len - used) < 0)
                conn_close(c, "out_of_memory");
            if (from_in)
                buf_consume(&c->in, len);
            return;
        }
    }
    used += dispatch_input(c, data + used, len - used);
    if (c->state == CONN_CLOSING)
        return;
    if (from_in) {
        buf_consume(&c->in, used);
        return;
    }
    if (used < len && buf_append(&c->in, data + used, len - used) < 0)
        conn_close(c, "out_of_memory");
}

/* The I/O functions below take xport, c->has_xport, as a parameter: each is
 * inlined into a caller that tests the flag once and calls them with a
 * constant, so plain TCP's path (false) has no transport test in it. */
#define IO_INLINE static inline __attribute__((always_inline))

/* The socket's bytes, or the transport's: plain TCP reads the socket (as does
 * a transport's connection until its PROXY header is read). */
IO_INLINE ssize_t conn_recv(conn_t *c, void *p, size_t n, bool xport)
{
    if (!xport || (c->b->cfg->proxy_protocol && !c->proxied))
        return read(c->fd, p, n);
    xport_t *x = conn_xport(c);
    return x->ops->read(x, p, n);
}

IO_INLINE ssize_t conn_send(conn_t *c, const void *p, size_t n, bool xport)
{
    if (!xport)
        return write(c->fd, p, n);
    xport_t *x = conn_xport(c);
    return x->ops->write(x, p, n);
}

/* A transport failure that is the peer's doing (a bad handshake, a
 * certificate refused, plain MQTT on the TLS port): one log line naming it. */
static void xport_failed(conn_t *c)
{
    char peer[64];
    xport_t *x = conn_xport(c);
    log_info("conn_refused", "peer=%s transport=%s stage=%s reason=\"%s\"",
             conn_peer(c, peer, sizeof(peer)), x->ops->name, x->ops->stage(x), x->ops->error(x));
    conn_close(c, "transport_error");
}

/* One read and its processing. Returns what the read returned. */
IO_INLINE ssize_t read_once(conn_t *c, bool xport)
{
    broker_t *b = c->b;
    ssize_t n;
    if (buf_unread(&c->in) == 0) {
        n = conn_recv(c, b->scratch, BROKER_READ_CHUNK, xport);
        if (n > 0) {
            process(c, b->scratch, (size_t)n, false);
            return n;
        }
    } else {
        size_t want = c->dec.need > buf_unread(&c->in) ? c->dec.need - buf_unread(&c->in) : 0;
        if (want < 4096)
            want = 4096;
        if (want > BROKER_READ_CHUNK)
            want = BROKER_READ_CHUNK;
        if (buf_reserve(&c->in, want) < 0) {
            conn_close(c, "out_of_memory");
            return -1;
        }
        n = conn_recv(c, buf_tail(&c->in), buf_space(&c->in), xport);
        if (n > 0) {
            buf_commit(&c->in, (size_t)n);
            process(c, buf_head(&c->in), buf_unread(&c->in), true);
            return n;
        }
    }
    if (n == 0) {
        conn_close(c, "peer_closed");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        if (xport && conn_xport(c)->ops->wants_write(conn_xport(c)) && !c->want_write) {
            /* the transport must write before it can read on (a handshake
             * message into a full socket): wake on writability too */
            loop_mod_fd(c->b->loop, c->fd, LOOP_READ | LOOP_WRITE);
            c->want_write = true;
        }
    } else if (errno == EPROTO && xport) {
        xport_failed(c);
    } else {
        conn_close(c, "read_error");
    }
    return n;
}

static inline bool reading(const conn_t *c)
{
    return c->state != CONN_CLOSING && c->state != CONN_AUTHING && !c->paused && !c->rl_held;
}

IO_INLINE void do_read(conn_t *c, bool xport)
{
    ssize_t n;
    /* a transport may hold bytes it already took off the socket (a TLS
     * read-ahead, what followed a PROXY header): epoll will not report them */
    do
        n = read_once(c, xport);
    while (xport && n > 0 && reading(c) && conn_xport(c)->ops->pending(conn_xport(c)));
}

/* Writes what it can; returns false when the socket failed. Inlined into
 * its callers: every delivery's write goes through it. */
IO_INLINE bool do_write(conn_t *c, bool xport)
{
    while (buf_unread(&c->out)) {
        ssize_t n = conn_send(c, buf_head(&c->out), buf_unread(&c->out), xport);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
    bool pending = buf_unread(&c->out) > 0;
    if (c->state != CONN_CLOSING && pending != c->want_write) {
        unsigned ev = (c->state == CONN_AUTHING || c->paused || c->rl_held ? 0 : LOOP_READ) |
                      (pending ? LOOP_WRITE : 0);
        loop_mod_fd(c->b->loop, c->fd, ev);
        c->want_write = pending;
    }
    return true;
}

IO_INLINE void io(conn_t *c, unsigned events, bool xport)
{
    if (xport && (events & LOOP_WRITE) && reading(c) &&
        conn_xport(c)->ops->wants_write(conn_xport(c)))
        events |= LOOP_READ; /* the transport's read was waiting for this */
    if ((events & LOOP_WRITE) && c->state != CONN_CLOSING) {
        if (!do_write(c, xport)) {
            conn_close(c, "write_error");
            return;
        }
    }
    if ((events & LOOP_READ) && reading(c))
        do_read(c, xport);
}

static void on_io(loop_t *l, int fd, unsigned events, void *arg)
{
    conn_t *c = arg;
    if (c->has_xport)
        io(c, events, true);
    else
        io(c, events, false); /* plain TCP: no transport test on its path */
}

#define DENY_LOG_BURST 5         /* denials logged per connection and window */
#define DENY_LOG_WINDOW_MS 10000

void conn_log_denied(conn_t *c, const char *event, const char *field, const void *value,
                     size_t len)
{
    if (!log_enabled(LOG_INFO))
        return;
    uint32_t held;
    bool now = log_limit_allow(&c->deny_log, (uint32_t)loop_now(c->b->loop), DENY_LOG_BURST,
                               DENY_LOG_WINDOW_MS, &held);
    if (!now && !held)
        return;
    char qid[LOG_QUOTE_CAP], qv[LOG_QUOTE_CAP];
    session_t *s = c->sess;
    log_quote(qid, sizeof(qid), s ? s->id : "", s ? s->id_len : 0);
    if (held)
        log_info("denied_suppressed", "client_id=%s count=%u window_ms=%d", qid, held,
                 DENY_LOG_WINDOW_MS);
    if (now)
        log_info(event, "client_id=%s %s=%s", qid, field, log_quote(qv, sizeof(qv), value, len));
}

uint64_t conn_handle(conn_t *c)
{
    if (!c->serial) {
        c->serial = ++c->b->next_serial;
        if (map_put(&c->b->conns_by_serial, (const char *)&c->serial, sizeof(c->serial), c,
                    NULL) < 0)
            c->serial = 0;
    }
    return c->serial;
}

int conn_set_who(conn_t *c, const char *username, const char *client_id, const char *groups)
{
    size_t lu = username ? strlen(username) + 1 : 0, lc = strlen(client_id), lg = strlen(groups);
    char *w = malloc(1 + lu + lc + 1 + lg + 1);
    if (!w)
        return -ENOMEM;
    w[0] = username != NULL;
    char *p = w + 1;
    if (username)
        p = (char *)memcpy(p, username, lu) + lu;
    memcpy(p, client_id, lc + 1);
    memcpy(p + lc + 1, groups, lg + 1);
    free(c->who);
    c->who = w;
    return 0;
}

const char *conn_username(const conn_t *c) { return c->who && c->who[0] ? c->who + 1 : NULL; }

const char *conn_store_id(const conn_t *c)
{
    if (!c->who)
        return "";
    const char *p = c->who + 1;
    return c->who[0] ? p + strlen(p) + 1 : p;
}

const char *conn_groups(const conn_t *c)
{
    const char *id = conn_store_id(c);
    return c->who ? id + strlen(id) + 1 : "";
}

conn_t *conn_by_serial(broker_t *b, uint64_t serial)
{
    return map_get(&b->conns_by_serial, (const char *)&serial, sizeof(serial));
}

void conn_pause(conn_t *c)
{
    c->paused = true;
    loop_mod_fd(c->b->loop, c->fd, c->want_write ? LOOP_WRITE : 0);
}

/* Lets every held connection whose time has come read again, and sets the
 * timer for the next one. */
static void release_due(broker_t *b)
{
    uint64_t now = loop_clock_ms(), next = UINT64_MAX;
    for (conn_t *c = b->conns; c; c = c->next) {
        if (!c->rl_held || c->state == CONN_CLOSING)
            continue;
        if (now >= c->rl_until) {
            c->rl_held = false;
            c->last_rx = (uint32_t)loop_now(b->loop);
            if (!c->paused)
                conn_resume(c);
        } else if (c->rl_until < next) {
            next = c->rl_until;
        }
    }
    if (next != UINT64_MAX)
        conn_hold_timer(b, next, now);
}

static uint64_t on_release_timer(loop_t *l, void *arg)
{
    broker_t *b = arg;
    b->rl_timer = 0;
    release_due(b);
    return 0;
}

static void conn_hold_timer(broker_t *b, uint64_t at, uint64_t now)
{
    if (b->rl_timer && b->rl_timer_at <= at)
        return;
    if (b->rl_timer)
        loop_del_timer(b->loop, b->rl_timer);
    b->rl_timer = loop_add_timer(b->loop, at > now ? at - now : 1, on_release_timer, b);
    b->rl_timer_at = at;
}

void conn_hold(conn_t *c, uint64_t until_ms)
{
    c->rl_until = until_ms;
    conn_hold_timer(c->b, until_ms, loop_clock_ms());
    if (c->rl_held)
        return;
    c->rl_held = true;
    loop_mod_fd(c->b->loop, c->fd, c->want_write ? LOOP_WRITE : 0);
}

void conn_resume(conn_t *c)
{
    c->paused = false;
    if (c->state == CONN_CLOSING || c->state == CONN_AUTHING || c->rl_held)
        return;
    loop_mod_fd(c->b->loop, c->fd, LOOP_READ | (c->want_write ? LOOP_WRITE : 0));
    if (buf_unread(&c->in))
        process(c, buf_head(&c->in), buf_unread(&c->in), true);
    if (c->has_xport && reading(c) && conn_xport(c)->ops->pending(conn_xport(c)))
        do_read(c, true);
}

void conn_flush_all(broker_t *b)
{
    while (b->flush_head) {
        conn_t *c = b->flush_head;
        b->flush_head = c->flush_next;
        c->on_flush = false;
        c->flush_next = NULL;
        if (c->state == CONN_CLOSING)
            continue; /* conn_reap gives it its last write */
        if (!(c->has_xport ? do_write(c, true) : do_write(c, false)))
            conn_close(c, "write_error");
    }
}

static void store_done(int rc, void *arg)
{
    broker_t *b = arg;
    if (rc)
        b->stats.store_failures++;
}

static void conn_free(broker_t *b, conn_t *c)
{
    char peer[64];
    if (c->on_flush) {
        /* written to after the last flush (a DISCONNECT at shutdown): the
         * write below is its last chance; leave the flush list */
        conn_t **pp = &b->flush_head;
        while (*pp != c)
            pp = &(*pp)->flush_next;
        *pp = c->flush_next;
    }
    /* one last best-effort write (CONNACK refusals, SUBACKs before a close) */
    if (buf_unread(&c->out)) {
        ssize_t n = conn_send(c, buf_head(&c->out), buf_unread(&c->out), c->has_xport);
        (void)n;
    }
    loop_del_fd(b->loop, c->fd);
    if (c->has_xport)
        conn_xport(c)->ops->fini(conn_xport(c));
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nconns--;
    session_t *s = c->sess;
    /* sockets that never sent a CONNECT (load-balancer health checks, port
     * scans) close at debug level so they do not flood the log */
    char qid[LOG_QUOTE_CAP];
    LOG_AT(c->version ? LOG_INFO : LOG_DEBUG, "conn_closed", "peer=%s client_id=%s reason=%s",
           conn_peer(c, peer, sizeof(peer)), log_quote(qid, sizeof(qid), s ? s->id : "",
                                                       s ? s->id_len : 0),
           c->close_reason ? c->close_reason : "");
    if (c->deny_log.suppressed)
        log_info("denied_suppressed", "client_id=%s count=%u", qid, c->deny_log.suppressed);
    if (c->registered && b->cluster && s)
        sstore_conn_del(cluster_store(b->cluster), b->id, s->id, store_done, b);
    will_on_close(b, c, s); /* publishes, holds (5.0 Will Delay) or drops it */
    if (s && s->conn == NULL)
        session_closed(b, &s, c);
    free(c->who);
    conn5_free(c);
    buf_fini(&c->in);
    buf_fini(&c->out);
    free(c);
}

void conn_reap(broker_t *b)
{
    /* a will published while reaping may close more connections: pop until empty */
    while (b->close_head) {
        conn_t *c = b->close_head;
        b->close_head = c->close_next;
        conn_free(b, c);
    }
}

void conn_sweep(broker_t *b)
{
    uint32_t now = (uint32_t)loop_now(b->loop);
    uint64_t connect_ms = (uint64_t)b->cfg->connect_timeout * 1000u;
    for (conn_t *c = b->conns; c; c = c->next) {
        if (c->state == CONN_CLOSING)
            continue;
        if (c->rl_held) {
            c->last_rx = now; /* held by the rate limit (its timer releases it): not silence */
            continue;
        }
        uint32_t age = now - c->last_rx; /* mod 2^32 */
        if (c->state == CONN_NEW && age > connect_ms) {
            xport_t *x = conn_xport(c);
            if (x && strcmp(x->ops->stage(x), "handshake") == 0) {
                char peer[64];
                log_info("conn_refused", "peer=%s transport=%s stage=handshake reason=\"%s\"",
                         conn_peer(c, peer, sizeof(peer)), x->ops->name,
                         "handshake not finished within --connect-timeout");
            }
            conn_close(c, "connect_timeout");
            continue;
        }
        /* [MQTT-3.1.2-24]: one and a half times the keep-alive */
        if (c->state == CONN_ACTIVE && c->keepalive &&
            age > (uint64_t)c->keepalive * 1500u) {
            conn_disconnect(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout", "keepalive_timeout");
            continue;
        }
        if (age > 2000) {
            buf_release(&c->in);
            buf_release(&c->out);
        }
    }
}

#include "xport_ws.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <wslay/wslay.h>

#include "base/cidr.h"
#include "wsupgrade.h"

#define WOUT_CAP 4096  /* control output held for a peer that does not read: pongs beyond are skipped */

struct xws_server {
    wsup_policy_t policy;
    const cidr_list_t *trusted; /* --ws-trusted-proxies */
    uint64_t max_msg;       /* --max-packet-size + a fixed header's 5 bytes */
    xport_kind_t tls;       /* under wss (ops NULL: no wss) */
    xport_ops_t wss_ops;    /* WS_OPS sized for the TLS state behind */
    char errbuf[160];       /* error(): formatted for the log line written right after */
};

typedef struct ws_conn {
    xport_t base;
    xws_server_t *srv;
    wslay_frame_context_ptr fr;  /* frames both ways; NULL while idle (drop_idle_ctx) */
    uint8_t *req;                /* the Upgrade request being read; NULL once answered */
    uint8_t *prefix;             /* read before the socket: unread bytes, what followed the request */
    uint8_t *wout;               /* the handshake answer and control frames to write */
    uint8_t *ctl;                /* payload of the control frame being received */
    const uint8_t *rest;         /* payload inside fr the caller had no room for */
    size_t rest_len;
    const uint8_t *raw;          /* during read_frames: bytes read for fr (in the caller's buffer) */
    size_t raw_len, raw_pos;
    uint64_t fed, used;          /* bytes given to fr, bytes of the frames it returned */
    uint64_t in_left;            /* payload of the current inbound frame still to come */
    uint64_t msg_len;            /* payload of the current data message so far */
    uint64_t out_len, out_left;  /* the outbound frame being written: length, payload left */
    uint32_t prefix_len, prefix_pos, wout_len, wout_pos;
    uint16_t req_len, req_cap, msg_frames, code; /* code: the HTTP status or close code of err */
    uint8_t in_op, ctl_len, hdr_len;
    uint8_t hdr[14];             /* a frame header waiting to go out with its payload (plain ws) */
    bool secure, upgraded, in_frame, in_msg, close_sent, close_rcvd, eof, failed, want_write;
    int lower_errno;             /* errno of the last lower read or write that failed */
    const char *err;             /* static text of the failure */
} ws_conn_t;

static inline xport_t *inner(ws_conn_t *w) { return w->secure ? (xport_t *)(w + 1) : NULL; }

/* ---------------------------------------------------------------- the layer below */

static ssize_t lower_read(ws_conn_t *w, uint8_t *buf, size_t n)
{
    if (w->prefix_pos < w->prefix_len) {
        size_t k = w->prefix_len - w->prefix_pos;
        if (k > n)
            k = n;
        memcpy(buf, w->prefix + w->prefix_pos, k);
        w->prefix_pos += (uint32_t)k;
        if (w->prefix_pos == w->prefix_len) {
            free(w->prefix);
            w->prefix = NULL;
            w->prefix_len = w->prefix_pos = 0;
        }
        return (ssize_t)k;
    }
    xport_t *in = inner(w);
    return in ? in->ops->read(in, buf, n) : read(w->base.fd, buf, n);
}

static ssize_t lower_write(ws_conn_t *w, const uint8_t *buf, size_t n)
{
    xport_t *in = inner(w);
    return in ? in->ops->write(in, buf, n) : write(w->base.fd, buf, n);
}

static int append(uint8_t **p, uint32_t *len, const void *data, size_t n)
{
    uint8_t *q = realloc(*p, *len + n);
    if (!q)
        return -ENOMEM;
    memcpy(q + *len, data, n);
    *p = q;
    *len += (uint32_t)n;
    return 0;
}

/* Puts bytes back in front of what prefix still holds (read first next). */
static int give_back(ws_conn_t *w, const uint8_t *p, size_t n)
{
    size_t rest = w->prefix_len - w->prefix_pos;
    uint8_t *q = malloc(n + rest);
    if (!q)
        return -ENOMEM;
    memcpy(q, p, n);
    if (rest)
        memcpy(q + n, w->prefix + w->prefix_pos, rest);
    free(w->prefix);
    w->prefix = q;
    w->prefix_len = (uint32_t)(n + rest);
    w->prefix_pos = 0;
    return 0;
}

/* Writes what waits in wout: 0 when all went, else -1 with errno (EAGAIN:
 * want_write is set so the caller reads again once writable). */
static int flush_wout(ws_conn_t *w)
{
    while (w->wout_pos < w->wout_len) {
        ssize_t r = lower_write(w, w->wout + w->wout_pos, w->wout_len - w->wout_pos);
        if (r > 0) {
            w->wout_pos += (uint32_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            w->want_write = true;
        else if (r == 0)
            errno = EPIPE;
        return -1;
    }
    free(w->wout);
    w->wout = NULL;
    w->wout_len = w->wout_pos = 0;
    return 0;
}

/* ---------------------------------------------------------------- libwslay callbacks */

/* libwslay reads from the bytes read_frames took off the socket in one big
 * read (its own reads would be 4 KiB at most: many more syscalls). */
static ssize_t on_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)flags;
    ws_conn_t *w = ud;
    size_t k = w->raw_len - w->raw_pos;
    if (!k)
        return -1; /* libwslay: WSLAY_ERR_WANT_READ */
    if (k > len)
        k = len;
    memcpy(buf, w->raw + w->raw_pos, k);
    w->raw_pos += k;
    w->fed += k;
    return (ssize_t)k;
}

/* Plain ws sends a frame's header with its payload in one writev (two
 * writes would cost two syscalls and, with TCP_NODELAY, two segments):
 * libwslay hands the header first (WSLAY_MSG_MORE) and it waits in hdr. */
static ssize_t on_send(const uint8_t *data, size_t len, int flags, void *ud)
{
    ws_conn_t *w = ud;
    if (!w->secure && (flags & WSLAY_MSG_MORE) && len <= sizeof(w->hdr) && !w->hdr_len) {
        memcpy(w->hdr, data, len);
        w->hdr_len = (uint8_t)len;
        return (ssize_t)len;
    }
    ssize_t r;
    if (w->hdr_len) {
        struct iovec iov[2] = {{w->hdr, w->hdr_len}, {(void *)data, len}};
        r = writev(w->base.fd, iov, 2);
        if (r > 0) {
            size_t h = w->hdr_len;
            if ((size_t)r < h) {
                memmove(w->hdr, w->hdr + r, h - (size_t)r);
                w->hdr_len = (uint8_t)(h - (size_t)r);
                w->lower_errno = EAGAIN;
                return -1;
            }
            w->hdr_len = 0;
            r -= (ssize_t)h;
            if (r == 0) {
                w->lower_errno = EAGAIN;
                return -1;
            }
            return r;
        }
    } else {
        r = lower_write(w, data, len);
        if (r > 0)
            return r;
    }
    w->lower_errno = r == 0 ? EPIPE : errno;
    return -1; /* libwslay: WSLAY_ERR_WANT_WRITE */
}

/* A control frame encoded into wout (a throwaway context, so a data frame
 * half written on the main one is not disturbed; pongs and closes are rare). */
static ssize_t on_queue(const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)flags;
    ws_conn_t *w = ud;
    return append(&w->wout, &w->wout_len, data, len) < 0 ? -1 : (ssize_t)len;
}

static int no_mask(uint8_t *buf, size_t len, void *ud)
{
    (void)buf, (void)len, (void)ud;
    return -1; /* a server never masks */
}

static int queue_control(ws_conn_t *w, uint8_t op, const uint8_t *payload, size_t len)
{
    const struct wslay_frame_callbacks cb = {on_queue, NULL, no_mask};
    wslay_frame_context_ptr f;
    if (wslay_frame_context_init(&f, &cb, w) != 0)
        return -ENOMEM;
    struct wslay_frame_iocb io = {.fin = 1, .opcode = op, .payload_length = len, .data = payload,
                                  .data_length = len};
    ssize_t r = wslay_frame_send(f, &io);
    wslay_frame_context_free(f);
    return r < 0 ? -ENOMEM : 0;
}

static int queue_close(ws_conn_t *w, uint16_t code, const char *why)
{
    uint8_t p[125] = {(uint8_t)(code >> 8), (uint8_t)code};
    size_t n = why ? strlen(why) : 0;
    if (n > sizeof(p) - 2)
        n = sizeof(p) - 2;
    if (n)
        memcpy(p + 2, why, n);
    w->close_sent = true;
    return queue_control(w, WSLAY_CONNECTION_CLOSE, p, 2 + n);
}

static int frame_ctx(ws_conn_t *w)
{
    static const struct wslay_frame_callbacks cb = {on_send, on_recv, no_mask};
    return wslay_frame_context_init(&w->fr, &cb, w) == 0 ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- reading */

/* Fails the connection for the peer's frame: a close frame with code, the
 * reason for the log line. -1 with errno EPROTO. */
static ssize_t ws_fail(ws_conn_t *w, uint16_t code, const char *why)
{
    if (!w->close_sent && w->out_left == 0 && queue_close(w, code, why) == 0)
        flush_wout(w);
    w->code = code;
    w->err = why;
    w->failed = true;
    errno = EPROTO;
    return -1;
}

/* The first return of a new frame (its header is known). 0 or ws_fail. */
static int frame_start(ws_conn_t *w, const struct wslay_frame_iocb *io)
{
    uint64_t len = io->payload_length;
    w->in_frame = true;
    w->in_left = len;
    w->in_op = io->opcode;
    w->used += 2 + (len >= 65536 ? 8 : len >= 126 ? 2 : 0) + (io->mask ? 4 : 0);
    if (!io->mask)
        return (int)ws_fail(w, 1002, "unmasked client frame");
    if (io->rsv)
        return (int)ws_fail(w, 1002, "reserved bits set (no extension was negotiated)");
    switch (io->opcode) {
    case WSLAY_TEXT_FRAME:
        return (int)ws_fail(w, 1003, "text frame (MQTT travels in binary frames)");
    case WSLAY_BINARY_FRAME:
        if (w->in_msg)
            return (int)ws_fail(w, 1002, "new message inside a fragmented one");
        break;
    case WSLAY_CONTINUATION_FRAME:
        if (!w->in_msg)
            return (int)ws_fail(w, 1002, "continuation frame outside a fragmented message");
        break;
    case WSLAY_CONNECTION_CLOSE:
    case WSLAY_PING:
    case WSLAY_PONG:
        /* libwslay refused control frames over 125 bytes or fragmented */
        if (!w->ctl && !(w->ctl = malloc(125)))
            return (int)ws_fail(w, 1011, "out of memory");
        w->ctl_len = 0;
        return 0;
    default:
        return (int)ws_fail(w, 1002, "unknown opcode");
    }
    w->msg_len += len;
    if (w->msg_len > w->srv->max_msg)
        return (int)ws_fail(w, 1009, "message larger than --max-packet-size");
    if (++w->msg_frames > XWS_MAX_FRAMES)
        return (int)ws_fail(w, 1009, "message in too many frames");
    w->in_msg = !io->fin;
    return 0;
}

static bool close_code_valid(uint16_t c)
{
    return (c >= 1000 && c <= 1014 && c != 1004 && c != 1005 && c != 1006) || (c >= 3000 && c <= 4999);
}

/* A whole control frame arrived. 0, or ws_fail. */
static int control_done(ws_conn_t *w)
{
    uint8_t op = w->in_op, n = w->ctl_len;
    w->ctl_len = 0;
    if (op == WSLAY_PING) {
        if (w->wout_len - w->wout_pos <= WOUT_CAP && queue_control(w, WSLAY_PONG, w->ctl, n) == 0 &&
            w->out_left == 0)
            flush_wout(w);
        return 0;
    }
    if (op != WSLAY_CONNECTION_CLOSE)
        return 0; /* an unsolicited pong: nothing to do */
    uint16_t code = n >= 2 ? (uint16_t)(w->ctl[0] << 8 | w->ctl[1]) : 1000;
    if (n == 1 || (n >= 2 && !close_code_valid(code)))
        return (int)ws_fail(w, 1002, "invalid close frame");
    w->close_rcvd = true;
    if (!w->close_sent && w->out_left == 0 && queue_close(w, code, NULL) == 0)
        flush_wout(w);
    return 0;
}

/* Runs fr over what it holds and what raw holds, writing payload to
 * buf[got..n). Returns the new got, or -1 after ws_fail. */
static ssize_t pump(ws_conn_t *w, uint8_t *buf, size_t n, size_t got)
{
    while (got < n && !w->close_rcvd) {
        struct wslay_frame_iocb io;
        ssize_t r = wslay_frame_recv(w->fr, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        if (r < 0)
            return ws_fail(w, 1002, "malformed frame");
        if (!w->in_frame && frame_start(w, &io) < 0)
            return -1;
        w->used += (uint64_t)r;
        w->in_left -= (uint64_t)r;
        bool control = w->in_op & 0x8;
        if (control) {
            memcpy(w->ctl + w->ctl_len, io.data, (size_t)r);
            w->ctl_len += (uint8_t)r;
        } else {
            size_t k = (size_t)r < n - got ? (size_t)r : n - got;
            memcpy(buf + got, io.data, k);
            got += k;
            if (k < (size_t)r) {
                w->rest = io.data + k;
                w->rest_len = (size_t)r - k;
            }
        }
        if (w->in_left == 0) {
            w->in_frame = false;
            if (control && control_done(w) < 0)
                return -1;
            if (!control && io.fin)
                w->in_msg = false, w->msg_len = 0, w->msg_frames = 0;
        }
        if (w->rest_len)
            break;
    }
    return (ssize_t)got;
}

/* Payload of binary frames into buf: > 0 bytes, 0 the peer closed, -1.
 * First what fr still holds; only when that gives nothing, one read of up
 * to n bytes into buf itself, fed to fr: the payload written back to buf
 * never passes the bytes not yet fed (frame headers only shrink it). */
static ssize_t read_frames(ws_conn_t *w, uint8_t *buf, size_t n)
{
    ssize_t got = 0;
    if (w->rest_len) {
        got = (ssize_t)(w->rest_len < n ? w->rest_len : n);
        memcpy(buf, w->rest, (size_t)got);
        w->rest += got;
        w->rest_len -= (size_t)got;
        if (w->rest_len)
            return got;
    }
    if (!w->fr && frame_ctx(w) < 0)
        return got ? got : ws_fail(w, 1011, "out of memory");
    w->raw = NULL;
    w->raw_len = w->raw_pos = 0;
    if (w->fed > w->used && (got = pump(w, buf, n, (size_t)got)) < 0)
        return -1;
    if (got || w->close_rcvd)
        return got;
    ssize_t r = lower_read(w, buf, n);
    if (r <= 0) {
        if (r == 0)
            w->eof = true;
        return r;
    }
    w->raw = buf;
    w->raw_len = (size_t)r;
    got = pump(w, buf, n, 0);
    /* stopped early (a close frame, the caller's room): keep what is left */
    if (got >= 0 && w->raw_pos < w->raw_len && !w->close_rcvd &&
        give_back(w, w->raw + w->raw_pos, w->raw_len - w->raw_pos) < 0)
        return ws_fail(w, 1011, "out of memory");
    w->raw = NULL;
    w->raw_len = w->raw_pos = 0;
    if (got)
        return got;
    if (w->close_rcvd)
        return 0;
    errno = EAGAIN;
    return -1;
}

/* Reads and answers the Upgrade request: 1 upgraded, 0 the peer closed
 * before sending anything, -1 with errno (EAGAIN: more to come). */
static int upgrade(ws_conn_t *w)
{
    wsup_request_t r;
    size_t used = 0;
    int rc = WSUP_NEED_MORE;
    while (rc == WSUP_NEED_MORE) {
        /* the buffer grows to what the request needs (usually well under
         * 1 KiB), so a burst of Upgrades leaves no large holes in the heap */
        if (w->req_len == w->req_cap) {
            uint16_t cap = w->req_cap ? (uint16_t)(2 * w->req_cap) : 1024;
            if (cap > WSUP_MAX_HEAD) { /* wsup_parse refuses a head this long: not reached */
                errno = EPROTO;
                return -1;
            }
            uint8_t *q = realloc(w->req, cap);
            if (!q) {
                errno = ENOMEM;
                return -1;
            }
            w->req = q;
            w->req_cap = cap;
        }
        ssize_t n = lower_read(w, w->req + w->req_len, w->req_cap - w->req_len);
        if (n == 0 && w->req_len) {
            w->err = "the peer closed during the Upgrade request";
            errno = EPROTO;
        }
        if (n <= 0)
            return n == 0 && !w->req_len ? 0 : -1;
        w->req_len += (uint16_t)n;
        rc = wsup_parse(w->req, w->req_len, &r, &used);
    }
    wsup_verdict_t v = rc < 0 ? wsup_malformed(&r, rc) : wsup_check(&r, &w->srv->policy);
    /* behind a trusted HTTP proxy the client is the address it saw */
    uint8_t fwd[16];
    int f = v.status == 101 && w->srv->trusted->n && cidr_list_match(w->srv->trusted, w->base.peer_addr)
                ? wsup_forwarded_for(&r, fwd) : 0;
    if (f < 0)
        v = (wsup_verdict_t){400, "malformed X-Forwarded-For from a trusted proxy"};
    char resp[512];
    size_t len = wsup_response(&r, &v, resp, sizeof(resp)), sent = 0;
    ssize_t k = lower_write(w, (const uint8_t *)resp, len); /* a fresh socket takes it whole */
    if (k > 0)
        sent = (size_t)k;
    if (sent < len && append(&w->wout, &w->wout_len, resp + sent, len - sent) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if (v.status != 101) {
        if (w->wout)
            flush_wout(w);
        w->code = (uint16_t)v.status;
        w->err = v.reason;
        w->failed = true;
        errno = EPROTO;
        return -1;
    }
    if (f > 0) {
        memcpy(w->base.peer_addr, fwd, 16);
        *w->base.peer_port = 0;
    }
    /* frames the client sent right behind its request come first */
    if (used < w->req_len && give_back(w, w->req + used, w->req_len - used) < 0) {
        errno = ENOMEM;
        return -1;
    }
    free(w->req);
    w->req = NULL;
    w->req_len = w->req_cap = 0;
    w->upgraded = true;
    if (w->wout && flush_wout(w) < 0 && errno != EAGAIN)
        return -1;
    return 1;
}

/* ---------------------------------------------------------------- transport */

/* Frees the frame context when it holds nothing (no partial frame either
 * way): an idle connection keeps only ws_conn_t. Done after every read and
 * write rather than at the idle sweep, so a burst of connections does not
 * leave a 4 KiB hole each in the heap (RSS) once they go idle; a busy one
 * pays a malloc and a 4 KiB memset per read or write (measured: bench/ws.py). */
static void drop_idle_ctx(ws_conn_t *w)
{
    if (w->fr && !w->in_frame && w->fed == w->used && !w->rest_len && !w->out_left && !w->hdr_len) {
        wslay_frame_context_free(w->fr);
        w->fr = NULL;
        w->fed = w->used = 0;
    }
}

static ssize_t ws_read_frames(ws_conn_t *w, uint8_t *buf, size_t n)
{
    ssize_t r = read_frames(w, buf, n);
    drop_idle_ctx(w);
    return r;
}

static ssize_t ws_read(xport_t *x, void *buf, size_t n)
{
    ws_conn_t *w = (ws_conn_t *)x;
    w->want_write = false;
    if (w->failed) {
        errno = EPROTO;
        return -1;
    }
    if (!w->upgraded) {
        int r = upgrade(w);
        if (r <= 0)
            return r;
    }
    if (w->wout && w->out_left == 0 && flush_wout(w) < 0)
        return -1;
    return ws_read_frames(w, buf, n);
}

static ssize_t ws_write(xport_t *x, const void *buf, size_t n)
{
    ws_conn_t *w = (ws_conn_t *)x;
    if (!w->upgraded || w->close_sent || w->failed) {
        errno = EPIPE;
        return -1;
    }
    if (w->out_left == 0 && w->wout && flush_wout(w) < 0)
        return -1;
    if (!w->fr && frame_ctx(w) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if (w->out_left == 0)
        w->out_len = w->out_left = n;
    struct wslay_frame_iocb io = {.fin = 1, .opcode = WSLAY_BINARY_FRAME, .payload_length = w->out_len,
                                  .data = buf, .data_length = n < w->out_left ? n : w->out_left};
    w->lower_errno = EAGAIN;
    ssize_t r = wslay_frame_send(w->fr, &io);
    if (r <= 0) {
        errno = r == WSLAY_ERR_WANT_WRITE || r == 0 ? w->lower_errno : EPROTO;
        return -1;
    }
    w->out_left -= (uint64_t)r;
    drop_idle_ctx(w);
    return r;
}

static bool ws_pending(const xport_t *x)
{
    ws_conn_t *w = (ws_conn_t *)x;
    xport_t *in = inner(w);
    return w->prefix_pos < w->prefix_len || w->rest_len || (w->fr && w->fed > w->used) ||
           (in && in->ops->pending(in));
}

static bool ws_wants_write(const xport_t *x)
{
    ws_conn_t *w = (ws_conn_t *)x;
    xport_t *in = inner(w);
    return w->want_write || (in && in->ops->wants_write(in));
}

static int ws_unread(xport_t *x, const void *buf, size_t n)
{
    ws_conn_t *w = (ws_conn_t *)x;
    xport_t *in = inner(w);
    if (in)
        return in->ops->unread(in, buf, n);
    return n ? append(&w->prefix, &w->prefix_len, buf, n) : 0;
}

static const char *ws_error(const xport_t *x)
{
    ws_conn_t *w = (ws_conn_t *)x;
    xport_t *in = inner(w);
    if (!w->err)
        return in ? in->ops->error(in) : "WebSocket error";
    if (!w->code)
        return w->err;
    snprintf(w->srv->errbuf, sizeof(w->srv->errbuf), "%s %u: %s", w->upgraded ? "close" : "HTTP",
             w->code, w->err);
    return w->srv->errbuf;
}

static const char *ws_stage(const xport_t *x)
{
    ws_conn_t *w = (ws_conn_t *)x;
    xport_t *in = inner(w);
    if (in && strcmp(in->ops->stage(in), "established") != 0)
        return in->ops->stage(in);
    return w->upgraded ? "established" : w->req_len || in ? "handshake" : "silent";
}

static int ws_peer_cert(const xport_t *x, tlscert_facts_t *out)
{
    ws_conn_t *w = (ws_conn_t *)x;
    xport_t *in = inner(w);
    return in && in->ops->peer_cert ? in->ops->peer_cert(in, out) : 0;
}

static void ws_fini(xport_t *x)
{
    ws_conn_t *w = (ws_conn_t *)x;
    /* the broker closes: close 1000, best effort, never waited for */
    if (w->upgraded && !w->close_sent && !w->failed && !w->eof && w->out_left == 0)
        queue_close(w, 1000, NULL);
    if (w->wout && w->out_left == 0 && !w->eof)
        flush_wout(w);
    if (w->fr)
        wslay_frame_context_free(w->fr);
    free(w->req);
    free(w->prefix);
    free(w->wout);
    free(w->ctl);
    xport_t *in = inner(w);
    if (in)
        in->ops->fini(in);
}

static const xport_ops_t WS_OPS = {
    .name = "ws",
    .size = sizeof(ws_conn_t),
    .read = ws_read,
    .write = ws_write,
    .pending = ws_pending,
    .wants_write = ws_wants_write,
    .unread = ws_unread,
    .error = ws_error,
    .stage = ws_stage,
    .peer_cert = ws_peer_cert,
    .fini = ws_fini,
};

static int ws_init(xport_t *x, int fd, void *arg, bool secure)
{
    xws_server_t *s = arg;
    ws_conn_t *w = (ws_conn_t *)x;
    w->base.ops = secure ? &s->wss_ops : &WS_OPS;
    w->base.fd = fd;
    w->srv = s;
    w->secure = secure;
    return secure ? s->tls.init(inner(w), fd, s->tls.arg) : 0;
}

static int ws_init_plain(xport_t *x, int fd, void *arg) { return ws_init(x, fd, arg, false); }
static int ws_init_secure(xport_t *x, int fd, void *arg) { return ws_init(x, fd, arg, true); }

xport_kind_t xws_kind(xws_server_t *s, bool secure)
{
    return secure ? (xport_kind_t){&s->wss_ops, ws_init_secure, s}
                  : (xport_kind_t){&WS_OPS, ws_init_plain, s};
}

xws_server_t *xws_server_new(const broker_config_t *cfg, const xport_kind_t *tls)
{
    xws_server_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    /* OpenSSL loads its SHA-1 (providers, tables: megabytes of RSS) on first
     * use: at start, not in the middle of the first Upgrades */
    char warm[29];
    wsup_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, warm);
    s->policy = (wsup_policy_t){cfg->ws_path, cfg->ws_allowed_origins};
    s->trusted = &cfg->ws_trusted_proxies_list;
    s->max_msg = (uint64_t)cfg->max_packet_size + 5;
    s->wss_ops = WS_OPS;
    s->wss_ops.name = "wss";
    if (tls) {
        s->tls = *tls;
        /* the TLS state follows ours, aligned as the allocation is */
        s->wss_ops.size = sizeof(ws_conn_t) + tls->ops->size;
    }
    return s;
}

void xws_server_destroy(xws_server_t **sp)
{
    free(*sp);
    *sp = NULL;
}

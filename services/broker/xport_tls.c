#include "xport_tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/log.h"
#include "tls/tlsctx.h"
#include "tls/tlsticket.h"

/* What a file looked like when last read: a change to any means reload. */
typedef struct stamp {
    struct timespec mtime;
    off_t size;
    ino_t ino;
    bool exists;
} stamp_t;

struct xtls_server {
    SSL_CTX *ctx;          /* new handshakes use this one */
    BIO_METHOD *bio_meth;  /* socket BIO with a give-back prefix */
    const broker_config_t *cfg;
    stamp_t stamps[3];     /* --tls-cert, --tls-key, --tls-ca */
    unsigned polls;
    bool from_admin;       /* ctx holds admin's certificates (files not reloaded) */
    bool refused_logged;   /* "no certificate yet" said once */
    tlsticket_ring_t *tickets; /* the cluster's ticket keys, once xtls_server_set_tickets gave some */
};

/* ctx serves new handshakes (connections keep a reference to the context
 * they started with), with the cluster's ticket keys when there are any. */
static void serve(xtls_server_t *s, SSL_CTX *ctx)
{
    if (s->tickets && tlsticket_install(ctx, s->tickets) < 0)
        log_warn("tls_tickets_failed", "detail=\"this context issues tickets only it can open\"");
    SSL_CTX_free(s->ctx);
    s->ctx = ctx;
}

void xtls_server_set_tickets(xtls_server_t *s, const uint8_t keys[][TLSTICKET_KEY_LEN], size_t n)
{
    if (!s->tickets) {
        if (!(s->tickets = tlsticket_ring_new()))
            return;
        log_info("tls_tickets", "source=cluster keys=%zu detail=\"session tickets open on every broker\"", n);
        if (s->ctx && tlsticket_install(s->ctx, s->tickets) < 0)
            log_warn("tls_tickets_failed", "detail=\"this context issues tickets only it can open\"");
    }
    tlsticket_ring_set(s->tickets, keys, n);
}

typedef struct tls_conn {
    xport_t base;
    SSL *ssl;
    uint8_t *prefix;       /* bytes given back by unread, read before the socket */
    uint32_t prefix_len, prefix_pos;
    uint8_t *held;         /* a TLS 1.3 session ticket not sent yet: it goes out with the next write */
    uint32_t held_len;
    bool got_bytes;        /* the peer sent something (a silent close is no TLS failure) */
    bool handshaked;
    bool reneg;            /* a renegotiation began: the connection fails */
    bool want_write;
    bool failed;           /* fatal: no close_notify on the way out */
    bool eof_bare;         /* the socket reached EOF with no close_notify from the peer */
    const char *err;       /* static text of the last failure */
} tls_conn_t;

/* ---------------------------------------------------------------- socket BIO */

static int bio_read(BIO *bio, char *buf, int len)
{
    tls_conn_t *t = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (t->prefix_pos < t->prefix_len) {
        uint32_t n = t->prefix_len - t->prefix_pos;
        if (n > (uint32_t)len)
            n = (uint32_t)len;
        memcpy(buf, t->prefix + t->prefix_pos, n);
        t->prefix_pos += n;
        if (t->prefix_pos == t->prefix_len) {
            free(t->prefix);
            t->prefix = NULL;
            t->prefix_len = t->prefix_pos = 0;
        }
        return (int)n;
    }
    ssize_t n = read(t->base.fd, buf, (size_t)len);
    if (n > 0)
        t->got_bytes = true;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(bio);
    else if (n == 0) {
        errno = 0; /* EOF: SSL_ERROR_SYSCALL/ZERO_RETURN with errno 0 */
        /* (OpenSSL stops reading once it has the peer's close_notify, so
         * this EOF came without one unless an earlier read brought it) */
        t->eof_bare = !(SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN);
    }
    return (int)n;
}

/* Sends what is held, then (when given) buf in the same write. Returns how
 * many bytes of buf went out, or -1 (errno) when not all of it, held
 * included, could: the held bytes are kept, less what went. */
static ssize_t send_held(tls_conn_t *t, const char *buf, size_t len)
{
    struct iovec iov[2] = {{t->held, t->held_len}, {(void *)buf, len}};
    ssize_t n = writev(t->base.fd, iov, len ? 2 : 1);
    if (n < 0)
        return -1;
    if ((size_t)n < t->held_len) {
        memmove(t->held, t->held + n, t->held_len - (size_t)n);
        t->held_len -= (uint32_t)n;
        errno = EAGAIN;
        return -1;
    }
    n -= t->held_len;
    free(t->held);
    t->held = NULL;
    t->held_len = 0;
    if (n == 0 && len) {
        errno = EAGAIN;
        return -1;
    }
    return n;
}

/* TLS 1.3's session ticket is written just after the client's Finished is
 * read, when the client's first MQTT packet (CONNECT) is often in the same
 * read: the ticket is held and goes out in one write with the CONNACK (or at
 * the latest when a read finds nothing more to process: tls_read). One write
 * system call fewer per handshake. A TLS 1.2 ticket is part of the
 * handshake's last flight and is never held. */
static bool holds(const tls_conn_t *t)
{
    return SSL_get_state(t->ssl) == TLS_ST_SW_SESSION_TICKET && SSL_version(t->ssl) == TLS1_3_VERSION;
}

static int bio_write(BIO *bio, const char *buf, int len)
{
    tls_conn_t *t = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n;
    if (len > 0 && holds(t)) {
        uint8_t *p = realloc(t->held, t->held_len + (size_t)len);
        if (p) {
            memcpy(p + t->held_len, buf, (size_t)len);
            t->held = p;
            t->held_len += (uint32_t)len;
            return len;
        }
    }
    n = t->held_len ? send_held(t, buf, (size_t)len) : write(t->base.fd, buf, (size_t)len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(bio);
    return (int)n;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)bio, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* writes go straight to the socket */
}

/* ---------------------------------------------------------------- transport */

/* Maps a failed SSL call to the xport contract (-1 + errno, or 0). */
static ssize_t tls_fail(tls_conn_t *t, int r)
{
    int saved = errno;
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_WRITE:
        t->want_write = true;
        /* fallthrough */
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (e == SSL_ERROR_SYSCALL && saved != 0) {
            t->failed = true;
            errno = saved;
            return -1;
        }
        if (!t->handshaked && t->got_bytes) {
            t->failed = true;
            t->err = "the peer closed during the TLS handshake";
            errno = EPROTO;
            return -1;
        }
        return 0; /* close_notify, or a clean EOF */
    default: {
        long v = SSL_get_verify_result(t->ssl);
        unsigned long ec = ERR_peek_last_error();
        if (!t->handshaked && v != X509_V_OK)
            t->err = X509_verify_cert_error_string(v);
        else
            t->err = ec && ERR_reason_error_string(ec) ? ERR_reason_error_string(ec) : "TLS error";
        ERR_clear_error();
        t->failed = true;
        errno = EPROTO;
        return -1;
    }
    }
}

static ssize_t tls_read(xport_t *x, void *buf, size_t n)
{
    tls_conn_t *t = (tls_conn_t *)x;
    t->want_write = false;
    ERR_clear_error();
    if (!t->handshaked) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1)
            return tls_fail(t, r);
        t->handshaked = true;
        /* from now on the record buffers are freed whenever they are empty
         * (an idle connection holds none); not during the handshake, where
         * it would free and reallocate them between flights */
        SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
    }
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, n, &got);
    if (t->reneg) {
        t->failed = true;
        t->err = "renegotiation attempted";
        errno = EPROTO;
        return -1;
    }
    if (r == 1)
        return (ssize_t)got; /* a held ticket waits for the answer to these bytes */
    ssize_t rc = tls_fail(t, r);
    if (t->held_len && rc < 0 && errno == EAGAIN) {
        /* nothing more to answer now: the held ticket goes on its own */
        if (send_held(t, NULL, 0) < 0 && errno == EAGAIN)
            t->want_write = true; /* the caller waits for writability, then reads again */
        errno = EAGAIN;
    }
    return rc;
}

static ssize_t tls_write(xport_t *x, const void *buf, size_t n)
{
    tls_conn_t *t = (tls_conn_t *)x;
    size_t w = 0;
    ERR_clear_error();
    int r = SSL_write_ex(t->ssl, buf, n, &w);
    if (r == 1)
        return (ssize_t)w;
    ssize_t rc = tls_fail(t, r);
    t->want_write = false; /* the caller watches writability for its output anyway */
    if (rc == 0) {         /* the peer closed: a write cannot go on */
        errno = EPIPE;
        rc = -1;
    }
    return rc;
}

static bool tls_pending(const xport_t *x)
{
    const tls_conn_t *t = (const tls_conn_t *)x;
    return t->prefix_pos < t->prefix_len || SSL_has_pending(t->ssl);
}

static bool tls_wants_write(const xport_t *x) { return ((const tls_conn_t *)x)->want_write; }

static int tls_unread(xport_t *x, const void *buf, size_t n)
{
    tls_conn_t *t = (tls_conn_t *)x;
    if (n == 0)
        return 0;
    uint8_t *p = realloc(t->prefix, t->prefix_len + n);
    if (!p)
        return -ENOMEM;
    memcpy(p + t->prefix_len, buf, n);
    t->prefix = p;
    t->prefix_len += (uint32_t)n;
    return 0;
}

static const char *tls_error(const xport_t *x)
{
    const tls_conn_t *t = (const tls_conn_t *)x;
    return t->err ? t->err : "TLS error";
}

static const char *tls_stage(const xport_t *x)
{
    const tls_conn_t *t = (const tls_conn_t *)x;
    return t->handshaked ? "established" : t->got_bytes ? "handshake" : "silent";
}

static int tls_peer_cert(const xport_t *x, tlscert_facts_t *out)
{
    const tls_conn_t *t = (const tls_conn_t *)x;
    X509 *cert = t->handshaked ? SSL_get0_peer_certificate(t->ssl) : NULL;
    if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK)
        return 0;
    return tlscert_facts(cert, out) < 0 ? -ENOMEM : 1;
}

static void tls_fini(xport_t *x)
{
    tls_conn_t *t = (tls_conn_t *)x;
    /* one close_notify, best effort, never waited for; not when the peer
     * closed its socket without one (the usual device disconnect): nothing
     * reads it there, and the write would only draw a reset */
    if (t->handshaked && !t->failed && !t->eof_bare) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
    }
    SSL_free(t->ssl); /* frees the BIO */
    ERR_clear_error();
    free(t->prefix);
    free(t->held);
}

static const xport_ops_t TLS_OPS = {
    .name = "tls",
    .size = sizeof(tls_conn_t),
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .wants_write = tls_wants_write,
    .unread = tls_unread,
    .error = tls_error,
    .stage = tls_stage,
    .peer_cert = tls_peer_cert,
    .fini = tls_fini,
};

/* TLS 1.2 renegotiation (client-initiated or not) is refused by failing the
 * connection: it only serves to change a session's identity mid-way, and
 * costs a full handshake each time a peer asks. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_START) || SSL_version(ssl) >= TLS1_3_VERSION)
        return;
    tls_conn_t *t = SSL_get_app_data(ssl);
    if (t && t->handshaked)
        t->reneg = true;
}

static int tls_init(xport_t *x, int fd, void *arg)
{
    xtls_server_t *s = arg;
    tls_conn_t *t = (tls_conn_t *)x;
    t->base.ops = &TLS_OPS;
    t->base.fd = fd;
    if (!s->ctx) {
        if (!s->refused_logged)
            log_warn("tls_no_certificate", "detail=\"TLS connections are closed until admin's certificates "
                                          "are enabled\"");
        s->refused_logged = true;
        return -EAGAIN;
    }
    t->ssl = SSL_new(s->ctx);
    BIO *bio = BIO_new(s->bio_meth);
    if (!t->ssl || !bio) {
        SSL_free(t->ssl);
        BIO_free(bio);
        ERR_clear_error();
        return -ENOMEM;
    }
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_app_data(t->ssl, t);
    SSL_set_info_callback(t->ssl, info_cb);
    SSL_set_accept_state(t->ssl);
    return 0;
}

xport_kind_t xtls_kind(xtls_server_t *s) { return (xport_kind_t){&TLS_OPS, tls_init, s}; }

/* ---------------------------------------------------------------- server */

static void stamp_files(const broker_config_t *cfg, stamp_t out[3])
{
    const char *paths[3] = {cfg->tls_cert, cfg->tls_key, cfg->tls_ca};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        out[i] = (stamp_t){0};
        if (paths[i][0] && stat(paths[i], &st) == 0)
            out[i] = (stamp_t){st.st_mtim, st.st_size, st.st_ino, true};
    }
}

static bool stamps_differ(const stamp_t a[3], const stamp_t b[3])
{
    for (int i = 0; i < 3; i++)
        if (a[i].exists != b[i].exists || a[i].size != b[i].size || a[i].ino != b[i].ino ||
            a[i].mtime.tv_sec != b[i].mtime.tv_sec || a[i].mtime.tv_nsec != b[i].mtime.tv_nsec)
            return true;
    return false;
}

/* Reads the files and builds a context: the context, or NULL with err. */
static SSL_CTX *load_files(const broker_config_t *cfg, tlsctx_info_t *info, tls_client_cert_t *mode,
                           char *err, size_t errcap)
{
    tlsctx_source_t src = {.cert_name = "--tls-cert", .key_name = "--tls-key",
                           .ca_name = "--tls-ca", .client_cert_name = "--tls-client-cert"};
    char *cert = NULL, *key = NULL, *ca = NULL;
    SSL_CTX *ctx = NULL;
    if (tlsctx_parse_client_cert(cfg->tls_client_cert, &src.client_cert) < 0) {
        snprintf(err, errcap, "--tls-client-cert: expected none, optional or required, got '%s'",
                 cfg->tls_client_cert);
        return NULL;
    }
    *mode = src.client_cert;
    if (!cfg->tls_key[0]) {
        snprintf(err, errcap, "--tls-cert needs --tls-key (the certificate's private key)");
        return NULL;
    }
    if ((cert = tlsctx_read_file(cfg->tls_cert, "--tls-cert", err, errcap)) &&
        (key = tlsctx_read_file(cfg->tls_key, "--tls-key", err, errcap)) &&
        (!cfg->tls_ca[0] || (ca = tlsctx_read_file(cfg->tls_ca, "--tls-ca", err, errcap)))) {
        src.cert_pem = cert;
        src.key_pem = key;
        src.ca_pem = ca;
        ctx = tlsctx_new(&src, info, err, errcap);
    }
    free(cert);
    if (key) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
    }
    free(ca);
    return ctx;
}

static void log_served(const char *event, const char *why, const tlsctx_info_t *info,
                       tls_client_cert_t mode)
{
    char until[32];
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", gmtime(&info->not_after));
    LOG_AT(info->expired ? LOG_WARN : LOG_INFO, event,
           "source=files reason=%s subject=\"%s\" serial=%s not_after=%s client_cert=%s%s", why,
           info->subject, info->serial, until, tlsctx_client_cert_name(mode),
           info->expired ? " detail=\"the server certificate has expired\"" : "");
}

static void reload(xtls_server_t *s, const char *why)
{
    if (!s->cfg->tls_cert[0])
        return; /* no files: admin's certificates or nothing */
    char err[512];
    tlsctx_info_t info;
    tls_client_cert_t mode;
    stamp_files(s->cfg, s->stamps); /* before reading: a write after it is seen next time */
    SSL_CTX *ctx = load_files(s->cfg, &info, &mode, err, sizeof(err));
    if (!ctx) {
        log_error("tls_reload_failed", "source=files reason=%s error=\"%s\" detail=\"%s\"", why, err,
                  "new handshakes keep the certificate loaded before");
        return;
    }
    serve(s, ctx);
    log_served("tls_reloaded", why, &info, mode);
}

void xtls_server_poll(xtls_server_t *s, volatile sig_atomic_t *hup)
{
    if (hup && *hup) {
        *hup = 0;
        if (!s->from_admin)
            reload(s, "sighup");
        return;
    }
    if (++s->polls % 4 || s->from_admin)
        return;
    stamp_t now[3];
    stamp_files(s->cfg, now);
    if (stamps_differ(now, s->stamps))
        reload(s, "file_changed");
}

void xtls_server_apply_admin(xtls_server_t *s, const xtls_admin_t *a, unsigned long long version)
{
    if (!a->enabled) {
        if (!s->from_admin)
            return;
        s->from_admin = false;
        log_info("tls_source", "source=files version=%llu detail=\"admin's certificates were disabled\"",
                 version);
        if (s->cfg->tls_cert[0]) {
            reload(s, "admin_disabled");
        } else {
            SSL_CTX_free(s->ctx);
            s->ctx = NULL;
            s->refused_logged = false;
        }
        return;
    }
    tlsctx_source_t src = {a->cert, a->key, a->ca, TLS_CLIENT_CERT_NONE,
                           "server_certificate", "server_key", "ca_certificate", "mtls"};
    tlsctx_parse_client_cert(a->client_cert, &src.client_cert);
    char err[512];
    tlsctx_info_t info;
    SSL_CTX *ctx = tlsctx_new(&src, &info, err, sizeof(err));
    if (!ctx) {
        log_error("tls_reload_failed", "source=admin version=%llu error=\"%s\" detail=\"%s\"", version, err,
                  "new handshakes keep the certificate loaded before");
        return;
    }
    serve(s, ctx);
    s->from_admin = true;
    char until[32];
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", gmtime(&info.not_after));
    log_info("tls_reloaded", "source=admin version=%llu subject=\"%s\" serial=%s not_after=%s client_cert=%s%s",
             version, info.subject, info.serial, until, tlsctx_client_cert_name(src.client_cert),
             s->cfg->tls_cert[0] ? " detail=\"admin's certificates override --tls-cert while enabled\"" : "");
}

xtls_server_t *xtls_server_new(const broker_config_t *cfg, char *err, size_t errcap)
{
    tlsctx_info_t info;
    tls_client_cert_t mode;
    xtls_server_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                           "roost-socket"))) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    s->cfg = cfg;
    BIO_meth_set_read(s->bio_meth, bio_read);
    BIO_meth_set_write(s->bio_meth, bio_write);
    BIO_meth_set_ctrl(s->bio_meth, bio_ctrl);
    stamp_files(cfg, s->stamps);
    if (!cfg->tls_cert[0]) {
        log_info("tls_source", "source=admin detail=\"no --tls-cert: TLS is served once admin's certificates "
                               "are enabled\"");
        return s;
    }
    if (!(s->ctx = load_files(cfg, &info, &mode, err, errcap)))
        goto fail;
    log_served("tls_certificate", "start", &info, mode);
    if (redis_conf_on(&cfg->redis))
        log_info("tls_source", "source=files detail=\"admin's certificates, when enabled, override "
                               "--tls-cert for new handshakes\"");
    return s;
fail:
    xtls_server_destroy(&s);
    return NULL;
}

void xtls_server_destroy(xtls_server_t **sp)
{
    xtls_server_t *s = *sp;
    if (!s)
        return;
    SSL_CTX_free(s->ctx);
    BIO_meth_free(s->bio_meth);
    tlsticket_ring_destroy(&s->tickets);
    free(s);
    *sp = NULL;
}

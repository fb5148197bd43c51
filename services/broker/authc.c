#include "authc.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "acl/acl.h"
#include "base/log.h"
#include "rpc/linkmon.h"
#include "conn.h"
#include "dispatch.h"
#include "rpc/curve.h"
#include "rpc/rpc.h"
#include "session.h"

#define AUTHC_RETRY_MS 20

/* A CONNECT waiting for authd. Pending requests form a FIFO: every request
 * gets the same timeout, so the oldest expires first. */
typedef struct pending {
    uint64_t id;
    uint64_t deadline;        /* loop ms */
    conn_t *conn;
    bool clean;
    char *client_id;
    char *username;           /* NULL: anonymous */
    uint8_t version;
    bool has_password;
    bool unsent;              /* no authd link was up: retried until the deadline */
    uint8_t *password;        /* kept only while unsent; wiped when sent or dropped */
    size_t password_len;
    char peer[64];
    tlscert_facts_t *cert;    /* the device's verified TLS certificate, or NULL */
    struct pending *prev, *next;
} pending_t;

struct authc {
    broker_t *b;
    authc_accept_fn accept;
    char *endpoints;
    int timeout_ms;
    const char *server_key, *client_key;
    void *ctx, *dealer;
    int fd;
    rpc_linkmon_t *mon;       /* the DEALER's links: /healthz says degraded with none */
    int mon_fd;
    uint64_t down_since;      /* loop ms the last link dropped; 0 while one is up (or none ever was) */
    uint64_t next_id;
    uint64_t retry_timer;     /* while requests wait for an authd link */
    map_t by_id;              /* 8-byte id -> pending_t */
    pending_t *head, *tail;
};

authc_t *authc_new(broker_t *b, const char *endpoints, int timeout_ms, const char *server_key,
                   const char *client_key, authc_accept_fn accept)
{
    authc_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->endpoints = strdup(endpoints);
    if (!a->endpoints) {
        free(a);
        return NULL;
    }
    a->b = b;
    a->accept = accept;
    a->timeout_ms = timeout_ms;
    a->server_key = server_key;
    a->client_key = client_key;
    a->fd = a->mon_fd = -1;
    randombytes_buf(&a->next_id, sizeof(a->next_id));
    map_init(&a->by_id);
    return a;
}

static void unlink_pending(authc_t *a, pending_t *p)
{
    map_del(&a->by_id, (const char *)&p->id, sizeof(p->id));
    if (p->prev)
        p->prev->next = p->next;
    else
        a->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        a->tail = p->prev;
    if (p->conn)
        p->conn->auth = NULL;
    if (p->password) {
        sodium_memzero(p->password, p->password_len);
        free(p->password);
    }
    free(p->client_id);
    free(p->username);
    free(p->cert);
    free(p);
}

static char *join_groups(const rpc_auth_reply_t *r)
{
    size_t n = 1;
    for (size_t i = 0; i < r->n_groups; i++)
        n += strlen(r->groups[i]) + 1;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < r->n_groups; i++)
        p += sprintf(p, "%s%s", i ? "," : "", r->groups[i]);
    return s;
}

/* Applies an OK reply: compile the ACL and accept. */
static int accept_reply(authc_t *a, pending_t *p, const rpc_auth_reply_t *r)
{
    conn_t *c = p->conn;
    acl_entry_t stack[32];
    acl_entry_t *entries = r->n_acl <= 32 ? stack : calloc(r->n_acl, sizeof(*entries));
    if (!entries)
        return -ENOMEM;
    for (size_t i = 0; i < r->n_acl; i++) {
        entries[i].permission = r->acl[i].permission == RPC_ACL_DENY ? ACL_DENY : ACL_ALLOW;
        entries[i].action = r->acl[i].action == RPC_ACL_PUBLISH     ? ACL_PUBLISH
                            : r->acl[i].action == RPC_ACL_SUBSCRIBE ? ACL_SUBSCRIBE
                                                                    : ACL_BOTH;
        entries[i].topic = (acl_str_t){r->acl[i].topic, strlen(r->acl[i].topic)};
    }
    acl_str_t user = {p->username, p->username ? strlen(p->username) : 0};
    acl_str_t cid = {p->client_id, strlen(p->client_id)};
    acl_matcher_t *m = NULL;
    /* (no entries: NULL, which acl_compile takes with n 0; gcc -O3 warns of
     * the unwritten stack array otherwise) */
    int rc = acl_compile(r->n_acl ? entries : NULL, r->n_acl, user, cid, &m);
    if (entries != stack)
        free(entries);
    if (rc == ROOST_EINVAL) {
        char qid[LOG_QUOTE_CAP];
        log_error("acl_invalid", "client_id=%s detail=\"authd sent an invalid ACL entry\"",
                  log_quote(qid, sizeof(qid), p->client_id, strlen(p->client_id)));
        return ROOST_EUNAVAILABLE;
    }
    if (rc)
        return rc; /* ACL_ESUBST: not authorized */
    char *groups = join_groups(r);
    if (!groups || conn_set_who(c, p->username, r->client_id ? r->client_id : "", groups) < 0) {
        free(groups);
        acl_destroy(&m);
        return -ENOMEM;
    }
    free(groups);
    c->rl_msg_rate = r->max_msg_rate > UINT32_MAX ? UINT32_MAX : (uint32_t)r->max_msg_rate;
    c->rl_byte_rate = r->max_byte_rate > UINT32_MAX ? UINT32_MAX : (uint32_t)r->max_byte_rate;
    c->rl_on = c->rl_on || c->rl_msg_rate || c->rl_byte_rate;
    rc = a->accept(c, p->client_id, strlen(p->client_id), p->clean, &m);
    acl_destroy(&m);
    return rc;
}

static int status_code(rpc_auth_status_t s)
{
    switch (s) {
    case RPC_AUTH_BAD_CREDENTIALS: return ROOST_EAUTH_BAD_CREDENTIALS;
    case RPC_AUTH_NOT_AUTHORIZED: return ROOST_EAUTH_NOT_AUTHORIZED;
    case RPC_AUTH_THROTTLED: return ROOST_EAUTH_THROTTLED;
    case RPC_AUTH_BANNED: return ROOST_EAUTH_BANNED;
    default: return ROOST_EUNAVAILABLE;
    }
}

static void on_reply(authc_t *a, const rpc_auth_reply_t *r)
{
    pending_t *p = map_get(&a->by_id, (const char *)&r->request_id, sizeof(r->request_id));
    if (!p) {
        log_debug("auth_reply_dropped", "request_id=%llu reason=unknown_or_late",
                  (unsigned long long)r->request_id);
        return;
    }
    conn_t *c = p->conn;
    int rc = r->status == RPC_AUTH_OK ? accept_reply(a, p, r) : status_code(r->status);
    unlink_pending(a, p);
    if (!c)
        return;
    if (rc < 0) {
        dispatch_fail(c, rc, MQTT_CONNECT);
        return;
    }
    conn_resume(c);
}

static void drain(authc_t *a)
{
    while (rpc_readable(a->dealer)) {
        rpc_auth_reply_t r;
        int rc = rpc_auth_reply_recv(a->dealer, &r);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            log_warn("auth_reply_bad", "rc=%d reason=\"%s\"", rc, roost_strerror(rc));
            continue;
        }
        on_reply(a, &r);
        rpc_auth_reply_fini(&r);
    }
}

static void on_zmq(loop_t *l, int fd, unsigned events, void *arg) { drain(arg); }

static void read_links(authc_t *a)
{
    bool up;
    char ep[256];
    while (a->mon && rpc_linkmon_read(a->mon, &up, ep, sizeof(ep)) == 1) {
        int n = rpc_linkmon_up(a->mon);
        log_info(up ? "authd_link_up" : "authd_link_down", "endpoint=%s links=%d", ep, n);
        if (n > 0)
            a->down_since = 0;
        else if (!a->down_since)
            a->down_since = loop_now(a->b->loop) | 1;
    }
}

static void on_links(loop_t *l, int fd, unsigned events, void *arg) { read_links(arg); }

bool authc_linked(const authc_t *a)
{
    return rpc_linkmon_up(a->mon) > 0;
}

int authc_start(authc_t *a)
{
    int rc;
    a->ctx = zmq_ctx_new();
    if (!a->ctx)
        return -errno;
    a->dealer = zmq_socket(a->ctx, ZMQ_DEALER);
    if (!a->dealer)
        return -errno;
    int one = 1, zero = 0, hwm = 100000;
    zmq_setsockopt(a->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(a->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(a->dealer, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(a->dealer, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* the monitor before any connect, or a CONNECTED event may be missed */
    if ((rc = rpc_linkmon_new(a->ctx, a->dealer, 0, &a->mon)) < 0)
        return rc;
    rc = rpc_curve_client(a->dealer, a->server_key, a->client_key);
    if (rc < 0) {
        log_error("authd_curve_failed", "rc=%d reason=\"%s\"", rc, roost_strerror(rc));
        return rc;
    }
    for (char *save = NULL, *ep = strtok_r(a->endpoints, ",", &save); ep;
         ep = strtok_r(NULL, ",", &save)) {
        if (zmq_connect(a->dealer, ep) < 0) {
            rc = -errno;
            log_error("authd_connect_failed", "endpoint=%s reason=\"%s\"", ep, zmq_strerror(errno));
            return rc;
        }
        log_info("authd_endpoint", "endpoint=%s curve=%s", ep,
                 rpc_curve_spec_set(a->server_key) ? "on" : "off");
    }
    size_t sz = sizeof(a->fd);
    if (zmq_getsockopt(a->dealer, ZMQ_FD, &a->fd, &sz) < 0)
        return -errno;
    if ((rc = loop_add_fd(a->b->loop, a->fd, LOOP_READ | LOOP_EDGE, on_zmq, a)) < 0)
        return rc;
    a->mon_fd = rpc_linkmon_fd(a->mon);
    return loop_add_fd(a->b->loop, a->mon_fd, LOOP_READ | LOOP_EDGE, on_links, a);
}

void authc_destroy(authc_t **ap)
{
    authc_t *a = *ap;
    if (!a)
        return;
    *ap = NULL;
    while (a->head) {
        conn_t *c = a->head->conn;
        unlink_pending(a, a->head);
        if (c)
            dispatch_fail(c, ROOST_EUNAVAILABLE, MQTT_CONNECT);
    }
    if (a->retry_timer)
        loop_del_timer(a->b->loop, a->retry_timer);
    if (a->fd >= 0)
        loop_del_fd(a->b->loop, a->fd);
    if (a->mon_fd >= 0)
        loop_del_fd(a->b->loop, a->mon_fd);
    rpc_linkmon_destroy(&a->mon);
    if (a->dealer)
        zmq_close(a->dealer);
    if (a->ctx)
        zmq_ctx_term(a->ctx);
    map_fini(&a->by_id);
    free(a->endpoints);
    free(a);
}

static char *dup_view(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int send_req(authc_t *a, pending_t *q, const uint8_t *pw, size_t pw_len)
{
    rpc_auth_request_t r = {
        .request_id = q->id,
        .deadline_ms = rpc_unix_ms() + (q->deadline - loop_now(a->b->loop)),
        .broker_id = a->b->id,
        .client_id = q->client_id,
        .username = q->username,
        .password = pw,
        .password_len = pw_len,
        .has_password = q->has_password,
        .peer = q->peer,
        .protocol_version = q->version,
    };
    if (q->cert) {
        r.tls_cert_fingerprint = q->cert->fingerprint;
        r.tls_cert_subject = q->cert->subject;
        r.tls_cert_issuer = q->cert->issuer;
        r.tls_cert_serial = q->cert->serial;
        r.tls_cert_not_before = q->cert->not_before;
        r.tls_cert_not_after = q->cert->not_after;
    }
    /* the caller drains once the request is fully registered: a reply read
     * here would find it half-made */
    return rpc_auth_request_send(a->dealer, &r);
}

/* Sends the requests that found no authd link, oldest first, while links
 * take them; runs until none is left (their deadline still applies). */
static uint64_t on_retry(loop_t *l, void *arg)
{
    authc_t *a = arg;
    bool left = false;
    uint64_t now = loop_now(a->b->loop);
    for (pending_t *q = a->head; q; q = q->next) {
        if (!q->unsent || q->deadline <= now)
            continue; /* the sweep refuses the expired ones */
        int rc = send_req(a, q, q->password, q->password_len);
        if (rc == -EAGAIN) {
            left = true;
            break;
        }
        q->unsent = false;
        if (q->password) {
            sodium_memzero(q->password, q->password_len);
            free(q->password);
            q->password = NULL;
        }
        if (rc < 0)
            q->deadline = 0; /* cannot be encoded: the sweep refuses it */
    }
    if (!left)
        a->retry_timer = 0;
    drain(a); /* ZMQ_FD is edge-triggered: re-check after sending */
    return left ? AUTHC_RETRY_MS : 0;
}

int authc_request(authc_t *a, conn_t *c, const mqtt_connect_t *p, const char *client_id,
                  size_t id_len)
{
    /* every authd link has been down for longer than a request may wait:
     * refused at once (the device backs off) rather than held the whole
     * timeout for nothing; a link that drops or is not up yet is waited for */
    if (a->down_since && loop_now(a->b->loop) - a->down_since >= (uint64_t)a->timeout_ms)
        return ROOST_EUNAVAILABLE;
    pending_t *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->client_id = dup_view((const uint8_t *)client_id, id_len);
    q->username = p->has_username ? dup_view(p->username.ptr, p->username.len) : NULL;
    if (!q->client_id || (p->has_username && !q->username)) {
        free(q->client_id);
        free(q->username);
        free(q->cert);
        free(q);
        return -ENOMEM;
    }
    xport_t *x = conn_xport(c);
    if (x && x->ops->peer_cert) {
        /* the certificate the handshake verified goes to authd: fingerprint
         * group rules and certificate clients are decided there */
        q->cert = malloc(sizeof(*q->cert));
        int crc = q->cert ? x->ops->peer_cert(x, q->cert) : -ENOMEM;
        if (crc <= 0) {
            free(q->cert);
            q->cert = NULL;
        }
        if (crc < 0) {
            free(q->client_id);
            free(q->username);
            free(q);
            return -ENOMEM;
        }
    }
    q->id = a->next_id++;
    q->clean = p->clean_session;
    q->conn = c;
    q->version = p->version;
    q->has_password = p->has_password;
    q->deadline = loop_now(a->b->loop) + (uint64_t)a->timeout_ms;
    conn_peer(c, q->peer, sizeof(q->peer));
    /* registered before it is sent: the reply can be read by the drain
     * that follows the send */
    if (map_put(&a->by_id, (const char *)&q->id, sizeof(q->id), q, NULL) < 0) {
        free(q->client_id);
        free(q->username);
        free(q->cert);
        free(q);
        return -ENOMEM;
    }
    int rc = send_req(a, q, p->password.ptr, p->password.len);
    if (rc == -EAGAIN) {
        /* no authd link up (yet): keep the request until one is, or until
         * its deadline; the password is kept, in our memory only, that long */
        q->unsent = true;
        if (p->has_password && p->password.len) {
            q->password = malloc(p->password.len);
            if (q->password) {
                memcpy(q->password, p->password.ptr, p->password.len);
                q->password_len = p->password.len;
            }
        }
        if (!a->retry_timer)
            a->retry_timer = loop_add_timer(a->b->loop, AUTHC_RETRY_MS, on_retry, a);
        if ((p->has_password && p->password.len && !q->password) || !a->retry_timer)
            rc = -ENOMEM;
        else
            rc = 0;
        char qid[LOG_QUOTE_CAP];
        log_debug("authd_not_connected", "client_id=%s detail=\"waiting for a link\"",
                  log_quote(qid, sizeof(qid), client_id, id_len));
    }
    if (p->has_password && p->password.len)
        sodium_memzero((void *)p->password.ptr, p->password.len); /* our read buffer */
    if (rc < 0) {
        map_del(&a->by_id, (const char *)&q->id, sizeof(q->id));
        if (q->password) {
            sodium_memzero(q->password, q->password_len);
            free(q->password);
        }
        free(q->client_id);
        free(q->username);
        free(q->cert);
        free(q);
        char qid[LOG_QUOTE_CAP];
        log_warn("authd_unavailable", "client_id=%s rc=%d reason=\"%s\"",
                 log_quote(qid, sizeof(qid), client_id, id_len), rc, roost_strerror(rc));
        return ROOST_EUNAVAILABLE;
    }
    q->prev = a->tail;
    if (a->tail)
        a->tail->next = q;
    else
        a->head = q;
    a->tail = q;
    c->auth = q;
    c->state = CONN_AUTHING;
    loop_mod_fd(a->b->loop, c->fd, c->want_write ? LOOP_WRITE : 0);
    /* ZMQ_FD is edge-triggered, so the socket is re-checked after sends, but
     * at the safe point (authc_poll from before_sleep): a reply handled here
     * would resume this connection inside its own dispatch */
    return 0;
}

void authc_poll(authc_t *a)
{
    drain(a);
    read_links(a);
}

void authc_cancel(authc_t *a, conn_t *c)
{
    pending_t *q = c->auth;
    if (q) {
        q->conn = NULL; /* the reply, if any, is dropped; the deadline frees it */
        c->auth = NULL;
    }
}

void authc_sweep(authc_t *a)
{
    uint64_t now = loop_now(a->b->loop);
    while (a->head && a->head->deadline <= now) {
        pending_t *q = a->head;
        conn_t *c = q->conn;
        char qid[LOG_QUOTE_CAP];
        log_warn("authd_timeout", "client_id=%s timeout_ms=%d sent=%s",
                 log_quote(qid, sizeof(qid), q->client_id, strlen(q->client_id)), a->timeout_ms,
                 q->unsent ? "no detail=\"no authd link\"" : "yes");
        unlink_pending(a, q);
        if (c)
            dispatch_fail(c, ROOST_ETIMEDOUT_AUTHD, MQTT_CONNECT);
    }
    drain(a);
}

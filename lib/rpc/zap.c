#include "rpc/zap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "base/err.h"
#include "base/log.h"
#include "rpc/curve.h"

#define MAX_KEYS 64
#define MAX_PARTS 8

struct rpc_zap {
    void *rep;
    int fd;
    const char *what;
    size_t n;
    uint8_t keys[MAX_KEYS][32];
};

static int add_keys(rpc_zap_t *z, const char *allowed)
{
    const char *p = allowed;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char spec[4096], key[RPC_CURVE_KEY_LEN + 1];
        if (len == 0 || len >= sizeof(spec) || z->n == MAX_KEYS)
            return ROOST_ECONFIG;
        memcpy(spec, p, len);
        spec[len] = '\0';
        int rc = rpc_curve_load_key(spec, key);
        if (rc)
            return rc;
        if (!zmq_z85_decode(z->keys[z->n], key))
            return ROOST_ECONFIG;
        z->n++;
        if (end && !end[1])
            return ROOST_ECONFIG; /* a trailing comma: an empty item */
        p = end ? end + 1 : p + len;
    }
    return z->n ? 0 : ROOST_ECONFIG;
}

int rpc_zap_new(void *zctx, const char *allowed, const char *what, rpc_zap_t **out)
{
    *out = NULL;
    rpc_zap_t *z = calloc(1, sizeof(*z));
    if (!z)
        return -ENOMEM;
    z->fd = -1;
    z->what = what;
    int rc = add_keys(z, allowed ? allowed : "");
    if (rc) {
        log_error("curve_clients_invalid", "service=%s rc=%d detail=\"comma-separated CurveZMQ public keys "
                  "(40 Z85 characters, or files holding them)\"", what, rc);
        free(z);
        return rc;
    }
    int zero = 0;
    size_t sz = sizeof(z->fd);
    if (!(z->rep = zmq_socket(zctx, ZMQ_REP)) || zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof(zero)) ||
        zmq_bind(z->rep, "inproc://zeromq.zap.01") || zmq_getsockopt(z->rep, ZMQ_FD, &z->fd, &sz)) {
        rc = -zmq_errno();
        rpc_zap_destroy(&z);
        return rc;
    }
    *out = z;
    return 0;
}

void rpc_zap_destroy(rpc_zap_t **zp)
{
    rpc_zap_t *z = *zp;
    if (!z)
        return;
    if (z->rep)
        zmq_close(z->rep);
    sodium_memzero(z->keys, sizeof(z->keys));
    free(z);
    *zp = NULL;
}

int rpc_zap_fd(const rpc_zap_t *z)
{
    return z ? z->fd : -1;
}

size_t rpc_zap_keys(const rpc_zap_t *z)
{
    return z ? z->n : 0;
}

static bool allowed(const rpc_zap_t *z, const zmq_msg_t *req, int n)
{
    /* request: version, request id, domain, address, routing id, mechanism, credentials... */
    if (n < 7 || zmq_msg_size(&req[5]) != 5 || memcmp(zmq_msg_data((zmq_msg_t *)&req[5]), "CURVE", 5) ||
        zmq_msg_size(&req[6]) != 32)
        return false;
    const uint8_t *key = zmq_msg_data((zmq_msg_t *)&req[6]);
    for (size_t i = 0; i < z->n; i++)
        if (!sodium_memcmp(key, z->keys[i], 32))
            return true;
    return false;
}

static void answer(rpc_zap_t *z, zmq_msg_t *req, int n)
{
    bool ok = allowed(z, req, n);
    if (!ok) {
        size_t al = n >= 4 ? zmq_msg_size(&req[3]) : 0;
        char z85[41] = "";
        if (n >= 7 && zmq_msg_size(&req[6]) == 32)
            zmq_z85_encode(z85, zmq_msg_data(&req[6]), 32);
        log_warn("curve_client_refused", "service=%s address=%.*s key_prefix=%.8s detail=\"not an allowed "
                 "CurveZMQ client key\"", z->what, (int)(al < 64 ? al : 64),
                 n >= 4 ? (const char *)zmq_msg_data(&req[3]) : "", z85);
    }
    const char *status = ok ? "200" : "400", *text = ok ? "OK" : "client key not allowed";
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(z->rep, n >= 2 ? zmq_msg_data(&req[1]) : "", n >= 2 ? zmq_msg_size(&req[1]) : 0,
             ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(z->rep, status, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(z->rep, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(z->rep, "", 0, ZMQ_DONTWAIT);
}

/* One multipart request, parts beyond MAX_PARTS dropped; -1 when none. */
static int recv_request(void *sock, zmq_msg_t *parts)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (n == 0)
                return -1;
            break;
        }
        more = zmq_msg_more(&m);
        if (n < MAX_PARTS)
            parts[n++] = m;
        else
            zmq_msg_close(&m);
    }
    return n;
}

void rpc_zap_drain(rpc_zap_t *z)
{
    for (;;) {
        zmq_msg_t parts[MAX_PARTS];
        int n = recv_request(z->rep, parts);
        if (n < 0) {
            int ev = 0;
            size_t sz = sizeof(ev);
            if (zmq_getsockopt(z->rep, ZMQ_EVENTS, &ev, &sz) || !(ev & ZMQ_POLLIN))
                return;
            continue;
        }
        answer(z, parts, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
}

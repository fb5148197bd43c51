/* rpc/frame: ZeroMQ multipart framing shared by rpc.c and admin.c
 * (rpc_priv.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "base/err.h"
#include "rpc/rpc_priv.h"

static bool more(void *s)
{
    int v = 0;
    size_t sz = sizeof(v);
    return zmq_getsockopt(s, ZMQ_RCVMORE, &v, &sz) == 0 && v;
}

/* Discards the rest of a multipart message. */
static void drain(void *s)
{
    while (more(s)) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, s, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
        if (rc < 0)
            break;
    }
}

/* Receives the next frame. 0 or -errno (-EAGAIN: none pending). */
static int recv_frame(void *s, zmq_msg_t *m)
{
    zmq_msg_init(m);
    if (zmq_msg_recv(m, s, ZMQ_DONTWAIT) < 0) {
        int rc = -zmq_errno();
        zmq_msg_close(m);
        return rc;
    }
    return 0;
}

static void wipe_free(void *data, void *hint)
{
    sodium_memzero(data, (size_t)(uintptr_t)hint);
    free(data);
}

int rpc_priv_send_frame(void *s, const void *p, size_t n, int flags)
{
    return zmq_send(s, p, n, flags | ZMQ_DONTWAIT) < 0 ? -zmq_errno() : 0;
}

int rpc_priv_send_body(void *s, rpc_priv_encode_fn enc, const void *msg)
{
    int n = enc(msg, NULL, 0);
    if (n < 0)
        return n;
    uint8_t *data = malloc(n ? (size_t)n : 1);
    if (!data)
        return -ENOMEM;
    enc(msg, data, (size_t)n);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, data, (size_t)n, wipe_free, (void *)(uintptr_t)n)) {
        wipe_free(data, (void *)(uintptr_t)n);
        return -ENOMEM;
    }
    if (zmq_msg_send(&m, s, ZMQ_DONTWAIT) < 0) {
        int rc = -zmq_errno();
        zmq_msg_close(&m);
        return rc;
    }
    return 0;
}

int rpc_priv_recv_body(void *s, rpc_priv_decode_fn dec, void *out)
{
    zmq_msg_t m;
    if (!more(s))
        return ROOST_EPROTO_MALFORMED;
    int rc = recv_frame(s, &m);
    if (rc)
        return rc == -EAGAIN ? ROOST_EPROTO_MALFORMED : rc;
    if (more(s)) {
        drain(s);
        rc = ROOST_EPROTO_MALFORMED;
    } else {
        rc = dec(zmq_msg_data(&m), zmq_msg_size(&m), out);
    }
    sodium_memzero(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    return rc;
}

int rpc_priv_recv_header(void *s, const void *want, size_t n)
{
    zmq_msg_t m;
    int rc = recv_frame(s, &m);
    if (rc)
        return rc;
    bool ok = zmq_msg_size(&m) == n && (n == 0 || !memcmp(zmq_msg_data(&m), want, n));
    zmq_msg_close(&m);
    if (!ok) {
        drain(s);
        return ROOST_EPROTO_MALFORMED;
    }
    return 0;
}

int rpc_priv_recv_envelope(void *router, rpc_envelope_t *env)
{
    env->n = 0;
    for (;;) {
        zmq_msg_t m;
        int rc = recv_frame(router, &m);
        if (rc) { /* nothing pending, or a message cut short (unroutable) */
            bool first = env->n == 0;
            env->n = 0;
            return first ? rc : ROOST_EPROTO_MALFORMED;
        }
        size_t n = zmq_msg_size(&m);
        if (n == 0) {
            zmq_msg_close(&m);
            break;
        }
        if (env->n == RPC_MAX_HOPS || n > sizeof(env->id[0]) || !more(router)) {
            zmq_msg_close(&m);
            drain(router);
            env->n = 0;
            return ROOST_EPROTO_MALFORMED;
        }
        memcpy(env->id[env->n], zmq_msg_data(&m), n);
        env->id_len[env->n++] = (uint8_t)n;
        zmq_msg_close(&m);
    }
    if (env->n == 0) {
        drain(router);
        return ROOST_EPROTO_MALFORMED;
    }
    return 0;
}

int rpc_priv_send_envelope(void *router, const rpc_envelope_t *env)
{
    int rc;
    if (env->n == 0 || env->n > RPC_MAX_HOPS)
        return ROOST_EINVAL;
    for (unsigned i = 0; i < env->n; i++)
        if ((rc = rpc_priv_send_frame(router, env->id[i], env->id_len[i], ZMQ_SNDMORE)))
            return rc;
    return rpc_priv_send_frame(router, "", 0, ZMQ_SNDMORE);
}

#include "rpc/linkmon.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

struct rpc_linkmon {
    void *sock, *pair;
    int up;
};

int rpc_linkmon_new(void *zctx, void *sock, int heartbeat_ms, rpc_linkmon_t **out)
{
    *out = NULL;
    rpc_linkmon_t *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->sock = sock;
    if (heartbeat_ms > 0) {
        int timeout = 3 * heartbeat_ms;
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &heartbeat_ms, sizeof(heartbeat_ms));
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof(timeout));
    }
    char name[64];
    snprintf(name, sizeof(name), "inproc://roost-linkmon-%p", (void *)m);
    int zero = 0, rc = 0;
    if (zmq_socket_monitor(sock, name, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) < 0 ||
        !(m->pair = zmq_socket(zctx, ZMQ_PAIR))) {
        rc = -errno;
        zmq_socket_monitor(sock, NULL, 0);
        free(m);
        return rc;
    }
    zmq_setsockopt(m->pair, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(m->pair, name) < 0) {
        rc = -errno;
        rpc_linkmon_destroy(&m);
        return rc;
    }
    *out = m;
    return 0;
}

void rpc_linkmon_destroy(rpc_linkmon_t **mp)
{
    rpc_linkmon_t *m = *mp;
    if (!m)
        return;
    *mp = NULL;
    zmq_socket_monitor(m->sock, NULL, 0);
    if (m->pair)
        zmq_close(m->pair);
    free(m);
}

int rpc_linkmon_fd(const rpc_linkmon_t *m)
{
    int fd = -1;
    size_t sz = sizeof(fd);
    if (!m || zmq_getsockopt(m->pair, ZMQ_FD, &fd, &sz) < 0)
        return -1;
    return fd;
}

int rpc_linkmon_read(rpc_linkmon_t *m, bool *up, char *endpoint, size_t cap)
{
    for (;;) {
        zmq_msg_t f[2];
        zmq_msg_init(&f[0]);
        if (zmq_msg_recv(&f[0], m->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[0]);
            return 0;
        }
        zmq_msg_init(&f[1]);
        bool two = zmq_msg_more(&f[0]) && zmq_msg_recv(&f[1], m->pair, 0) >= 0;
        /* frame 1: event (u16) and value (u32); frame 2: the endpoint */
        uint16_t ev = 0;
        bool ok = two && zmq_msg_size(&f[0]) >= 6;
        if (ok) {
            memcpy(&ev, zmq_msg_data(&f[0]), sizeof(ev));
            size_t n = zmq_msg_size(&f[1]) < cap - 1 ? zmq_msg_size(&f[1]) : cap - 1;
            memcpy(endpoint, zmq_msg_data(&f[1]), n);
            endpoint[n] = '\0';
        }
        zmq_msg_close(&f[0]);
        zmq_msg_close(&f[1]);
        if (!ok || (ev != ZMQ_EVENT_CONNECTED && ev != ZMQ_EVENT_DISCONNECTED))
            continue;
        *up = ev == ZMQ_EVENT_CONNECTED;
        m->up += *up ? 1 : (m->up > 0 ? -1 : 0);
        return 1;
    }
}

int rpc_linkmon_up(const rpc_linkmon_t *m)
{
    return m ? m->up : 0;
}

/* xport: a transport under a connection's reads and writes.
 *
 * Plain TCP has none: a connection without a transport reads and writes its
 * socket directly, so the MQTT hot path pays one predictable branch and no
 * indirect call. TLS (xport_tls.c) and WebSocket (xport_ws.c) put their state
 * right after the conn_t in the same allocation (conn_new sizes it from
 * ops->size) and are reached through conn_xport().
 *
 * The operations mirror read(2)/write(2) on the socket they wrap:
 *   read   application bytes into buf: > 0 bytes, 0 the peer closed, -1 with
 *          errno EAGAIN (wait for the socket: see wants_write) or another
 *          errno for a failure whose text ops->error gives;
 *   write  application bytes: > 0 bytes taken (possibly fewer than n), -1
 *          with errno EAGAIN or a failure. After EAGAIN the caller retries
 *          with the same bytes at the same or a larger length (its output
 *          buffer may have moved);
 *   pending  true while bytes already taken off the socket wait inside the
 *          transport: the caller reads again without waiting for epoll;
 *   wants_write  true after a read returned EAGAIN because the transport must
 *          write first (a handshake message into a full socket): the caller
 *          watches for writability and reads again then;
 *   unread   bytes the caller took off the socket before the transport
 *          began (what followed a PROXY header) are given back, to be read
 *          first. 0 or -ENOMEM;
 *   error  the reason of the last failure, for the log line (never NULL);
 *   peer_cert  (NULL for transports without certificates) the facts of the
 *          certificate the peer presented and the handshake verified: 1,
 *          0 when there is none, or -ENOMEM;
 *   stage  where the transport is, for logs ("handshake", "established");
 *   fini   frees what init allocated (the state memory belongs to the conn).
 */
#ifndef ROOST_BROKER_XPORT_H
#define ROOST_BROKER_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tls/tlscert.h"

typedef struct xport xport_t;

typedef struct xport_ops {
    const char *name;  /* "tls", "ws", "wss" */
    size_t size;       /* bytes of state, xport_t first */
    ssize_t (*read)(xport_t *x, void *buf, size_t n);
    ssize_t (*write)(xport_t *x, const void *buf, size_t n);
    bool (*pending)(const xport_t *x);
    bool (*wants_write)(const xport_t *x);
    int (*unread)(xport_t *x, const void *buf, size_t n);
    const char *(*error)(const xport_t *x);
    const char *(*stage)(const xport_t *x);
    int (*peer_cert)(const xport_t *x, tlscert_facts_t *out);
    void (*fini)(xport_t *x);
} xport_ops_t;

/* The common head of every transport's state. */
struct xport {
    const xport_ops_t *ops;
    int fd;
    /* the connection's peer address (16 bytes, IPv4 v4-mapped) and port:
     * a transport that learns the client's own address from a trusted
     * proxy (WebSocket X-Forwarded-For) writes it there */
    uint8_t *peer_addr;
    uint16_t *peer_port;
};

/* A transport about to be attached to a new connection: its operations and
 * the listener's argument for its init (for TLS, the server context). */
typedef struct xport_kind {
    const xport_ops_t *ops;
    /* Initialises the state at x (zeroed, ops->size bytes) for socket fd.
     * 0, or -ENOMEM (the connection is not created). */
    int (*init)(xport_t *x, int fd, void *arg);
    void *arg;
} xport_kind_t;

#endif

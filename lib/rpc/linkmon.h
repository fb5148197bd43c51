/* linkmon: which peers a ZeroMQ socket is connected to, from its monitor
 * events (zmq_socket_monitor), for code that must know at once that a link
 * dropped: the bus (a dead peer cannot answer a takeover) and the broker's
 * authd client (/healthz says degraded).
 *
 * rpc_linkmon_new attaches an inproc PAIR to the socket's CONNECTED and
 * DISCONNECTED events. Join rpc_linkmon_fd to the loop edge-triggered and
 * call rpc_linkmon_read until it returns 0 from the callback, and also where
 * the owner polls its other sockets (ZMQ_FD edges can be consumed). With
 * heartbeat_ms > 0 the socket also sends ZeroMQ PINGs every heartbeat_ms and
 * drops a link silent for 3 of them, so a peer that stopped answering counts
 * as disconnected too. Loop thread only.
 */
#ifndef ROOST_RPC_LINKMON_H
#define ROOST_RPC_LINKMON_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rpc_linkmon rpc_linkmon_t;

/* 0, or -errno (-ENOMEM). The socket must outlive the monitor. */
int rpc_linkmon_new(void *zctx, void *sock, int heartbeat_ms, rpc_linkmon_t **out);
/* Stops the monitor, closes its socket; nulls *m. */
void rpc_linkmon_destroy(rpc_linkmon_t **m);
/* The PAIR socket's ZMQ_FD, or -1. */
int rpc_linkmon_fd(const rpc_linkmon_t *m);
/* One event: 1 with *up and the endpoint (as connected, NUL-terminated,
 * truncated to cap), or 0 when none is pending. */
int rpc_linkmon_read(rpc_linkmon_t *m, bool *up, char *endpoint, size_t cap);
/* Links up now (CONNECTED minus DISCONNECTED events read so far). */
int rpc_linkmon_up(const rpc_linkmon_t *m);

#endif

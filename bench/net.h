/* net: roost-bench's event loop and client connections. One epoll set, one
 * shared 64 KiB read buffer (a connection keeps only the tail of a packet that
 * a read split), per-connection output buffers flushed in one write each
 * before every wait, EPOLLOUT only for sockets that could not drain.
 *
 * Connects only ever to 127.0.0.1. Single-threaded. A connection closed from
 * a callback (net_close) stays allocated until the start of the next net_poll,
 * so the caller must drop its pointer when it closes one or gets on_close;
 * on_close is not called for a close the caller asked for.
 */
#ifndef ROOST_BENCH_NET_H
#define ROOST_BENCH_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct net net_t;
typedef struct ssl_st SSL;

/* Fields are read-only for callers except user and tag. */
typedef struct net_conn {
	int fd;
	bool open;     /* TCP connected and on_open ran */
	bool closed;   /* closed; freed at the end of net_poll */
	bool dirty;    /* on the flush list */
	bool pollout;  /* EPOLLOUT installed */
	void *user;
	uint64_t tag;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	uint8_t *pend;
	size_t pend_len, pend_cap;
	SSL *ssl;      /* TLS (net_use_tls): NULL until connected, then until the handshake ends open is false */
	struct wsc *ws; /* WebSocket (net_use_ws): the same, until the Upgrade is answered */
} net_conn_t;

typedef struct net_handlers {
	/* TCP connect completed: send CONNECT here. */
	void (*on_open)(net_t *n, net_conn_t *c, void *arg);
	/* One whole packet; p->body is valid only during the call. */
	void (*on_packet)(net_t *n, net_conn_t *c, const wire_pkt_t *p, void *arg);
	/* The peer closed, or connect/read/write failed (err = -errno, or 0 on
	 * EOF, or -EPROTO for an undecodable packet). */
	void (*on_close)(net_t *n, net_conn_t *c, int err, void *arg);
} net_handlers_t;

/* Caller owns the result; NULL on failure. */
net_t *net_new(uint16_t port, const net_handlers_t *h, void *arg);
/* Every connection made after this speaks TLS (1.2/1.3), verifying the
 * broker's certificate against the PEM CA file cafile (host name not
 * checked); on_open runs after the handshake. 0, or -1 with a message on
 * stderr. */
int net_use_tls(net_t *n, const char *cafile);

/* Every connection made after this speaks MQTT over WebSockets (bench/wsc.h)
 * on path; on_open runs after the Upgrade. 0. */
int net_use_ws(net_t *n, const char *path);

/* Frees the loop and closed connections; sets *n to NULL. Close every live
 * connection first (the loop does not list them). */
void net_destroy(net_t **n);

/* Starts a nonblocking connect to 127.0.0.1:port. Returns the connection, or
 * NULL (errno set) if the socket could not be created. */
net_conn_t *net_connect(net_t *n);
/* The same to another port on 127.0.0.1 (cross-broker flows). */
net_conn_t *net_connect_port(net_t *n, uint16_t port);

/* Room for len more output bytes; NULL on OOM. Follow with net_commit. */
uint8_t *net_reserve(net_t *n, net_conn_t *c, size_t len);
void net_commit(net_t *n, net_conn_t *c, size_t len);

static inline size_t net_unsent(const net_conn_t *c)
{
	return c->out_len - c->out_off;
}

/* Closes now (abort: RST instead of FIN, no TIME_WAIT). Unsent output is
 * written first when !abort and the socket takes it. */
void net_close(net_t *n, net_conn_t *c, bool abort);

/* Flushes pending output, waits up to timeout_ns (< 0: forever) and runs the
 * callbacks. Returns the number of events, or -errno. */
int net_poll(net_t *n, int64_t timeout_ns);

/* Number of open or connecting connections. */
size_t net_live(const net_t *n);

#endif

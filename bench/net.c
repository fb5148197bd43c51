/* net: see net.h. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "wsc.h"

#define READ_CHUNK (64u * 1024u)
#define MAX_EVENTS 512

struct net {
	int ep;
	uint16_t port;
	net_handlers_t h;
	void *arg;
	uint8_t *rbuf;        /* pending tail + one read */
	size_t rbuf_cap;
	net_conn_t **dirty;   /* connections with output to flush */
	size_t ndirty, dirty_cap;
	net_conn_t **dead;    /* closed during this poll, freed at its end */
	size_t ndead, dead_cap;
	size_t live;
	SSL_CTX *tls;         /* net_use_tls, or NULL: plain TCP */
	const char *ws_path;  /* net_use_ws, or NULL: MQTT straight on the socket */
};

static int push(net_conn_t ***v, size_t *n, size_t *cap, net_conn_t *c)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		net_conn_t **nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = c;
	return 0;
}

net_t *net_new(uint16_t port, const net_handlers_t *h, void *arg)
{
	net_t *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->port = port;
	n->h = *h;
	n->arg = arg;
	n->rbuf_cap = READ_CHUNK + WIRE_MAX_BODY + 8;
	n->rbuf = malloc(n->rbuf_cap);
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!n->rbuf || n->ep < 0) {
		free(n->rbuf);
		if (n->ep >= 0)
			close(n->ep);
		free(n);
		return NULL;
	}
	return n;
}

int net_use_tls(net_t *n, const char *cafile)
{
	n->tls = SSL_CTX_new(TLS_client_method());
	if (!n->tls || SSL_CTX_set_min_proto_version(n->tls, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(n->tls, cafile, NULL) != 1) {
		fprintf(stderr, "roost-bench: --tls-ca %s: cannot load it\n", cafile);
		return -1;
	}
	SSL_CTX_set_verify(n->tls, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(n->tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

int net_use_ws(net_t *n, const char *path)
{
	n->ws_path = path;
	return 0;
}

static void conn_free(net_conn_t *c)
{
	SSL_free(c->ssl);
	wsc_free(c->ws);
	free(c->out);
	free(c->pend);
	free(c);
}

static void finish(net_t *n, net_conn_t *c, bool abort)
{
	if (c->closed)
		return;
	if (abort) {
		struct linger lg = {1, 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->closed = true;
	c->open = false;
	n->live--;
	if (push(&n->dead, &n->ndead, &n->dead_cap, c) < 0)
		c->user = NULL; /* leaked on OOM; the bench is ending anyway */
}

void net_destroy(net_t **np)
{
	net_t *n = *np;
	if (!n)
		return;
	for (size_t i = 0; i < n->ndead; i++)
		conn_free(n->dead[i]);
	free(n->dead);
	free(n->dirty);
	free(n->rbuf);
	close(n->ep);
	SSL_CTX_free(n->tls);
	free(n);
	*np = NULL;
}

net_conn_t *net_connect(net_t *n)
{
	return net_connect_port(n, n->port);
}

net_conn_t *net_connect_port(net_t *n, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;
	net_conn_t *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto fail;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	c->pollout = true; /* until connected */
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto fail;
	n->live++;
	return c;
fail:;
	int e = errno;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	errno = e;
	return NULL;
}

uint8_t *net_reserve(net_t *n, net_conn_t *c, size_t len)
{
	(void)n;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		if (c->out_off) { /* compact before growing */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_len + len > c->out_cap) {
			size_t nc = c->out_cap ? c->out_cap : 256;
			while (nc < c->out_len + len)
				nc *= 2;
			uint8_t *nb = realloc(c->out, nc);
			if (!nb)
				return NULL;
			c->out = nb;
			c->out_cap = nc;
		}
	}
	return c->out + c->out_len;
}

void net_commit(net_t *n, net_conn_t *c, size_t len)
{
	c->out_len += len;
	if (!c->dirty && !c->closed) {
		if (push(&n->dirty, &n->ndirty, &n->dirty_cap, c) == 0)
			c->dirty = true;
	}
}

static void set_pollout(net_t *n, net_conn_t *c, bool on)
{
	if (c->pollout == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(n->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->pollout = on;
}

/* write(2) or SSL_write_ex with write(2)'s contract. */
static ssize_t conn_write(net_conn_t *c, const void *p, size_t len)
{
	if (c->ws)
		return wsc_write(c->ws, c->fd, p, len);
	if (!c->ssl)
		return write(c->fd, p, len);
	size_t w = 0;
	ERR_clear_error();
	int r = SSL_write_ex(c->ssl, p, len, &w);
	if (r == 1)
		return (ssize_t)w;
	int e = SSL_get_error(c->ssl, r);
	errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
	return -1;
}

/* read(2) or SSL_read_ex with read(2)'s contract. */
static ssize_t conn_read(net_conn_t *c, void *p, size_t len)
{
	if (c->ws)
		return wsc_read(c->ws, c->fd, p, len);
	if (!c->ssl)
		return read(c->fd, p, len);
	size_t got = 0;
	ERR_clear_error();
	int r = SSL_read_ex(c->ssl, p, len, &got);
	if (r == 1)
		return (ssize_t)got;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = EPROTO;
	return -1;
}

/* Writes what the socket takes. 0, or -errno on a write error. */
static int flush(net_t *n, net_conn_t *c)
{
	while (net_unsent(c)) {
		ssize_t w = conn_write(c, c->out + c->out_off, net_unsent(c));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_pollout(n, c, true);
				return 0;
			}
			return -errno;
		}
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
	set_pollout(n, c, false);
	return 0;
}

static void fail(net_t *n, net_conn_t *c, int err)
{
	if (c->closed)
		return;
	finish(n, c, true);
	if (n->h.on_close)
		n->h.on_close(n, c, err, n->arg);
}

void net_close(net_t *n, net_conn_t *c, bool abort)
{
	if (c->closed)
		return;
	if (!abort && c->open && net_unsent(c))
		(void)flush(n, c);
	finish(n, c, abort);
}

static void on_readable(net_t *n, net_conn_t *c)
{
	size_t have = c->pend_len;
	if (have)
		memcpy(n->rbuf, c->pend, have);
	ssize_t r = conn_read(c, n->rbuf + have, READ_CHUNK);
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		fail(n, c, r < 0 ? -errno : 0);
		return;
	}
	size_t len = have + (size_t)r, pos = 0;
	while (pos < len && !c->closed) {
		wire_pkt_t p;
		ssize_t k = wire_next(n->rbuf + pos, len - pos, &p);
		if (k < 0) {
			fail(n, c, -EPROTO);
			return;
		}
		if (k == 0)
			break;
		pos += (size_t)k;
		n->h.on_packet(n, c, &p, n->arg);
	}
	if (c->closed)
		return;
	size_t rest = len - pos;
	if (rest > c->pend_cap) {
		uint8_t *nb = realloc(c->pend, rest);
		if (!nb) {
			fail(n, c, -ENOMEM);
			return;
		}
		c->pend = nb;
		c->pend_cap = rest;
	}
	if (rest)
		memcpy(c->pend, n->rbuf + pos, rest);
	c->pend_len = rest;
	/* decrypted bytes left inside OpenSSL: epoll will not report them */
	if (c->ssl && SSL_pending(c->ssl) > 0)
		on_readable(n, c);
}

/* Drives the TLS handshake; runs on_open when it completes. */
static void handshake(net_t *n, net_conn_t *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->open = true;
		set_pollout(n, c, false);
		if (n->h.on_open)
			n->h.on_open(n, c, n->arg);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		set_pollout(n, c, false);
	else if (e == SSL_ERROR_WANT_WRITE)
		set_pollout(n, c, true);
	else
		fail(n, c, -EPROTO);
}

/* Drives the WebSocket Upgrade; runs on_open when it is answered. */
static void ws_upgrade(net_t *n, net_conn_t *c)
{
	int r = wsc_handshake(c->ws, c->fd);
	if (r < 0) {
		fail(n, c, -errno);
	} else if (r == 1) {
		c->open = true;
		if (n->h.on_open)
			n->h.on_open(n, c, n->arg);
	}
}

static void on_event(net_t *n, net_conn_t *c, uint32_t ev)
{
	if (c->ssl && !c->open) {
		handshake(n, c);
		return;
	}
	if (c->ws && !c->open) {
		ws_upgrade(n, c);
		return;
	}
	if (!c->open) {
		int err = 0;
		socklen_t l = sizeof(err);
		if ((ev & (EPOLLERR | EPOLLHUP)) ||
		    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			fail(n, c, -(err ? err : ECONNREFUSED));
			return;
		}
		if (n->tls) {
			if (!(c->ssl = SSL_new(n->tls)) || SSL_set_fd(c->ssl, c->fd) != 1) {
				fail(n, c, -ENOMEM);
				return;
			}
			handshake(n, c);
			return;
		}
		if (n->ws_path) {
			if (!(c->ws = wsc_new(n->ws_path))) {
				fail(n, c, -ENOMEM);
				return;
			}
			set_pollout(n, c, false);
			ws_upgrade(n, c);
			return;
		}
		c->open = true;
		set_pollout(n, c, false);
		if (n->h.on_open)
			n->h.on_open(n, c, n->arg);
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(n, c);
	if (!c->closed && (ev & EPOLLOUT)) {
		int rc = flush(n, c);
		if (rc < 0)
			fail(n, c, rc);
	}
}

int net_poll(net_t *n, int64_t timeout_ns)
{
	struct epoll_event evs[MAX_EVENTS];

	for (size_t i = 0; i < n->ndirty; i++) {
		net_conn_t *c = n->dirty[i];
		c->dirty = false;
		if (c->closed || !c->open)
			continue;
		int rc = flush(n, c);
		if (rc < 0)
			fail(n, c, rc);
	}
	n->ndirty = 0;

	/* Nothing references a connection closed before this point any more:
	 * the flush list is empty and its fd has left the epoll set. */
	for (size_t i = 0; i < n->ndead; i++)
		conn_free(n->dead[i]);
	n->ndead = 0;

	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	int k = epoll_pwait2(n->ep, evs, MAX_EVENTS, tp, NULL);
	if (k < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < k; i++) {
		net_conn_t *c = evs[i].data.ptr;
		if (!c->closed)
			on_event(n, c, evs[i].events);
	}
	return k < 0 ? 0 : k;
}

size_t net_live(const net_t *n)
{
	return n->live;
}

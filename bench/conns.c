/* conns: connection workloads.
 *
 * connect: opens `count` connections, at most `conc` in progress at a time;
 * each sends CONNECT (with --username/--password if given), waits for CONNACK,
 * sends DISCONNECT and closes. Reports the rate of accepted connections and
 * the TCP-connect-to-CONNACK latency.
 *
 * idle: opens `count` connections and keeps them; after a PINGREQ round trip
 * on every one (so the broker has processed them all) it reads the broker's
 * RSS, then holds them for `hold` seconds, pinging each every keepalive/2,
 * and ends with another PINGREQ round on every connection. Closes with RST so
 * repeated runs do not fill the ephemeral port range with TIME_WAIT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "net.h"

/* idle: net_conn_t.tag is the connect start time until CONNACK, then: */
enum { TAG_ACCEPTED = 0, TAG_REFUSED = 1 };

typedef struct cx {
	const bench_opts_t *o;
	net_t *net;
	hist_t lat;
	net_conn_t **conns;  /* idle: every connection by index */
	unsigned started, active, ok, refused, failed, closed;
	uint64_t pings, pongs, opened;
	uint64_t last_ok;    /* connect: time of the last accepting CONNACK */
} cx_t;

static void send_bytes(cx_t *x, net_conn_t *c, const uint8_t *b, size_t n)
{
	uint8_t *o = net_reserve(x->net, c, n);
	if (o) {
		memcpy(o, b, n);
		net_commit(x->net, c, n);
	}
}

bool user_pattern_ok(const char *pat)
{
	unsigned convs = 0;
	for (const char *p = pat; p && *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		const char *q = p + 1;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q != 'd' || q - p - 1 > 2 || (q - p - 1 == 2 && p[1] > '1'))
			return false;
		convs++;
		p = q;
	}
	return convs <= 1;
}

void user_format(char *out, size_t cap, const char *pat, unsigned idx)
{
	size_t o = 0;
	if (!cap)
		return;
	for (const char *p = pat; *p && o + 1 < cap; p++) {
		if (*p != '%') {
			out[o++] = *p;
			continue;
		}
		if (p[1] == '%') {
			out[o++] = '%';
			p++;
			continue;
		}
		/* %[0][width]d, checked by user_pattern_ok */
		unsigned width = 0;
		bool zero = p[1] == '0';
		const char *q = p + 1;
		while (*q >= '0' && *q <= '9')
			width = width * 10 + (unsigned)(*q++ - '0');
		char num[32];
		int len = snprintf(num, sizeof(num), "%u", idx);
		for (unsigned pad = (unsigned)len; pad < width && o + 1 < cap; pad++)
			out[o++] = zero ? '0' : ' ';
		for (int i = 0; i < len && o + 1 < cap; i++)
			out[o++] = num[i];
		p = q;
	}
	out[o] = '\0';
}

static void on_open(net_t *n, net_conn_t *c, void *arg)
{
	cx_t *x = arg;
	char cid[64], user[256], pass[256];
	const char *u = x->o->username, *pw = x->o->password;
	uint8_t buf[1024];
	(void)n;
	/* connect: connection i is user i % users; idle: user i */
	unsigned i = (unsigned)(uintptr_t)c->user, users = x->o->users ? x->o->users : x->o->count;
	if (u) {
		user_format(user, sizeof(user), u, i % users);
		u = user;
	}
	if (pw) {
		user_format(pass, sizeof(pass), pw, i % users);
		pw = pass;
	}
	snprintf(cid, sizeof(cid), "rb%d-c%llu", (int)getpid(), (unsigned long long)x->opened++);
	send_bytes(x, c, buf, wire_connect(buf, cid, (uint16_t)x->o->keepalive, u, pw));
}

static void connect_packet(net_t *n, net_conn_t *c, const wire_pkt_t *k, void *arg)
{
	cx_t *x = arg;
	uint8_t b[2];
	if (k->type != WIRE_CONNACK)
		return;
	uint64_t now = now_ns();
	hist_add(&x->lat, now - c->tag);
	if (k->body_len >= 2 && k->body[1] == 0) {
		x->ok++;
		x->last_ok = now;
	} else
		x->refused++;
	send_bytes(x, c, b, wire_disconnect(b));
	net_close(n, c, false);
	x->active--;
}

static void connect_close(net_t *n, net_conn_t *c, int err, void *arg)
{
	cx_t *x = arg;
	(void)n;
	(void)c;
	(void)err;
	x->failed++;
	x->active--;
}

/* Starts connections until `conc` are in progress. */
static void open_more(cx_t *x)
{
	while (x->started < x->o->count && x->active < x->o->conc) {
		net_conn_t *c = net_connect(x->net);
		unsigned i = x->started++;
		if (!c) {
			x->failed++;
			continue;
		}
		c->tag = now_ns();
		c->user = (void *)(uintptr_t)i;
		if (x->conns)
			x->conns[i] = c;
		x->active++;
	}
}

static unsigned settled(const cx_t *x)
{
	return x->ok + x->refused + x->failed;
}

int conns_connect_run(const bench_opts_t *o)
{
	static const net_handlers_t h = {on_open, connect_packet, connect_close};
	cx_t x = {.o = o};
	cpu_mark_t a, b;
	json_t j;

	if (!(x.net = net_new(o->port, &h, &x)) || (o->tls_ca && net_use_tls(x.net, o->tls_ca) < 0) ||
	    (o->ws_path && net_use_ws(x.net, o->ws_path) < 0))
		return 1;
	cpu_mark(o, &a);
	uint64_t end = a.t + (uint64_t)(o->timeout * 1e9);
	while (settled(&x) < o->count && now_ns() < end) {
		open_more(&x);
		if (net_poll(x.net, 100000000) < 0)
			break;
	}
	cpu_mark(o, &b);
	net_poll(x.net, 0);
	/* Connections still pending at the deadline are counted as failed. */
	unsigned pending = o->count - settled(&x);
	double secs = (double)(b.t - a.t) / 1e9, bcpu = cpu_broker_s(&a, &b);
	json_begin(&j, o);
	json_u(&j, "count", o->count);
	json_u(&j, "conc", o->conc);
	json_s(&j, "auth", o->username ? "password" : "none");
	if (o->username)
		json_u(&j, "users", o->users < o->count ? o->users : o->count);
	json_u(&j, "accepted", x.ok);
	json_u(&j, "refused", x.refused);
	json_u(&j, "failed", x.failed + pending);
	json_d(&j, "connects_per_s", secs > 0 ? x.ok / secs : 0);
	/* Without the tail of refused/timed-out attempts (an authd timeout keeps
	 * the run going for seconds after the last accepted CONNECT). */
	double to_last = x.last_ok > a.t ? (double)(x.last_ok - a.t) / 1e9 : 0;
	json_d(&j, "accepted_per_s_to_last", to_last > 0 ? x.ok / to_last : 0);
	json_cpu(&j, &a, &b);
	if (bcpu > 0)
		json_d(&j, "connects_per_broker_cpu_s", x.ok / bcpu);
	json_hist_us(&j, "connack", &x.lat);
	json_end(&j);
	net_destroy(&x.net); /* pending ones leak their fds until exit */
	return pending ? 1 : 0;
}

static void idle_packet(net_t *n, net_conn_t *c, const wire_pkt_t *k, void *arg)
{
	cx_t *x = arg;
	(void)n;
	if (k->type == WIRE_CONNACK) {
		bool ok = k->body_len >= 2 && k->body[1] == 0;
		if (ok)
			x->ok++;
		else
			x->refused++;
		c->tag = ok ? TAG_ACCEPTED : TAG_REFUSED;
		x->active--;
	} else if (k->type == WIRE_PINGRESP) {
		x->pongs++;
	}
}

static void idle_close(net_t *n, net_conn_t *c, int err, void *arg)
{
	cx_t *x = arg;
	(void)n;
	(void)err;
	x->conns[(uintptr_t)c->user] = NULL;
	if (c->tag == TAG_ACCEPTED) {
		x->closed++; /* after CONNACK: the broker dropped it */
	} else if (c->tag != TAG_REFUSED) {
		x->failed++;
		x->active--;
	}
}

static bool pongs_done(cx_t *x, uint64_t want)
{
	return x->pongs >= want;
}

/* Sends PINGREQ on connections [from, to). */
static void ping_range(cx_t *x, unsigned from, unsigned to)
{
	uint8_t b[2];
	for (unsigned i = from; i < to; i++) {
		if (!x->conns[i])
			continue;
		send_bytes(x, x->conns[i], b, wire_pingreq(b));
		x->pings++;
	}
}

/* Pings every live connection and waits for all answers. true if all came. */
static bool ping_all(cx_t *x, double timeout)
{
	ping_range(x, 0, x->o->count);
	uint64_t end = now_ns() + (uint64_t)(timeout * 1e9);
	while (!pongs_done(x, x->pings) && now_ns() < end)
		if (net_poll(x->net, 100000000) < 0)
			break;
	return x->pongs >= x->pings;
}

static void hold(cx_t *x)
{
	double period = x->o->keepalive / 2.0;
	uint64_t start = now_ns(), end = start + (uint64_t)(x->o->hold * 1e9);
	uint64_t per = (uint64_t)(period * 1e9);
	unsigned cursor = 0, n = x->o->count;
	uint64_t round0 = start;

	while (now_ns() < end) {
		uint64_t now = now_ns();
		if (now - round0 >= per) {
			round0 += per;
			if (cursor < n)
				ping_range(x, cursor, n);
			cursor = 0;
		}
		/* Spread each round's pings evenly over the period. */
		unsigned upto = (unsigned)((double)(now - round0) / (double)per * n);
		if (upto > n)
			upto = n;
		if (upto > cursor) {
			ping_range(x, cursor, upto);
			cursor = upto;
		}
		net_poll(x->net, 10000000);
	}
}

int conns_idle_run(const bench_opts_t *o)
{
	static const net_handlers_t h = {on_open, idle_packet, idle_close};
	cx_t x = {.o = o};
	uint64_t rss0 = 0, rss1 = 0, rss2 = 0;
	json_t j;
	int rc = 1;

	x.conns = calloc(o->count, sizeof(*x.conns));
	if (!x.conns || !(x.net = net_new(o->port, &h, &x)) || (o->tls_ca && net_use_tls(x.net, o->tls_ca) < 0) ||
	    (o->ws_path && net_use_ws(x.net, o->ws_path) < 0))
		goto out;
	if (o->broker_pid)
		proc_rss_kb(o->broker_pid, &rss0);
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o->timeout * 1e9);
	while (settled(&x) < o->count && now_ns() < end) {
		open_more(&x);
		if (net_poll(x.net, 100000000) < 0)
			break;
	}
	double open_s = (double)(now_ns() - t0) / 1e9;
	bool first = ping_all(&x, o->timeout);
	if (o->broker_pid)
		proc_rss_kb(o->broker_pid, &rss1);
	hold(&x);
	uint64_t p0 = x.pings, q0 = x.pongs;
	x.pongs = x.pings; /* forget pongs still owed from the hold */
	bool last = ping_all(&x, o->timeout);
	unsigned live = 0;
	for (unsigned i = 0; i < o->count; i++)
		live += x.conns[i] != NULL;
	if (o->broker_pid)
		proc_rss_kb(o->broker_pid, &rss2);

	json_begin(&j, o);
	json_u(&j, "count", o->count);
	json_u(&j, "accepted", x.ok);
	json_u(&j, "refused", x.refused);
	json_u(&j, "failed", x.failed + (o->count - settled(&x)));
	json_d(&j, "open_s", open_s);
	json_u(&j, "first_ping_all_answered", first);
	json_d(&j, "hold_s", o->hold);
	json_u(&j, "keepalive", o->keepalive);
	json_u(&j, "hold_pings", p0);
	json_u(&j, "hold_pongs", q0);
	json_u(&j, "closed_by_broker", x.closed);
	json_u(&j, "held", last ? live : 0);
	if (o->broker_pid) {
		json_u(&j, "rss_before_kb", rss0);
		json_u(&j, "rss_connected_kb", rss1);
		json_u(&j, "rss_after_hold_kb", rss2);
		if (x.ok)
			json_d(&j, "rss_per_conn_bytes", ((double)rss1 - (double)rss0) * 1024.0 / x.ok);
	}
	json_end(&j);
	rc = x.ok == o->count && last && live == o->count ? 0 : 1;
out:
	for (unsigned i = 0; x.conns && i < o->count; i++)
		if (x.conns[i])
			net_close(x.net, x.conns[i], true);
	if (x.net)
		net_poll(x.net, 0);
	net_destroy(&x.net);
	free(x.conns);
	return rc;
}

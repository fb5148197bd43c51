/* flow: message workloads. pairs (N publishers, each to its own subscriber),
 * fanout (1 publisher, N subscribers on one topic), fanin (N publishers on
 * N topics, 1 subscriber on a '+' filter), shared (N publishers on N
 * topics, M members of one shared subscription "$share/bench/..." on a '+'
 * filter: tracked as one subscriber, the group) and latency (pairs at a
 * fixed rate).
 *
 * Payload: 8-byte sequence word (publisher index << 40 | sequence number,
 * host byte order), 8-byte send time (CLOCK_MONOTONIC ns, host order), then
 * zero padding. Every subscriber keeps one track_t per publisher it expects,
 * so loss, duplicates and reordering are exact. A publisher stays at most
 * `window / publishers-per-subscriber` messages ahead of the slowest of its
 * subscribers (so brokers are measured, not their queues) and, at QoS 1, at
 * most `inflight` PUBLISHes without PUBACK.
 *
 * Phases: setup (connect, subscribe) -> warmup -> measured window -> drain
 * (no more sending; wait until everything sent has arrived and been
 * acknowledged, or the drain period ends) -> report -> DISCONNECT.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "net.h"

#define SEQ_BITS 40
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)
#define PUMP_BATCH 64              /* messages per publisher per loop turn */
#define OUT_HIGH (256u * 1024u)    /* stop encoding above this much unsent */

enum mode { PAIRS, FANOUT, FANIN, SHARED };
enum role { ROLE_PUB, ROLE_SUB };

typedef struct pubr {
	net_conn_t *c;
	unsigned id;
	bool ready, dead;
	uint64_t sent, acked;
	unsigned inflight;
	uint16_t next_pid;
	uint64_t *pidbits;  /* 65536 bits: packet ids awaiting PUBACK */
	uint8_t *tmpl;      /* one whole PUBLISH, patched per message */
	size_t tmpl_len, pid_off, pay_off;
	uint64_t minrecv;   /* cached slowest subscriber's count from us */
	char topic[96];
} pubr_t;

typedef struct subr {
	net_conn_t *c;
	unsigned id;
	bool ready, dead;
	uint64_t got;       /* new messages it received (shared: its share) */
	char filter[112];
} subr_t;

typedef struct flow {
	const bench_opts_t *o;
	enum mode mode;
	net_t *net;
	pubr_t *pubs;
	subr_t *subs;
	track_t *tracks;    /* [sub * npub + pub] */
	unsigned npub, nsub, nready;
	unsigned win, inflight;
	double rate_pub;    /* msg/s per publisher; 0 = unlimited */
	bool sending, measuring;
	uint64_t t_send0;
	hist_t lat;
	uint64_t received, unexpected, bad, errors, disconnects, refused;
	char prefix[48];
} flow_t;

static bool expects(const flow_t *f, unsigned s, unsigned p)
{
	switch (f->mode) {
	case PAIRS: return s == p;
	case FANOUT: return p == 0;
	default: return s == 0;
	}
}

static track_t *trk(flow_t *f, unsigned s, unsigned p)
{
	return &f->tracks[(size_t)s * f->npub + p];
}

/* Smallest count any expecting subscriber has received from p. */
static uint64_t min_recv(flow_t *f, pubr_t *p)
{
	if (f->mode == PAIRS)
		return trk(f, p->id, p->id)->uniq;
	if (f->mode == FANIN || f->mode == SHARED)
		return trk(f, 0, p->id)->uniq;
	uint64_t m = UINT64_MAX;
	for (unsigned s = 0; s < f->nsub; s++)
		if (!f->subs[s].dead && trk(f, s, p->id)->uniq < m)
			m = trk(f, s, p->id)->uniq;
	return m == UINT64_MAX ? p->sent : m;
}

static void send_bytes(flow_t *f, net_conn_t *c, const uint8_t *b, size_t n)
{
	uint8_t *o = net_reserve(f->net, c, n);
	if (!o) {
		f->errors++;
		return;
	}
	memcpy(o, b, n);
	net_commit(f->net, c, n);
}

static void on_open(net_t *n, net_conn_t *c, void *arg)
{
	flow_t *f = arg;
	char cid[64], user[256], pass[256];
	const char *u = f->o->username, *pw = f->o->password;
	uint8_t buf[1024];

	if (c->tag == ROLE_PUB)
		snprintf(cid, sizeof(cid), "rb%d-p%u", (int)getpid(), ((pubr_t *)c->user)->id);
	else
		snprintf(cid, sizeof(cid), "rb%d-s%u", (int)getpid(), ((subr_t *)c->user)->id);
	(void)n;
	if (u) { /* flows use user index 0 */
		user_format(user, sizeof(user), u, 0);
		u = user;
	}
	if (pw) {
		user_format(pass, sizeof(pass), pw, 0);
		pw = pass;
	}
	send_bytes(f, c, buf, wire_connect(buf, cid, 60, u, pw));
}

static void on_close(net_t *n, net_conn_t *c, int err, void *arg)
{
	flow_t *f = arg;
	(void)n;
	(void)err;
	f->disconnects++;
	if (c->tag == ROLE_PUB) {
		((pubr_t *)c->user)->dead = true;
		((pubr_t *)c->user)->c = NULL;
	} else {
		((subr_t *)c->user)->dead = true;
		((subr_t *)c->user)->c = NULL;
	}
}

static void on_publish(flow_t *f, subr_t *s, const wire_pkt_t *p)
{
	wire_pub_t m;
	uint64_t word, ts;

	if (wire_parse_publish(p, &m) < 0 || m.payload_len < 16) {
		f->bad++;
		return;
	}
	if (m.qos) {
		uint8_t ack[4];
		send_bytes(f, s->c, ack, wire_puback(ack, m.pid));
	}
	memcpy(&word, m.payload, 8);
	memcpy(&ts, m.payload + 8, 8);
	unsigned pub = (unsigned)(word >> SEQ_BITS);
	unsigned sid = f->mode == SHARED ? 0 : s->id; /* a shared group is one stream */
	if (pub >= f->npub || !expects(f, sid, pub)) {
		f->unexpected++;
		return;
	}
	int rc = track_add(trk(f, sid, pub), word & SEQ_MASK);
	if (rc < 0)
		f->errors++;
	if (rc != 1)
		return;
	f->received++;
	s->got++;
	if (f->measuring) {
		uint64_t now = now_ns();
		hist_add(&f->lat, now > ts ? now - ts : 0);
	}
}

static void on_puback(flow_t *f, pubr_t *p, const wire_pkt_t *k)
{
	if (k->body_len < 2) {
		f->bad++;
		return;
	}
	uint16_t pid = wire_get16(k->body);
	uint64_t bit = 1ull << (pid & 63);
	if (!(p->pidbits[pid >> 6] & bit)) {
		f->errors++; /* PUBACK for nothing we sent */
		return;
	}
	p->pidbits[pid >> 6] &= ~bit;
	p->inflight--;
	p->acked++;
}

static void on_packet(net_t *n, net_conn_t *c, const wire_pkt_t *k, void *arg)
{
	flow_t *f = arg;
	uint8_t buf[256];
	(void)n;

	switch (k->type) {
	case WIRE_PUBLISH:
		if (c->tag == ROLE_SUB)
			on_publish(f, c->user, k);
		else
			f->unexpected++;
		break;
	case WIRE_PUBACK:
		if (c->tag == ROLE_PUB)
			on_puback(f, c->user, k);
		else
			f->bad++;
		break;
	case WIRE_CONNACK:
		if (k->body_len < 2 || k->body[1] != 0) {
			f->refused++;
			break;
		}
		if (c->tag == ROLE_PUB) {
			((pubr_t *)c->user)->ready = true;
			f->nready++;
		} else {
			subr_t *s = c->user;
			send_bytes(f, c, buf, wire_subscribe(buf, 1, s->filter, (uint8_t)f->o->qos));
		}
		break;
	case WIRE_SUBACK:
		if (wire_suback_code(k) >= 0x80) {
			f->refused++;
			break;
		}
		((subr_t *)c->user)->ready = true;
		f->nready++;
		break;
	case WIRE_PINGRESP:
		break;
	default:
		f->bad++;
	}
}

static int make_template(flow_t *f, pubr_t *p)
{
	uint8_t head[128];
	size_t tl = strlen(p->topic), pay = f->o->payload;
	size_t hl = wire_publish_head(head, (uint8_t)f->o->qos, p->topic, tl, pay, &p->pid_off);

	p->tmpl_len = hl + pay;
	p->pay_off = hl;
	p->tmpl = calloc(1, p->tmpl_len);
	p->pidbits = calloc(65536 / 64, sizeof(uint64_t));
	if (!p->tmpl || !p->pidbits)
		return -ENOMEM;
	memcpy(p->tmpl, head, hl);
	return 0;
}

/* Allocates a free packet id (the caller checked inflight < 65535). */
static uint16_t take_pid(pubr_t *p)
{
	for (;;) {
		uint16_t pid = ++p->next_pid;
		if (!pid)
			continue;
		uint64_t bit = 1ull << (pid & 63);
		if (p->pidbits[pid >> 6] & bit)
			continue;
		p->pidbits[pid >> 6] |= bit;
		return pid;
	}
}

/* Encodes what each publisher may send now. Returns true when some publisher
 * stopped only because of its per-turn batch (poll again without waiting);
 * lowers *wake to the next time a rate-limited publisher is due. */
static bool pump(flow_t *f, uint64_t now, uint64_t *wake)
{
	bool more = false;

	for (unsigned i = 0; i < f->npub; i++) {
		pubr_t *p = &f->pubs[i];
		if (p->dead || !p->ready)
			continue;
		uint64_t due = UINT64_MAX;
		if (f->rate_pub > 0) {
			due = (uint64_t)((double)(now - f->t_send0) * f->rate_pub / 1e9) + 1;
			if (p->sent >= due) {
				uint64_t t = f->t_send0 + (uint64_t)((double)p->sent * 1e9 / f->rate_pub);
				if (t < *wake)
					*wake = t;
				continue;
			}
		}
		unsigned n = 0;
		for (; n < PUMP_BATCH && p->sent < due; n++) {
			if (net_unsent(p->c) > OUT_HIGH)
				break;
			if (f->o->qos && p->inflight >= f->inflight)
				break;
			if (p->sent - p->minrecv >= f->win) {
				p->minrecv = min_recv(f, p);
				if (p->sent - p->minrecv >= f->win)
					break;
			}
			uint8_t *o = net_reserve(f->net, p->c, p->tmpl_len);
			if (!o) {
				f->errors++;
				break;
			}
			memcpy(o, p->tmpl, p->tmpl_len);
			if (f->o->qos) {
				wire_put16(o + p->pid_off, take_pid(p));
				p->inflight++;
			}
			uint64_t word = ((uint64_t)p->id << SEQ_BITS) | p->sent, ts = now_ns();
			memcpy(o + p->pay_off, &word, 8);
			memcpy(o + p->pay_off + 8, &ts, 8);
			net_commit(f->net, p->c, p->tmpl_len);
			p->sent++;
		}
		if (n == PUMP_BATCH)
			more = true;
	}
	return more;
}

/* Runs the loop until `until` (ns), or until done(f) when given. */
static int run_until(flow_t *f, uint64_t until, bool (*done)(flow_t *))
{
	for (;;) {
		uint64_t now = now_ns();
		if (now >= until || (done && done(f)))
			return 0;
		uint64_t wake = until;
		bool more = f->sending && pump(f, now, &wake);
		if (wake > now + 100000000ull)
			wake = now + 100000000ull;
		int rc = net_poll(f->net, more ? 0 : (int64_t)(wake > now ? wake - now : 0));
		if (rc < 0)
			return rc;
	}
}

static bool all_ready(flow_t *f)
{
	return f->nready == f->npub + f->nsub || f->refused || f->disconnects;
}

static bool drained(flow_t *f)
{
	for (unsigned p = 0; p < f->npub; p++) {
		if (f->o->qos && f->pubs[p].acked != f->pubs[p].sent)
			return false;
		for (unsigned s = 0; s < f->nsub; s++)
			if (expects(f, s, p) && trk(f, s, p)->uniq != f->pubs[p].sent)
				return false;
	}
	return true;
}

/* QoS 0 may legitimately drop: stop draining once nothing arrives for 1 s. */
static int drain(flow_t *f)
{
	uint64_t end = now_ns() + (uint64_t)(f->o->drain * 1e9);
	for (;;) {
		uint64_t before = f->received, now = now_ns();
		uint64_t step = f->o->qos ? end : now + 1000000000ull;
		if (step > end)
			step = end;
		int rc = run_until(f, step, drained);
		if (rc < 0 || drained(f) || now_ns() >= end)
			return rc;
		if (!f->o->qos && f->received == before)
			return 0;
	}
}

static int setup(flow_t *f)
{
	const bench_opts_t *o = f->o;
	if (o->topic_prefix)
		snprintf(f->prefix, sizeof(f->prefix), "%s", o->topic_prefix);
	else
		snprintf(f->prefix, sizeof(f->prefix), "roost-bench/%d", (int)getpid());
	for (unsigned s = 0; s < f->nsub; s++) {
		subr_t *sb = &f->subs[s];
		sb->id = s;
		if (f->mode == PAIRS)
			snprintf(sb->filter, sizeof(sb->filter), "%s/p%u", f->prefix, s);
		else if (f->mode == FANOUT)
			snprintf(sb->filter, sizeof(sb->filter), "%s/fan", f->prefix);
		else if (f->mode == SHARED)
			snprintf(sb->filter, sizeof(sb->filter), "$share/bench/%s/sh/+", f->prefix);
		else
			snprintf(sb->filter, sizeof(sb->filter), "%s/in/+", f->prefix);
		uint16_t port = f->mode == SHARED && o->sub_port2 && s % 2 ? o->sub_port2 : o->sub_port;
		if (!(sb->c = net_connect_port(f->net, port)))
			return -errno;
		sb->c->user = sb;
		sb->c->tag = ROLE_SUB;
	}
	for (unsigned i = 0; i < f->npub; i++) {
		pubr_t *p = &f->pubs[i];
		p->id = i;
		if (f->mode == PAIRS)
			snprintf(p->topic, sizeof(p->topic), "%s/p%u", f->prefix, i);
		else if (f->mode == FANOUT)
			snprintf(p->topic, sizeof(p->topic), "%s/fan", f->prefix);
		else
			snprintf(p->topic, sizeof(p->topic), f->mode == SHARED ? "%s/sh/%u" : "%s/in/%u",
				 f->prefix, i);
		if (make_template(f, p) < 0)
			return -ENOMEM;
		uint16_t port = f->mode == SHARED && o->pub_port2 && i % 2 ? o->pub_port2 : o->pub_port;
		if (!(p->c = net_connect_port(f->net, port)))
			return -errno;
		p->c->user = p;
		p->c->tag = ROLE_PUB;
	}
	int rc = run_until(f, now_ns() + (uint64_t)(o->timeout * 1e9), all_ready);
	if (rc < 0)
		return rc;
	if (f->nready != f->npub + f->nsub) {
		fprintf(stderr, "roost-bench: setup failed: %u of %u ready, %llu refused, %llu closed\n",
			f->nready, f->npub + f->nsub, (unsigned long long)f->refused,
			(unsigned long long)f->disconnects);
		return -ETIMEDOUT;
	}
	/* A cluster propagates subscriptions to other brokers after SUBACK. */
	if (o->settle > 0 && (rc = run_until(f, now_ns() + (uint64_t)(o->settle * 1e9), NULL)) < 0)
		return rc;
	return 0;
}

/* ROOST_BENCH_DEBUG=1: on stderr, every incomplete stream and, for the first
 * five publishers, each sequence number that never arrived. */
static void debug_streams(flow_t *f)
{
	for (unsigned p = 0; p < f->npub; p++)
		for (unsigned s = 0; s < f->nsub; s++) {
			track_t *t = trk(f, s, p);
			if (!expects(f, s, p) || t->uniq == f->pubs[p].sent)
				continue;
			fprintf(stderr, "stream s%u<-p%u: sent %llu acked %llu received %llu\n", s, p,
				(unsigned long long)f->pubs[p].sent,
				(unsigned long long)f->pubs[p].acked, (unsigned long long)t->uniq);
			for (uint64_t q = 0; p < 5 && q < f->pubs[p].sent; q++)
				if (q / 64 >= t->nwords || !(t->bits[q / 64] & (1ull << (q % 64))))
					fprintf(stderr, "  missing seq %llu\n", (unsigned long long)q);
		}
}

static void report(flow_t *f, const cpu_mark_t *a, const cpu_mark_t *b,
		   uint64_t sent_a, uint64_t sent_b, uint64_t recv_a, uint64_t recv_b)
{
	uint64_t sent = 0, expected = 0, uniq = 0, dup = 0, late = 0;
	json_t j;

	for (unsigned p = 0; p < f->npub; p++) {
		sent += f->pubs[p].sent;
		for (unsigned s = 0; s < f->nsub; s++) {
			if (!expects(f, s, p))
				continue;
			track_t *t = trk(f, s, p);
			expected += f->pubs[p].sent;
			uniq += t->uniq;
			dup += t->dup;
			late += t->late;
		}
	}
	double secs = (double)(b->t - a->t) / 1e9, bcpu = cpu_broker_s(a, b);
	if (getenv("ROOST_BENCH_DEBUG"))
		debug_streams(f);
	json_begin(&j, f->o);
	json_u(&j, "qos", f->o->qos);
	json_u(&j, "pub_port", f->o->pub_port);
	json_u(&j, "sub_port", f->o->sub_port);
	json_u(&j, "pubs", f->npub);
	json_u(&j, "subs", f->nsub);
	json_u(&j, "payload", f->o->payload);
	json_u(&j, "window", f->win);
	json_u(&j, "inflight", f->o->qos ? f->inflight : 0);
	json_d(&j, "rate_target", f->o->rate);
	json_u(&j, "sent", sent);
	json_u(&j, "expected", expected);
	json_u(&j, "received", uniq);
	json_u(&j, "lost", expected - uniq);
	json_u(&j, "duplicates", dup);
	json_u(&j, "out_of_order", late);
	json_u(&j, "unexpected", f->unexpected);
	json_u(&j, "malformed", f->bad);
	json_u(&j, "errors", f->errors);
	json_u(&j, "disconnects", f->disconnects);
	json_u(&j, "window_sent", sent_b - sent_a);
	json_u(&j, "window_deliveries", recv_b - recv_a);
	json_d(&j, "pub_msgs_per_s", secs > 0 ? (double)(sent_b - sent_a) / secs : 0);
	json_d(&j, "deliveries_per_s", secs > 0 ? (double)(recv_b - recv_a) / secs : 0);
	json_cpu(&j, a, b);
	if (bcpu > 0)
		json_d(&j, "deliveries_per_broker_cpu_s", (double)(recv_b - recv_a) / bcpu);
	if (f->mode == SHARED) {
		uint64_t lo = UINT64_MAX, hi = 0;
		for (unsigned s = 0; s < f->nsub; s++) {
			lo = f->subs[s].got < lo ? f->subs[s].got : lo;
			hi = f->subs[s].got > hi ? f->subs[s].got : hi;
		}
		json_u(&j, "sub_port2", f->o->sub_port2);
		json_u(&j, "member_min", lo);
		json_u(&j, "member_max", hi);
	}
	json_hist_us(&j, "latency", &f->lat);
	json_end(&j);
}

static uint64_t total_sent(const flow_t *f)
{
	uint64_t n = 0;
	for (unsigned p = 0; p < f->npub; p++)
		n += f->pubs[p].sent;
	return n;
}

static void teardown(flow_t *f)
{
	uint8_t b[2];
	for (unsigned i = 0; i < f->npub; i++) {
		if (f->pubs[i].c) {
			send_bytes(f, f->pubs[i].c, b, wire_disconnect(b));
			net_close(f->net, f->pubs[i].c, false);
		}
		free(f->pubs[i].tmpl);
		free(f->pubs[i].pidbits);
	}
	for (unsigned s = 0; s < f->nsub; s++)
		if (f->subs[s].c) {
			send_bytes(f, f->subs[s].c, b, wire_disconnect(b));
			net_close(f->net, f->subs[s].c, false);
		}
	if (f->net)
		net_poll(f->net, 0);
	net_destroy(&f->net);
	for (size_t i = 0; i < (size_t)f->npub * f->nsub; i++)
		if (f->tracks)
			track_fini(&f->tracks[i]);
	free(f->tracks);
	free(f->pubs);
	free(f->subs);
}

int flow_run(const bench_opts_t *o)
{
	static const net_handlers_t h = {on_open, on_packet, on_close};
	flow_t *f = calloc(1, sizeof(*f));
	int rc = -ENOMEM;
	if (!f)
		return 1;
	f->o = o;
	if (!strcmp(o->workload, "fanout")) {
		f->mode = FANOUT;
		f->npub = 1;
		f->nsub = o->subs;
	} else if (!strcmp(o->workload, "fanin")) {
		f->mode = FANIN;
		f->npub = o->pubs;
		f->nsub = 1;
	} else if (!strcmp(o->workload, "shared")) {
		f->mode = SHARED;
		f->npub = o->pubs;
		f->nsub = o->subs;
	} else {
		f->mode = PAIRS;
		f->npub = f->nsub = o->pubs;
	}
	/* Each subscriber has at most `window` messages outstanding in total. */
	unsigned feeders = f->mode == FANIN || f->mode == SHARED ? f->npub : 1;
	f->win = o->window / feeders ? o->window / feeders : 1;
	f->inflight = o->inflight < f->win ? o->inflight : f->win;
	f->rate_pub = o->rate / f->npub;
	f->pubs = calloc(f->npub, sizeof(*f->pubs));
	f->subs = calloc(f->nsub, sizeof(*f->subs));
	f->tracks = calloc((size_t)f->npub * f->nsub, sizeof(*f->tracks));
	f->net = net_new(o->port, &h, f);
	if (f->net && o->ws_path)
		net_use_ws(f->net, o->ws_path);
	if (f->net && o->tls_ca && net_use_tls(f->net, o->tls_ca) < 0)
		net_destroy(&f->net);
	if (!f->pubs || !f->subs || !f->tracks || !f->net)
		goto out;
	if ((rc = setup(f)) < 0)
		goto out;

	cpu_mark_t a, b;
	uint64_t sent_a, recv_a;
	f->sending = true;
	f->t_send0 = now_ns();
	if ((rc = run_until(f, f->t_send0 + (uint64_t)(o->warmup * 1e9), NULL)) < 0)
		goto out;
	cpu_mark(o, &a);
	sent_a = total_sent(f);
	recv_a = f->received;
	f->measuring = true;
	if ((rc = run_until(f, a.t + (uint64_t)(o->seconds * 1e9), NULL)) < 0)
		goto out;
	f->measuring = false;
	f->sending = false;
	cpu_mark(o, &b);
	uint64_t sent_b = total_sent(f), recv_b = f->received;
	if ((rc = drain(f)) < 0)
		goto out;
	report(f, &a, &b, sent_a, sent_b, recv_a, recv_b);
out:
	if (rc < 0)
		fprintf(stderr, "roost-bench: %s: %s\n", o->workload, strerror(-rc));
	teardown(f);
	free(f);
	return rc < 0 ? 1 : 0;
}

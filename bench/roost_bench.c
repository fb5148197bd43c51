/* roost-bench: MQTT 3.1.1 load generator for Roost and Mosquitto.
 *
 *   roost-bench WORKLOAD --port P [options]
 *
 * One process, one epoll loop, many connections to 127.0.0.1 only. Prints
 * one JSON line per run on stdout (bench/run tabulates them); diagnostics go
 * to stderr. Every run is bounded in time (setup, measured window, drain)
 * and in count. See bench/README.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "wire.h"

static void usage(FILE *f)
{
	fputs("usage: roost-bench pairs|fanout|fanin|latency|shared|connect|idle --port P [options]\n"
	      "  --broker-pid PID[,PID...]  read the broker's CPU time / RSS from /proc; more\n"
	      "                     PIDs (other cluster nodes, Redis) add to the CPU figure\n"
	      "  --label TEXT       copied into the JSON output\n"
	      "  --topic-prefix T   flows' topics start with T (default roost-bench/PID); a\n"
	      "                     fixed one makes instruction counts comparable across runs\n"
	      "  --tls-ca FILE      connect with TLS, verifying the broker against this CA\n"
	      "  --ws PATH          MQTT over WebSockets on PATH (e.g. /mqtt; the port is a --ws-port)\n"
	      "  --mqtt 4|5         protocol level: 3.1.1 (default) or 5.0 (empty property lists)\n"
	      " flows (pairs, fanout, fanin, latency):\n"
	      "  --pairs N          pairs: publisher/subscriber pairs (default 10; latency 1)\n"
	      "  --subs N           fanout: subscribers (default 100); shared: members (default 3)\n"
	      "  --pubs N           fanin, shared: publishers (default 100; shared 2)\n"
	      "  shared: the members subscribe $share/bench/PREFIX/sh/+, publisher i publishes on\n"
	      "          PREFIX/sh/i: each message once to the group (loss and duplicates counted\n"
	      "          over the group; member_min/member_max: the least and most one member got)\n"
	      "  --sub-port2 P      shared: every other member connects here (members over two brokers)\n"
	      "  --pub-port2 P      shared: every other publisher connects here\n"
	      "  --qos 0|1          (default 0)\n"
	      "  --seconds S        measured window (default 5)\n"
	      "  --warmup S         unmeasured traffic before it (default 1)\n"
	      "  --drain S          wait at most S for stragglers after it (default 5)\n"
	      "  --payload B        payload bytes, 16..65536 (default 64)\n"
	      "  --window N         max in transit per subscriber (default 1000)\n"
	      "  --inflight N       QoS 1: max unacked per publisher (default 100)\n"
	      "  --rate R           total msg/s (default unlimited; latency 5000)\n"
	      "  --pub-port P       publishers connect here (default --port)\n"
	      "  --sub-port P       subscribers connect here (default --port): cross-broker\n"
	      "  --settle S         wait S after the last SUBACK before publishing (default 0;\n"
	      "                     lets a cluster propagate subscriptions)\n"
	      " connections (connect, idle):\n"
	      "  --count N          connections (default 5000 connect, 10000 idle)\n"
	      "  --inflight N       connection attempts in progress (default 100)\n"
	      "  --username U --password P  each may hold one %d or %0Nd: the user index\n"
	      "  --users N          connect: user index = connection index %% N (default --count)\n"
	      "  --keepalive S      CONNECT keep-alive (default 60)\n"
	      "  --hold S           idle: hold the connections for S (default 0)\n"
	      "  --timeout S        bound on setup / connecting (default 30)\n",
	      f);
}

static double num(const char *s, double lo, double hi, const char *what);

/* --broker-pid PID[,PID...] */
static void pids(bench_opts_t *o, const char *arg)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		pid_t p = (pid_t)num(t, 1, 1 << 22, "broker-pid");
		if (!o->broker_pid)
			o->broker_pid = p;
		else if (o->n_extra < sizeof(o->extra_pids) / sizeof(o->extra_pids[0]))
			o->extra_pids[o->n_extra++] = p;
	}
}

static double num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "roost-bench: --%s must be a number in [%g, %g]\n", what, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"port", 1, 0, 'P'}, {"broker-pid", 1, 0, 'B'}, {"label", 1, 0, 'L'},
		{"pairs", 1, 0, 'n'}, {"subs", 1, 0, 'S'}, {"pubs", 1, 0, 'U'},
		{"qos", 1, 0, 'q'}, {"seconds", 1, 0, 's'}, {"warmup", 1, 0, 'w'},
		{"drain", 1, 0, 'd'}, {"payload", 1, 0, 'p'}, {"window", 1, 0, 'W'},
		{"inflight", 1, 0, 'i'}, {"rate", 1, 0, 'r'}, {"count", 1, 0, 'c'},
		{"username", 1, 0, 'u'}, {"password", 1, 0, 'x'}, {"keepalive", 1, 0, 'k'},
		{"hold", 1, 0, 'H'}, {"timeout", 1, 0, 'T'}, {"help", 0, 0, 'h'},
		{"pub-port", 1, 0, 'a'}, {"sub-port", 1, 0, 'b'}, {"settle", 1, 0, 'e'},
		{"users", 1, 0, 'N'}, {"tls-ca", 1, 0, 'C'}, {"ws", 1, 0, 'Z'}, {"topic-prefix", 1, 0, 'X'},
		{"mqtt", 1, 0, 'M'}, {"sub-port2", 1, 0, 'g'}, {"pub-port2", 1, 0, 'G'},
		{0, 0, 0, 0},
	};
	bench_opts_t o = {
		.pubs = 10, .subs = 100, .qos = 0, .seconds = 5, .warmup = 1, .drain = 5,
		.payload = 64, .window = 1000, .inflight = 100, .conc = 100,
		.keepalive = 60, .timeout = 30,
	};
	int pairs = -1, pubs = -1, subs = -1, count = -1, opt;
	double rate = -1;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	o.workload = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (opt) {
		case 'P': o.port = (uint16_t)num(optarg, 1, 65535, "port"); break;
		case 'B': pids(&o, optarg); break;
		case 'a': o.pub_port = (uint16_t)num(optarg, 1, 65535, "pub-port"); break;
		case 'b': o.sub_port = (uint16_t)num(optarg, 1, 65535, "sub-port"); break;
		case 'G': o.pub_port2 = (uint16_t)num(optarg, 1, 65535, "pub-port2"); break;
		case 'g': o.sub_port2 = (uint16_t)num(optarg, 1, 65535, "sub-port2"); break;
		case 'e': o.settle = num(optarg, 0, 600, "settle"); break;
		case 'N': o.users = (unsigned)num(optarg, 1, 10000000, "users"); break;
		case 'L': o.label = optarg; break;
		case 'X':
			if (strlen(optarg) >= 40) {
				fprintf(stderr, "roost-bench: --topic-prefix: at most 39 bytes\n");
				return 2;
			}
			o.topic_prefix = optarg;
			break;
		case 'C': o.tls_ca = optarg; break;
		case 'M': wire_mqtt5 = num(optarg, 4, 5, "mqtt") == 5; break;
		case 'Z': o.ws_path = optarg; break;
		case 'n': pairs = (int)num(optarg, 1, 5000, "pairs"); break;
		case 'S': subs = (int)num(optarg, 1, 10000, "subs"); break;
		case 'U': pubs = (int)num(optarg, 1, 10000, "pubs"); break;
		case 'q': o.qos = (unsigned)num(optarg, 0, 1, "qos"); break;
		case 's': o.seconds = num(optarg, 0.1, 3600, "seconds"); break;
		case 'w': o.warmup = num(optarg, 0, 600, "warmup"); break;
		case 'd': o.drain = num(optarg, 0, 600, "drain"); break;
		case 'p': o.payload = (unsigned)num(optarg, 16, 65536, "payload"); break;
		case 'W': o.window = (unsigned)num(optarg, 1, 1e7, "window"); break;
		case 'i': o.inflight = o.conc = (unsigned)num(optarg, 1, 65535, "inflight"); break;
		case 'r': rate = num(optarg, 0, 1e8, "rate"); break;
		case 'c': count = (int)num(optarg, 1, 100000, "count"); break;
		case 'u': o.username = optarg; break;
		case 'x': o.password = optarg; break;
		case 'k': o.keepalive = (unsigned)num(optarg, 0, 65535, "keepalive"); break;
		case 'H': o.hold = num(optarg, 0, 3600, "hold"); break;
		case 'T': o.timeout = num(optarg, 1, 3600, "timeout"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.port)
		o.port = o.pub_port && o.sub_port ? o.pub_port : 0;
	if (!o.port) {
		fputs("roost-bench: --port (or --pub-port and --sub-port) is required\n", stderr);
		return 2;
	}
	if (!o.pub_port)
		o.pub_port = o.port;
	if (!o.sub_port)
		o.sub_port = o.port;
	if (o.ws_path && o.tls_ca) {
		fputs("roost-bench: --ws and --tls-ca together (wss) are not supported\n", stderr);
		return 2;
	}
	if (!user_pattern_ok(o.username) || !user_pattern_ok(o.password)) {
		fputs("roost-bench: --username/--password may hold at most one %d or %0Nd (N < 20)"
		      " and %% for a literal %\n", stderr);
		return 2;
	}
	if ((o.username && strlen(o.username) > 255) || (o.password && strlen(o.password) > 255)) {
		fputs("roost-bench: username and password are limited to 255 bytes\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	bool latency = !strcmp(o.workload, "latency");
	bool shared = !strcmp(o.workload, "shared");
	if (!strcmp(o.workload, "fanin") || shared)
		o.pubs = pubs > 0 ? (unsigned)pubs : shared ? 2 : 100;
	else
		o.pubs = pairs > 0 ? (unsigned)pairs : latency ? 1 : 10;
	o.subs = subs > 0 ? (unsigned)subs : shared ? 3 : 100;
	o.rate = rate >= 0 ? rate : latency ? 5000 : 0;
	if (!strcmp(o.workload, "pairs") || latency || !strcmp(o.workload, "fanout") ||
	    !strcmp(o.workload, "fanin") || shared)
		return flow_run(&o);
	if (!strcmp(o.workload, "connect")) {
		o.count = count > 0 ? (unsigned)count : 5000;
		if (!o.users)
			o.users = o.count;
		return conns_connect_run(&o);
	}
	if (!strcmp(o.workload, "idle")) {
		o.count = count > 0 ? (unsigned)count : 10000;
		if (o.hold > 0 && o.keepalive == 0) {
			fputs("roost-bench: --hold needs --keepalive > 0\n", stderr);
			return 2;
		}
		return conns_idle_run(&o);
	}
	fprintf(stderr, "roost-bench: unknown workload '%s'\n", o.workload);
	usage(stderr);
	return 2;
}

void json_begin(json_t *j, const bench_opts_t *o)
{
	j->f = stdout;
	j->first = true;
	fputc('{', j->f);
	json_s(j, "workload", o->workload);
	if (o->label)
		json_s(j, "label", o->label);
}

static void key(json_t *j, const char *k)
{
	fprintf(j->f, "%s\"%s\":", j->first ? "" : ",", k);
	j->first = false;
}

void json_u(json_t *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "%" PRIu64, v);
}

void json_d(json_t *j, const char *k, double v)
{
	key(j, k);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void json_s(json_t *j, const char *k, const char *v)
{
	key(j, k);
	fputc('"', j->f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', j->f);
		if ((unsigned char)*v >= 0x20)
			fputc(*v, j->f);
	}
	fputc('"', j->f);
}

void json_end(json_t *j)
{
	fputs("}\n", j->f);
	fflush(j->f);
}

void json_hist_us(json_t *j, const char *prefix, const hist_t *h)
{
	char k[64];
	static const struct { const char *name; double p; } q[] = {
		{"p50", 0.50}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0},
	};
	snprintf(k, sizeof(k), "%s_samples", prefix);
	json_u(j, k, h->n);
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		snprintf(k, sizeof(k), "%s_%s_us", prefix, q[i].name);
		json_d(j, k, (double)hist_pct(h, q[i].p) / 1e3);
	}
	snprintf(k, sizeof(k), "%s_mean_us", prefix);
	json_d(j, k, h->n ? (double)h->sum / (double)h->n / 1e3 : 0);
}

void cpu_mark(const bench_opts_t *o, cpu_mark_t *m)
{
	m->t = now_ns();
	m->self = self_cpu_ns();
	m->have_broker = o->broker_pid && proc_cpu_ns(o->broker_pid, &m->broker) == 0;
	for (unsigned i = 0; m->have_broker && i < o->n_extra; i++) {
		uint64_t v;
		m->have_broker = proc_cpu_ns(o->extra_pids[i], &v) == 0;
		m->broker += v;
	}
	m->have_machine = proc_machine_busy_ns(&m->machine) == 0;
}

double cpu_broker_s(const cpu_mark_t *a, const cpu_mark_t *b)
{
	if (!a->have_broker || !b->have_broker)
		return -1;
	return (double)(b->broker - a->broker) / 1e9;
}

void json_cpu(json_t *j, const cpu_mark_t *a, const cpu_mark_t *b)
{
	json_d(j, "elapsed_s", (double)(b->t - a->t) / 1e9);
	json_d(j, "gen_cpu_s", (double)(b->self - a->self) / 1e9);
	double gen = (double)(b->self - a->self) / 1e9, brk = cpu_broker_s(a, b);
	if (brk >= 0)
		json_d(j, "broker_cpu_s", brk);
	if (a->have_machine && b->have_machine) {
		double other = (double)(b->machine - a->machine) / 1e9 - gen - (brk > 0 ? brk : 0);
		json_d(j, "other_cpu_s", other > 0 ? other : 0);
	}
}

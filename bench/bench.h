/* bench: the options every roost-bench workload reads, and the JSON line each
 * one prints. Workloads: flow.c (pairs, fanout, fanin, latency, shared) and conns.c
 * (connect, idle). Each returns 0 when the run completed (whatever it
 * measured), or 1 when it could not run (setup failed, timed out).
 */
#ifndef ROOST_BENCH_BENCH_H
#define ROOST_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "stats.h"

typedef struct bench_opts {
	const char *workload;
	const char *label;     /* echoed in the JSON line */
	const char *topic_prefix; /* flows' topics; NULL: roost-bench/PID */
	uint16_t port;
	uint16_t pub_port, sub_port; /* flows: publishers / subscribers (default: port) */
	uint16_t sub_port2;    /* shared: every other member connects here (0: none) */
	uint16_t pub_port2;    /* shared: every other publisher connects here (0: none) */
	const char *tls_ca;    /* TLS to the broker, verified against this CA file; NULL: TCP */
	const char *ws_path;   /* MQTT over WebSockets on this path; NULL: MQTT on the socket */
	pid_t broker_pid;      /* 0: no broker CPU/RSS figures (RSS: this one only) */
	pid_t extra_pids[7];   /* more processes whose CPU counts as the broker's */
	unsigned n_extra;      /* (a cluster: the other nodes, Redis) */
	/* flows */
	unsigned pubs, subs;
	unsigned qos;
	double seconds, warmup, drain;
	unsigned payload;      /* bytes, >= 16 */
	unsigned window;       /* max messages sent and not yet received, per subscriber */
	unsigned inflight;     /* max unacknowledged QoS 1 PUBLISHes per publisher */
	double rate;           /* total msg/s over all publishers; 0 = unlimited */
	double settle;         /* seconds between the last SUBACK and the first PUBLISH */
	/* connections */
	unsigned count;
	unsigned conc;         /* connection attempts in flight */
	const char *username, *password; /* may hold one %d / %0Nd: the user index */
	unsigned users;        /* connect: user index = connection index % users */
	unsigned keepalive;    /* seconds */
	double hold;           /* seconds to hold idle connections */
	double timeout;        /* seconds: bound on setup and connect phases */
} bench_opts_t;

int flow_run(const bench_opts_t *o);
/* --username/--password patterns: at most one %d or %0Nd (N < 20), %% for a
 * literal %. NULL is fine. */
bool user_pattern_ok(const char *pat);
/* Writes pat with its %d replaced by idx into out (cap bytes, truncated). */
void user_format(char *out, size_t cap, const char *pat, unsigned idx);
int conns_connect_run(const bench_opts_t *o);
int conns_idle_run(const bench_opts_t *o);

/* JSON line writer: json_begin, then fields, then json_end (prints "}\n"). */
typedef struct json {
	FILE *f;
	bool first;
} json_t;

void json_begin(json_t *j, const bench_opts_t *o);
void json_u(json_t *j, const char *k, uint64_t v);
void json_d(json_t *j, const char *k, double v);
void json_s(json_t *j, const char *k, const char *v);
void json_end(json_t *j);

/* Adds latency_{p50,p99,max,mean}_us fields from h (in ns). */
void json_hist_us(json_t *j, const char *prefix, const hist_t *h);

/* Broker and generator CPU over a window. */
typedef struct cpu_mark {
	uint64_t t, self, broker, machine; /* machine: busy ns, all CPUs */
	bool have_broker, have_machine;
} cpu_mark_t;

void cpu_mark(const bench_opts_t *o, cpu_mark_t *m);
/* Adds elapsed_s, gen_cpu_s, broker_cpu_s and other_cpu_s (CPU the rest of
 * the machine used in the window: a shared machine shows up here) fields. */
void json_cpu(json_t *j, const cpu_mark_t *a, const cpu_mark_t *b);
double cpu_broker_s(const cpu_mark_t *a, const cpu_mark_t *b); /* < 0: unknown */

#endif

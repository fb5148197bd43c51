/* stats: what roost-bench counts. A log-linear latency histogram (about 1.6%
 * relative precision, exact max), a per-stream sequence tracker that tells
 * new, duplicate and late messages apart exactly, and readers for a broker's
 * CPU time and RSS from /proc. Single-threaded; no globals.
 */
#ifndef ROOST_BENCH_STATS_H
#define ROOST_BENCH_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HIST_SUB 64                /* sub-buckets per power of two */
#define HIST_BUCKETS (59 * HIST_SUB + HIST_SUB)

typedef struct hist {
	uint64_t n, max, sum;
	uint64_t b[HIST_BUCKETS];
} hist_t;

void hist_add(hist_t *h, uint64_t v);
/* The value below which a fraction p (0..1) of the samples fall, or 0 when
 * the histogram is empty. p >= 1 gives the exact max. */
uint64_t hist_pct(const hist_t *h, double p);

/* Messages of one publisher as seen by one subscriber. Sequence numbers start
 * at 0 and grow by one per message sent. */
typedef struct track {
	uint64_t *bits;  /* one bit per sequence number seen; owned */
	uint64_t nwords;
	uint64_t uniq;   /* distinct sequence numbers received */
	uint64_t dup;    /* received again */
	uint64_t late;   /* arrived after a higher sequence number */
	uint64_t next;   /* highest sequence seen + 1 */
} track_t;

/* Records seq. Returns 1 if new, 0 if a duplicate, -ENOMEM. */
int track_add(track_t *t, uint64_t seq);
void track_fini(track_t *t);

/* utime+stime of the whole process (all threads), in ns; 0 or -errno. */
int proc_cpu_ns(pid_t pid, uint64_t *out);
/* VmRSS in KiB; 0 or -errno. */
int proc_rss_kb(pid_t pid, uint64_t *out);

/* Busy (non-idle, non-iowait) CPU time of the whole machine, in ns; 0 or -errno. */
int proc_machine_busy_ns(uint64_t *out);
/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
/* This process's CPU time in ns. */
uint64_t self_cpu_ns(void);

#endif

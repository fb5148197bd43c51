/* proc: this process's own figures (CPU time, resident memory, start time,
 * build version) for /metrics and the instance records admin charts.
 *
 * Linux only: reads /proc/self/statm; CPU time from getrusage. No globals
 * beyond what the kernel keeps; safe from any thread.
 */
#ifndef ROOST_BASE_PROC_H
#define ROOST_BASE_PROC_H

#include <stddef.h>
#include <stdint.h>

typedef struct proc_sample {
    uint64_t cpu_ms;    /* user + system CPU time of every thread, ms */
    uint64_t rss_bytes; /* resident set size (0 if /proc is unreadable) */
} proc_sample_t;

/* Fills *out. 0, or -errno when /proc/self/statm cannot be read (cpu_ms is
 * still filled then). */
int proc_sample(proc_sample_t *out);

/* Wall-clock time, ms since the unix epoch: the one such clock of lib/ and
 * the services (rpc deadlines, store timestamps, the cluster's entry ids
 * all read it). */
uint64_t proc_wall_ms(void);

/* The build's version ("0.1.0"), from the CMake project. */
const char *proc_version(void);

/* Appends the standard process metrics to out (NUL-terminated, at most cap
 * bytes): process_cpu_seconds_total, process_resident_memory_bytes,
 * process_start_time_seconds (start_ms: unix ms the service started) and
 * roost_build_info{service,version} 1. Returns the length written (as
 * snprintf: >= cap means truncated). */
int proc_metrics_text(char *out, size_t cap, const char *service, uint64_t start_ms);

#endif

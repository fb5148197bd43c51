#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef ROOST_VERSION
#define ROOST_VERSION "unknown"
#endif

int proc_sample(proc_sample_t *out)
{
    struct rusage ru;
    out->cpu_ms = 0;
    out->rss_bytes = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_ms = (uint64_t)ru.ru_utime.tv_sec * 1000 + (uint64_t)ru.ru_utime.tv_usec / 1000 +
                      (uint64_t)ru.ru_stime.tv_sec * 1000 + (uint64_t)ru.ru_stime.tv_usec / 1000;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int err = n < 0 ? errno : 0;
    close(fd);
    if (n <= 0)
        return err ? -err : -EIO;
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return -EIO;
    long page = sysconf(_SC_PAGESIZE);
    out->rss_bytes = (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
    return 0;
}

uint64_t proc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *proc_version(void)
{
    return ROOST_VERSION;
}

int proc_metrics_text(char *out, size_t cap, const char *service, uint64_t start_ms)
{
    proc_sample_t p;
    proc_sample(&p);
    return snprintf(out, cap,
        "# HELP process_cpu_seconds_total User and system CPU time spent, seconds.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %llu.%03llu\n"
        "# HELP process_resident_memory_bytes Resident memory size, bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
        "# HELP process_start_time_seconds Start time of the process since the unix epoch, seconds.\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %llu.%03llu\n"
        "# HELP roost_build_info The service and its version (always 1).\n"
        "# TYPE roost_build_info gauge\nroost_build_info{service=\"%s\",version=\"%s\"} 1\n",
        (unsigned long long)(p.cpu_ms / 1000), (unsigned long long)(p.cpu_ms % 1000),
        (unsigned long long)p.rss_bytes, (unsigned long long)(start_ms / 1000),
        (unsigned long long)(start_ms % 1000), service, ROOST_VERSION);
}

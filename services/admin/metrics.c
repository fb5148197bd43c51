/* metrics: request counters and latency histograms (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"

#define MAX_SERIES 512
#define MAX_ROUTES 64

static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

typedef struct series {
    const char *door, *route, *method;
    unsigned status;
    unsigned long long count;
} series_t;

typedef struct hist {
    const char *door, *route;
    unsigned long long bucket[N_BUCKETS], count;
    double sum;
} hist_t;

struct metrics {
    uint64_t started_ms; /* process_start_time_seconds */
    pthread_mutex_t mu;
    series_t series[MAX_SERIES];
    size_t n_series;
    hist_t hist[MAX_ROUTES];
    size_t n_hist;
};

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof(*m));
    if (m) {
        pthread_mutex_init(&m->mu, NULL);
        m->started_ms = proc_wall_ms();
    }
    return m;
}

void metrics_destroy(metrics_t **mp)
{
    if (!mp || !*mp)
        return;
    pthread_mutex_destroy(&(*mp)->mu);
    free(*mp);
    *mp = NULL;
}

void metrics_observe(metrics_t *m, const char *door, const char *route, const char *method, unsigned status,
                     double seconds)
{
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_series && !(m->series[i].route == route && m->series[i].method == method &&
                                m->series[i].status == status && m->series[i].door == door))
        i++;
    if (i == m->n_series && i < MAX_SERIES)
        m->series[m->n_series++] = (series_t){door, route, method, status, 0};
    if (i < MAX_SERIES)
        m->series[i].count++;
    size_t h = 0;
    while (h < m->n_hist && !(m->hist[h].route == route && m->hist[h].door == door))
        h++;
    if (h == m->n_hist && h < MAX_ROUTES)
        m->hist[m->n_hist++] = (hist_t){.door = door, .route = route};
    if (h < MAX_ROUTES) {
        hist_t *x = &m->hist[h];
        for (size_t b = 0; b < N_BUCKETS; b++)
            if (seconds <= BUCKETS[b])
                x->bucket[b]++;
        x->count++;
        x->sum += seconds;
    }
    pthread_mutex_unlock(&m->mu);
}

static int put(buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(buf_t *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    return buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int metrics_render(metrics_t *m, buf_t *out)
{
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    rc |= put(out, "# HELP roost_admin_requests_total Admin API requests by door, route, method and status.\n"
                   "# TYPE roost_admin_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++) {
        const series_t *s = &m->series[i];
        rc |= put(out, "roost_admin_requests_total{door=\"%s\",route=\"%s\",method=\"%s\",status=\"%u\"} %llu\n",
                  s->door, s->route, s->method, s->status, s->count);
    }
    rc |= put(out, "# HELP roost_admin_request_seconds Admin API request latency.\n"
                   "# TYPE roost_admin_request_seconds histogram\n");
    for (size_t h = 0; h < m->n_hist; h++) {
        const hist_t *x = &m->hist[h];
        for (size_t b = 0; b < N_BUCKETS; b++)
            rc |= put(out, "roost_admin_request_seconds_bucket{door=\"%s\",route=\"%s\",le=\"%g\"} %llu\n", x->door,
                      x->route, BUCKETS[b], x->bucket[b]);
        rc |= put(out, "roost_admin_request_seconds_bucket{door=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n", x->door,
                  x->route, x->count);
        rc |= put(out, "roost_admin_request_seconds_sum{door=\"%s\",route=\"%s\"} %g\n", x->door, x->route, x->sum);
        rc |= put(out, "roost_admin_request_seconds_count{door=\"%s\",route=\"%s\"} %llu\n", x->door, x->route,
                  x->count);
    }
    pthread_mutex_unlock(&m->mu);
    char proc[1024];
    int n = proc_metrics_text(proc, sizeof(proc), "admin", m->started_ms);
    rc |= n < 0 || (size_t)n >= sizeof(proc) ? -EINVAL : buf_append(out, proc, (size_t)n);
    return rc ? -ENOMEM : 0;
}

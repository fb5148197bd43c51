/* fwd-sink: a fast HTTP receiver for bench/forwarder.py. Answers every POST
 * with 204, counts the requests and the messages in them (one per "\"id\":"
 * key, so a JSON object or an array of them), and for each message the
 * end-to-end latency now - received_at_ms (the broker's receipt time; one
 * machine, one clock). GET /stats: {"requests","messages","p50_ms","p99_ms",
 * "max_ms","first_ms","last_ms"}; POST /reset clears. libmicrohttpd, one
 * internal epoll thread. Usage: fwd-sink PORT */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXLAT 60000 /* ms buckets */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t requests, messages, lat[MAXLAT + 1];
static int64_t first_ms, last_ms;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct body {
    char *p;
    size_t n, cap;
} body_t;

static void account(const body_t *b)
{
    int64_t now = now_ms();
    uint64_t n = 0;
    pthread_mutex_lock(&mu);
    for (const char *s = b->p; s && (s = memmem(s, b->n - (size_t)(s - b->p), "\"received_at_ms\":", 17)); s += 17) {
        int64_t t = strtoll(s + 17, NULL, 10);
        int64_t d = now - t;
        lat[d < 0 ? 0 : d > MAXLAT ? MAXLAT : d]++;
        n++;
    }
    requests++;
    messages += n;
    if (!first_ms)
        first_ms = now;
    last_ms = now;
    pthread_mutex_unlock(&mu);
}

static int64_t pct(uint64_t total, double p)
{
    uint64_t want = (uint64_t)((double)total * p + 0.5), seen = 0;
    for (int i = 0; i <= MAXLAT; i++)
        if ((seen += lat[i]) >= want && want)
            return i;
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *txt)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(txt), (void *)txt, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *data, size_t *size, void **state)
{
    (void)cls, (void)version;
    if (!strcmp(method, "GET") && !strcmp(url, "/stats")) {
        char out[512];
        pthread_mutex_lock(&mu);
        int64_t mx = 0;
        for (int i = 0; i <= MAXLAT; i++)
            if (lat[i])
                mx = i;
        snprintf(out, sizeof(out),
                 "{\"requests\":%llu,\"messages\":%llu,\"p50_ms\":%lld,\"p99_ms\":%lld,\"max_ms\":%lld,"
                 "\"first_ms\":%lld,\"last_ms\":%lld}",
                 (unsigned long long)requests, (unsigned long long)messages, (long long)pct(messages, 0.5),
                 (long long)pct(messages, 0.99), (long long)mx, (long long)first_ms, (long long)last_ms);
        pthread_mutex_unlock(&mu);
        return reply(c, 200, out);
    }
    if (!strcmp(url, "/reset")) {
        if (*state == NULL) {
            *state = (void *)1;
            return MHD_YES;
        }
        if (*size) {
            *size = 0;
            return MHD_YES;
        }
        pthread_mutex_lock(&mu);
        requests = messages = 0;
        first_ms = last_ms = 0;
        memset(lat, 0, sizeof(lat));
        pthread_mutex_unlock(&mu);
        return reply(c, 200, "{}");
    }
    body_t *b = *state;
    if (!b) {
        *state = calloc(1, sizeof(body_t));
        return *state ? MHD_YES : MHD_NO;
    }
    if (*size) {
        if (b->n + *size > b->cap) {
            size_t cap = (b->n + *size) * 2;
            char *p = realloc(b->p, cap + 1);
            if (!p)
                return MHD_NO;
            b->p = p;
            b->cap = cap;
        }
        memcpy(b->p + b->n, data, *size);
        b->n += *size;
        *size = 0;
        return MHD_YES;
    }
    if (b->p)
        b->p[b->n] = '\0';
    account(b);
    return reply(c, 204, "");
}

static void done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    if (*state && *state != (void *)1) {
        free(((body_t *)*state)->p);
        free(*state);
    }
    *state = NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fwd-sink PORT\n");
        return 2;
    }
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)atoi(argv[1]),
                                            NULL, NULL, serve, NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                                            MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    if (!d) {
        perror("fwd-sink: listen");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}

/* hdrwatch: header timeout for libmicrohttpd connections (hdrwatch.h). */
#include "hdrwatch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/ticker.h"

typedef struct watched {
    int fd;
    int64_t since_ms;   /* accept, or the end of the previous request */
    bool in_request;    /* its header is complete: the request is being served */
    bool cut;           /* shut down already */
    struct watched *prev, *next;
} watched_t;

struct hdrwatch {
    int64_t timeout_ms;
    pthread_mutex_t mu;
    watched_t *head;
    ticker_t *ticker;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every 250 ms: shuts down the sockets whose header is overdue. */
static void sweep(void *arg)
{
    hdrwatch_t *w = arg;
    int64_t now = now_ms();
    pthread_mutex_lock(&w->mu);
    for (watched_t *e = w->head; e; e = e->next) {
        if (e->in_request || e->cut || now - e->since_ms < w->timeout_ms)
            continue;
        log_info("http_header_timeout", "fd=%d detail=\"no complete request header within "
                 "--http-header-timeout\"", e->fd);
        /* under the lock: the server cannot have closed (and reused) the fd */
        shutdown(e->fd, SHUT_RDWR);
        e->cut = true;
    }
    pthread_mutex_unlock(&w->mu);
}

hdrwatch_t *hdrwatch_new(int timeout_s)
{
    hdrwatch_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->timeout_ms = (int64_t)timeout_s * 1000;
    pthread_mutex_init(&w->mu, NULL);
    if (ticker_start(250, sweep, w, &w->ticker) < 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void hdrwatch_destroy(hdrwatch_t **wp)
{
    hdrwatch_t *w = wp ? *wp : NULL;
    if (!w)
        return;
    ticker_stop(&w->ticker);
    while (w->head) {
        watched_t *e = w->head;
        w->head = e->next;
        free(e);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
    *wp = NULL;
}

void hdrwatch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    hdrwatch_t *w = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        watched_t *e = ci ? calloc(1, sizeof(*e)) : NULL;
        if (!e)
            return; /* unwatched: the idle timeout still applies */
        e->fd = ci->connect_fd;
        e->since_ms = now_ms();
        pthread_mutex_lock(&w->mu);
        e->next = w->head;
        if (w->head)
            w->head->prev = e;
        w->head = e;
        pthread_mutex_unlock(&w->mu);
        *socket_context = e;
        return;
    }
    watched_t *e = *socket_context;
    if (!e)
        return;
    pthread_mutex_lock(&w->mu);
    if (e->prev)
        e->prev->next = e->next;
    else
        w->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    pthread_mutex_unlock(&w->mu);
    free(e);
    *socket_context = NULL;
}

static watched_t *of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void hdrwatch_headers_done(hdrwatch_t *w, struct MHD_Connection *c)
{
    watched_t *e = of(c);
    if (!e)
        return;
    pthread_mutex_lock(&w->mu);
    e->in_request = true;
    pthread_mutex_unlock(&w->mu);
}

void hdrwatch_request_done(hdrwatch_t *w, struct MHD_Connection *c)
{
    watched_t *e = of(c);
    if (!e)
        return;
    pthread_mutex_lock(&w->mu);
    e->in_request = false;
    e->since_ms = now_ms();
    pthread_mutex_unlock(&w->mu);
}

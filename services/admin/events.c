/* events: cross-thread ChangeEvent queue to the PUB owner (events.h). */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

typedef struct item {
    struct item *next;
    rpc_change_event_t e;
    char *object_id, *username;
} item_t;

struct events {
    pthread_mutex_t mu;
    item_t *head, *tail;
    size_t n;
    uint64_t dropped;
    int fd;
};

events_t *events_new(void)
{
    events_t *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return NULL;
    ev->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ev->fd < 0) {
        free(ev);
        return NULL;
    }
    pthread_mutex_init(&ev->mu, NULL);
    return ev;
}

static void item_free(item_t *it)
{
    free(it->object_id);
    free(it->username);
    free(it);
}

void events_destroy(events_t **ep)
{
    if (!ep || !*ep)
        return;
    events_t *ev = *ep;
    for (item_t *it = ev->head, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    close(ev->fd);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
    *ep = NULL;
}

int events_push(events_t *ev, const rpc_change_event_t *e)
{
    item_t *it = calloc(1, sizeof(*it));
    if (!it || !(it->object_id = strdup(e->object_id ? e->object_id : "")) ||
        !(it->username = strdup(e->username ? e->username : ""))) {
        if (it)
            item_free(it);
        return -ENOMEM;
    }
    it->e = *e;
    it->e.object_id = it->object_id;
    it->e.username = it->username;
    it->e.owned_ = NULL;
    pthread_mutex_lock(&ev->mu);
    int rc = 0;
    if (ev->n >= EVENTS_MAX) {
        ev->dropped++;
        rc = ROOST_EQUEUE_FULL;
    } else {
        if (ev->tail)
            ev->tail->next = it;
        else
            ev->head = it;
        ev->tail = it;
        ev->n++;
    }
    pthread_mutex_unlock(&ev->mu);
    if (rc) {
        item_free(it);
        return rc;
    }
    uint64_t one = 1;
    ssize_t w = write(ev->fd, &one, sizeof(one)); /* fails only when the counter is huge */
    (void)w;
    return 0;
}

int events_fd(const events_t *ev)
{
    return ev->fd;
}

int events_flush(events_t *ev, void *pub)
{
    uint64_t cnt;
    ssize_t r = read(ev->fd, &cnt, sizeof(cnt));
    (void)r;
    pthread_mutex_lock(&ev->mu);
    item_t *list = ev->head;
    ev->head = ev->tail = NULL;
    ev->n = 0;
    pthread_mutex_unlock(&ev->mu);
    int sent = 0;
    for (item_t *it = list, *next; it; it = next) {
        next = it->next;
        int rc = rpc_change_event_send(pub, &it->e);
        if (rc < 0)
            log_warn("event_send_failed", "kind=%d rc=%d", (int)it->e.kind, rc);
        else
            sent++;
        item_free(it);
    }
    return sent;
}

uint64_t events_dropped(events_t *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t d = ev->dropped;
    pthread_mutex_unlock(&ev->mu);
    return d;
}

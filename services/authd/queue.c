#include "queue.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    queue_node_t *head, *tail;
    size_t len;
    bool closed;
    int efd;
};

queue_t *queue_new(bool with_eventfd)
{
    queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->efd = -1;
    if (with_eventfd && (q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    return q;
}

void queue_destroy(queue_t **qp)
{
    queue_t *q = *qp;
    if (!q)
        return;
    if (q->efd >= 0)
        close(q->efd);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
    *qp = NULL;
}

void queue_push(queue_t *q, queue_node_t *n)
{
    n->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->len++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (q->efd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof(one));
        (void)w; /* EAGAIN: the counter is already non-zero, the loop will wake */
    }
}

static queue_node_t *take(queue_t *q)
{
    queue_node_t *n = q->head;
    if (n) {
        q->head = n->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
        n->next = NULL;
    }
    return n;
}

queue_node_t *queue_pop_wait(queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->closed)
        pthread_cond_wait(&q->cv, &q->mu);
    queue_node_t *n = take(q);
    pthread_mutex_unlock(&q->mu);
    return n;
}

queue_node_t *queue_pop_nowait(queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    queue_node_t *n = take(q);
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t queue_len(queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void queue_close(queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int queue_fd(const queue_t *q)
{
    return q->efd;
}

void queue_ack(queue_t *q)
{
    uint64_t v;
    ssize_t r = read(q->efd, &v, sizeof(v));
    (void)r;
}

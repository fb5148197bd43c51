#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct pool_thread {
    pool_t *pool;
    unsigned index;
    pthread_t tid;
} pool_thread_t;

struct pool {
    queue_t *q;
    unsigned n, started;
    pool_init_fn init;
    pool_run_fn run;
    pool_fini_fn fini;
    void *arg;
    pool_thread_t *threads;
};

pool_t *pool_new(queue_t *q, unsigned nthreads, pool_init_fn init, pool_run_fn run, pool_fini_fn fini,
                 void *arg)
{
    pool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->threads = calloc(nthreads ? nthreads : 1, sizeof(*p->threads));
    if (!p->threads) {
        free(p);
        return NULL;
    }
    p->q = q;
    p->n = nthreads;
    p->init = init;
    p->run = run;
    p->fini = fini;
    p->arg = arg;
    return p;
}

static void *thread_main(void *a)
{
    pool_thread_t *t = a;
    pool_t *p = t->pool;
    void *state = p->init ? p->init(p->arg, t->index) : p->arg;
    queue_node_t *n;
    while ((n = queue_pop_wait(p->q)))
        p->run(state, n);
    if (p->fini)
        p->fini(state);
    return NULL;
}

int pool_start(pool_t *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        p->threads[i] = (pool_thread_t){.pool = p, .index = i};
        int rc = pthread_create(&p->threads[i].tid, NULL, thread_main, &p->threads[i]);
        if (rc) {
            pool_stop(p);
            return -rc;
        }
        p->started++;
    }
    return 0;
}

void pool_stop(pool_t *p)
{
    queue_close(p->q);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i].tid, NULL);
    p->started = 0;
}

void pool_destroy(pool_t **pp)
{
    pool_t *p = *pp;
    if (!p)
        return;
    pool_stop(p);
    free(p->threads);
    free(p);
    *pp = NULL;
}

#include "coalesce.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct leader {
    uint8_t key[CACHE_KEY_LEN];
    void **waiting;
    size_t n, cap;
    struct leader *next;
} leader_t;

struct coalesce {
    pthread_mutex_t mu;
    leader_t *leaders; /* at most one per hash worker: a list is enough */
};

coalesce_t *coalesce_new(void)
{
    coalesce_t *c = calloc(1, sizeof(*c));
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void coalesce_destroy(coalesce_t **cp)
{
    coalesce_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    while (c->leaders) {
        leader_t *l = c->leaders;
        c->leaders = l->next;
        free(l->waiting);
        free(l);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static leader_t **find(coalesce_t *c, const uint8_t key[CACHE_KEY_LEN])
{
    leader_t **p = &c->leaders;
    while (*p && memcmp((*p)->key, key, CACHE_KEY_LEN) != 0)
        p = &(*p)->next;
    return p;
}

int coalesce_join(coalesce_t *c, const uint8_t key[CACHE_KEY_LEN], void *item)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    leader_t *l = *find(c, key);
    if (l) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 8;
            void **w = realloc(l->waiting, cap * sizeof(*w));
            if (!w) {
                rc = -ENOMEM;
                goto out;
            }
            l->waiting = w;
            l->cap = cap;
        }
        l->waiting[l->n++] = item;
        rc = 1;
    } else if ((l = calloc(1, sizeof(*l)))) {
        memcpy(l->key, key, CACHE_KEY_LEN);
        l->next = c->leaders;
        c->leaders = l;
    } else {
        rc = -ENOMEM;
    }
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

size_t coalesce_end(coalesce_t *c, const uint8_t key[CACHE_KEY_LEN], void ***items)
{
    pthread_mutex_lock(&c->mu);
    leader_t **p = find(c, key), *l = *p;
    if (l)
        *p = l->next;
    pthread_mutex_unlock(&c->mu);
    *items = NULL;
    if (!l)
        return 0;
    size_t n = l->n;
    *items = l->waiting;
    free(l);
    return n;
}

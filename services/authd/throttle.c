#include "throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"

#define FIRST_BLOCK_MS 1000u

typedef struct tkey {
    unsigned failures;
    uint64_t first_fail_ms, last_fail_ms;
    uint64_t blocked_until_ms, block_ms;
    struct tkey *prev, *next; /* most recently touched first */
    size_t len;
    char key[];
} tkey_t;

struct throttle {
    pthread_mutex_t mu;
    map_t map;
    tkey_t *head, *tail;
    unsigned after;
    uint64_t window_ms, max_ms;
    size_t max_keys;
};

throttle_t *throttle_new(unsigned after, uint64_t window_ms, uint64_t max_ms, size_t max_keys)
{
    throttle_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    map_init(&t->map);
    t->after = after;
    t->window_ms = window_ms;
    t->max_ms = max_ms < FIRST_BLOCK_MS ? FIRST_BLOCK_MS : max_ms;
    t->max_keys = max_keys ? max_keys : 1;
    return t;
}

static void unlink_key(throttle_t *t, tkey_t *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        t->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        t->tail = k->prev;
    k->prev = k->next = NULL;
}

static void touch(throttle_t *t, tkey_t *k)
{
    if (t->head == k)
        return;
    if (k->prev || k->next || t->tail == k)
        unlink_key(t, k);
    k->next = t->head;
    if (t->head)
        t->head->prev = k;
    t->head = k;
    if (!t->tail)
        t->tail = k;
}

static void forget(throttle_t *t, tkey_t *k)
{
    map_del(&t->map, k->key, k->len);
    unlink_key(t, k);
    free(k);
}

void throttle_destroy(throttle_t **tp)
{
    throttle_t *t = *tp;
    if (!t)
        return;
    while (t->head)
        forget(t, t->head);
    map_fini(&t->map);
    pthread_mutex_destroy(&t->mu);
    free(t);
    *tp = NULL;
}

/* A key whose block ended and that saw no failure for a window is reset. */
static bool stale(const throttle_t *t, const tkey_t *k, uint64_t now)
{
    uint64_t quiet_since = k->last_fail_ms > k->blocked_until_ms ? k->last_fail_ms : k->blocked_until_ms;
    return now >= quiet_since + t->window_ms;
}

uint64_t throttle_check(throttle_t *t, const char *key, uint64_t now_ms)
{
    if (!t->after)
        return 0;
    uint64_t left = 0;
    pthread_mutex_lock(&t->mu);
    tkey_t *k = map_get(&t->map, key, strlen(key));
    if (k && stale(t, k, now_ms))
        forget(t, k);
    else if (k && k->blocked_until_ms > now_ms)
        left = k->blocked_until_ms - now_ms;
    pthread_mutex_unlock(&t->mu);
    return left;
}

uint64_t throttle_fail(throttle_t *t, const char *key, uint64_t now_ms)
{
    if (!t->after)
        return 0;
    size_t len = strlen(key);
    uint64_t block = 0;
    pthread_mutex_lock(&t->mu);
    tkey_t *k = map_get(&t->map, key, len);
    if (k && stale(t, k, now_ms)) {
        forget(t, k);
        k = NULL;
    }
    if (!k) {
        while (t->map.count >= t->max_keys && t->tail)
            forget(t, t->tail);
        k = calloc(1, sizeof(*k) + len + 1);
        if (!k)
            goto out; /* OOM: this failure goes uncounted */
        memcpy(k->key, key, len + 1);
        k->len = len;
        k->first_fail_ms = now_ms;
        if (map_put(&t->map, k->key, len, k, NULL)) {
            free(k);
            goto out;
        }
    }
    touch(t, k);
    k->failures++;
    k->last_fail_ms = now_ms;
    if (k->failures >= t->after) {
        k->block_ms = k->block_ms ? k->block_ms * 2 : FIRST_BLOCK_MS;
        if (k->block_ms > t->max_ms)
            k->block_ms = t->max_ms;
        k->blocked_until_ms = now_ms + k->block_ms;
        block = k->block_ms;
    }
out:
    pthread_mutex_unlock(&t->mu);
    return block;
}

unsigned throttle_failures(throttle_t *t, const char *key, uint64_t now_ms)
{
    if (!t->after)
        return 0;
    unsigned n = 0;
    pthread_mutex_lock(&t->mu);
    tkey_t *k = map_get(&t->map, key, strlen(key));
    if (k && !stale(t, k, now_ms))
        n = k->failures;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void throttle_success(throttle_t *t, const char *key)
{
    if (!t->after)
        return;
    pthread_mutex_lock(&t->mu);
    tkey_t *k = map_get(&t->map, key, strlen(key));
    if (k)
        forget(t, k);
    pthread_mutex_unlock(&t->mu);
}

size_t throttle_count(throttle_t *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->map.count;
    pthread_mutex_unlock(&t->mu);
    return n;
}

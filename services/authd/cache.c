#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/map.h"

#define USER_TAG_LEN 16

typedef struct entry {
    uint8_t key[CACHE_KEY_LEN];        /* map key (binary) */
    uint8_t user_tag[USER_TAG_LEN];    /* keyed hash of the username, for drops */
    uint64_t expires_ms;
    struct entry *prev, *next;         /* LRU list, most recent first */
} entry_t;

struct cache {
    pthread_mutex_t mu;
    map_t map;
    entry_t *head, *tail;
    size_t max;
    uint64_t ttl_ms;
    uint8_t secret[crypto_generichash_KEYBYTES];
};

cache_t *cache_new(size_t max_entries, uint64_t ttl_ms)
{
    if (sodium_init() < 0)
        return NULL;
    cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    map_init(&c->map);
    c->max = max_entries;
    c->ttl_ms = ttl_ms;
    randombytes_buf(c->secret, sizeof(c->secret));
    return c;
}

static void unlink_entry(cache_t *c, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void remove_entry(cache_t *c, entry_t *e)
{
    map_del(&c->map, (const char *)e->key, CACHE_KEY_LEN);
    unlink_entry(c, e);
    sodium_memzero(e, sizeof(*e));
    free(e);
}

size_t cache_clear(cache_t *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = 0;
    while (c->head) {
        remove_entry(c, c->head);
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

void cache_destroy(cache_t **cp)
{
    cache_t *c = *cp;
    if (!c)
        return;
    cache_clear(c);
    map_fini(&c->map);
    pthread_mutex_destroy(&c->mu);
    sodium_memzero(c->secret, sizeof(c->secret));
    free(c);
    *cp = NULL;
}

static void absorb(crypto_generichash_state *st, const void *p, size_t n)
{
    uint64_t len = n; /* length prefixes keep ("ab","c") and ("a","bc") apart */
    crypto_generichash_update(st, (const uint8_t *)&len, sizeof(len));
    if (n)
        crypto_generichash_update(st, p, n);
}

void cache_key(const cache_t *c, const char *username, const uint8_t *password, size_t password_len,
               const char *stored_hash, uint8_t key[CACHE_KEY_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, c->secret, sizeof(c->secret), CACHE_KEY_LEN);
    absorb(&st, username, strlen(username));
    absorb(&st, password, password_len);
    absorb(&st, stored_hash, strlen(stored_hash));
    crypto_generichash_final(&st, key, CACHE_KEY_LEN);
    sodium_memzero(&st, sizeof(st));
}

static void user_tag(const cache_t *c, const char *username, uint8_t tag[USER_TAG_LEN])
{
    crypto_generichash(tag, USER_TAG_LEN, (const uint8_t *)username, strlen(username), c->secret,
                       sizeof(c->secret));
}

bool cache_lookup(cache_t *c, const uint8_t key[CACHE_KEY_LEN], uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    entry_t *e = map_get(&c->map, (const char *)key, CACHE_KEY_LEN);
    bool hit = false;
    if (e && e->expires_ms <= now_ms) {
        remove_entry(c, e);
    } else if (e) {
        unlink_entry(c, e);
        push_front(c, e);
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

int cache_insert(cache_t *c, const uint8_t key[CACHE_KEY_LEN], const char *username, uint64_t now_ms)
{
    if (c->max == 0)
        return 0;
    entry_t *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    memcpy(e->key, key, CACHE_KEY_LEN);
    user_tag(c, username, e->user_tag);
    e->expires_ms = now_ms + c->ttl_ms;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    entry_t *old = map_get(&c->map, (const char *)key, CACHE_KEY_LEN);
    if (old)
        remove_entry(c, old);
    while (c->map.count >= c->max && c->tail)
        remove_entry(c, c->tail);
    if (map_put(&c->map, (const char *)e->key, CACHE_KEY_LEN, e, NULL)) {
        free(e);
        rc = -ENOMEM;
    } else {
        push_front(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

size_t cache_drop_user(cache_t *c, const char *username)
{
    uint8_t tag[USER_TAG_LEN];
    user_tag(c, username, tag);
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (entry_t *e = c->head, *next; e; e = next) {
        next = e->next;
        if (!sodium_memcmp(e->user_tag, tag, USER_TAG_LEN)) {
            remove_entry(c, e);
            n++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

size_t cache_count(cache_t *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->map.count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

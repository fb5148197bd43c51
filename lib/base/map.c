#include "base/map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void map_init(map_t *m) { memset(m, 0, sizeof(*m)); }

void map_fini(map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* FNV-1a, 32 bit: short keys, good spread for topic and client id strings. */
uint32_t map_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 16777619u;
    }
    return h;
}

static size_t find(const map_t *m, const char *key, size_t len, uint32_t h, int *found)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;;) {
        const map_entry_t *e = &m->slots[i];
        if (!e->key) {
            *found = 0;
            return i;
        }
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int grow(map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    map_entry_t *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        map_entry_t *e = &m->slots[i];
        if (!e->key)
            continue;
        size_t j = e->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *e;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

void *map_get(const map_t *m, const char *key, size_t len)
{
    if (!m->count)
        return NULL;
    int found;
    size_t i = find(m, key, len, map_hash(key, len), &found);
    return found ? m->slots[i].value : NULL;
}

int map_put(map_t *m, const char *key, size_t len, void *value, void **old)
{
    if ((m->count + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    uint32_t h = map_hash(key, len);
    int found;
    size_t i = find(m, key, len, h, &found);
    map_entry_t *e = &m->slots[i];
    if (old)
        *old = found ? e->value : NULL;
    if (!found)
        m->count++;
    e->key = key;
    e->len = (uint32_t)len;
    e->hash = h;
    e->value = value;
    return 0;
}

void *map_del(map_t *m, const char *key, size_t len)
{
    if (!m->count)
        return NULL;
    int found;
    size_t i = find(m, key, len, map_hash(key, len), &found);
    if (!found)
        return NULL;
    void *v = m->slots[i].value;
    size_t mask = m->cap - 1;
    /* backward-shift deletion keeps probe chains intact without tombstones */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        map_entry_t *e = &m->slots[j];
        if (!e->key)
            break;
        size_t home = e->hash & mask;
        /* can e move into the hole at i? only if its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->slots[i] = *e;
            i = j;
        }
    }
    memset(&m->slots[i], 0, sizeof(m->slots[i]));
    m->count--;
    return v;
}

int map_next(const map_t *m, size_t *iter, map_entry_t **e)
{
    while (*iter < m->cap) {
        map_entry_t *s = &m->slots[(*iter)++];
        if (s->key) {
            *e = s;
            return 1;
        }
    }
    return 0;
}

/* map: a string-keyed hash map (open addressing, linear probing, tombstone
 * free deletion by backward shift). Keys are byte strings (ptr, len) owned by
 * the caller: the map stores the pointer, so a key must live as long as its
 * entry (typically it points into the value). Values are opaque and never
 * freed by the map.
 */
#ifndef ROOST_BASE_MAP_H
#define ROOST_BASE_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct map_entry {
    const char *key;
    uint32_t len;
    uint32_t hash;
    void *value;
} map_entry_t;

typedef struct map {
    map_entry_t *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
} map_t;

void map_init(map_t *m);
void map_fini(map_t *m);
/* Returns the value or NULL. */
void *map_get(const map_t *m, const char *key, size_t len);
/* Inserts or replaces. 0 or -ENOMEM. *old (may be NULL) receives the value replaced. */
int map_put(map_t *m, const char *key, size_t len, void *value, void **old);
/* Removes and returns the value, or NULL. */
void *map_del(map_t *m, const char *key, size_t len);
/* Iteration: for (size_t i = 0; map_next(m, &i, &e);) ... ; the map must not
 * change during iteration. */
int map_next(const map_t *m, size_t *iter, map_entry_t **e);
uint32_t map_hash(const char *key, size_t len);

#endif

/* topictree: values keyed by topic name, found by exact name or by every
 * name a filter matches (the retained-message store).
 *
 * The reverse of subtrie: here the tree holds topic names, level by level,
 * and a filter walks it, so a subscription's retained messages cost the
 * branches the filter can reach, not a scan of every retained topic. '+'
 * visits every child of its level, '#' the whole subtree (and the level it
 * hangs from, so "a/#" finds "a"), literal levels one child. Names starting
 * with '$' are not matched by a first level '+' or '#' [MQTT-4.7.2-1].
 * Empty levels are ordinary levels. Values are opaque pointers owned by the
 * caller. Nothing recurses: depth is bounded by memory, not the C stack.
 *
 * Not thread-safe; one tree per event loop.
 */
#ifndef ROOST_MQTT_TOPICTREE_H
#define ROOST_MQTT_TOPICTREE_H

#include <stddef.h>

typedef struct topictree topictree_t;

/* Caller owns the result; NULL on OOM. */
topictree_t *topictree_new(void);
/* Calls free_value (may be NULL) on every value, frees the tree, sets *t to
 * NULL; NULL-safe. */
void topictree_destroy(topictree_t **t, void (*free_value)(void *value));

/* Stores value (non-NULL) under topic, replacing and returning the previous
 * value through *old (may be NULL). 0 or -ENOMEM (the tree is then
 * unchanged). */
int topictree_put(topictree_t *t, const char *topic, size_t len, void *value, void **old);
/* The value stored under topic, or NULL. */
void *topictree_get(const topictree_t *t, const char *topic, size_t len);
/* Removes topic and returns its value (NULL when absent); empty branches are
 * freed. */
void *topictree_del(topictree_t *t, const char *topic, size_t len);
/* Number of values stored. */
size_t topictree_count(const topictree_t *t);

/* Calls fn(value, ctx) for every stored topic the (valid) filter matches,
 * in no particular order. fn must not change the tree. 0, or -ENOMEM when
 * the walk could not get memory (some matches may then be missing). */
typedef void (*topictree_fn)(void *value, void *ctx);
int topictree_match(const topictree_t *t, const char *filter, size_t flen, topictree_fn fn,
                    void *ctx);

/* Calls fn(value, ctx) for every stored topic, '$' ones included, in no
 * particular order; fn must not change the tree. 0 or -ENOMEM (some values
 * may then be missing). */
int topictree_each(const topictree_t *t, topictree_fn fn, void *ctx);

#endif

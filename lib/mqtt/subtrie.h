/* subtrie: a subscription trie, matching a topic name against many filters.
 *
 * Each level of a filter is a node; a node holds the subscribers whose filter
 * ends there. Subscribers are opaque pointers owned by the caller (the trie
 * never frees them); each (filter, subscriber) pair is stored once with an
 * options byte (QoS in bits 0-1, MQTT 5.0 subscription options above).
 * Matching walks only the branches a topic can reach ('+' and '#' children
 * and the literal child of each level), allocates nothing and copies no
 * strings. Empty levels are ordinary levels. '$' topics are not matched by
 * filters whose first level is '+' or '#' [MQTT-4.7.2-1].
 *
 * Not thread-safe; one trie per event loop.
 */
#ifndef ROOST_MQTT_SUBTRIE_H
#define ROOST_MQTT_SUBTRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct subtrie subtrie_t;

/* Caller owns the result; NULL on OOM. */
subtrie_t *subtrie_new(void);
/* Frees the trie (not the subscribers) and sets *t to NULL; NULL-safe. */
void subtrie_destroy(subtrie_t **t);

/* Adds (filter, sub) with options, or updates the options when the pair is
 * already present (*existed = true then; existed may be NULL).
 * The filter must be valid (topic_check_filter). Returns 0 or -ENOMEM (the
 * trie is then unchanged); ROOST_EPROTO_TOPIC for an empty filter or one
 * over 65535 bytes. Amortised O(levels), also with 100k subscribers on one
 * filter (large lists are indexed). */
int subtrie_add(subtrie_t *t, const char *filter, size_t len, void *sub, uint8_t options,
                bool *existed);
/* Removes (filter, sub). Returns 0, or ROOST_ENOTFOUND if absent. Empty
 * nodes are freed so the trie shrinks back. Never allocates, cannot fail
 * otherwise. */
int subtrie_remove(subtrie_t *t, const char *filter, size_t len, void *sub);

/* Calls fn once per (filter, subscriber) pair whose filter matches the valid
 * topic name. A subscriber with several matching filters is reported once per
 * filter; callers that want one delivery per subscriber dedupe (taking the
 * highest QoS, [MQTT-3.3.5-1]). fn must not modify the trie. No recursion
 * and no allocation, so topics of any depth (65535 levels) are safe; cost is
 * bounded by the nodes the topic can reach plus the pairs reported. */
typedef void (*subtrie_match_fn)(void *sub, uint8_t options, void *ctx);
void subtrie_match(const subtrie_t *t, const char *topic, size_t len, subtrie_match_fn fn,
                   void *ctx);

/* Number of (filter, subscriber) pairs held. */
size_t subtrie_count(const subtrie_t *t);

#endif

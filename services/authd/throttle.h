/* throttle: refuse authentication for a while after repeated failures of
 * one key (one table of guard.h's policy).
 *
 * Per key: `after` failures within `window_ms` start a block of 1 s; every
 * further failure once a block has started doubles it, up to max_ms. A
 * success or a quiet window (no failure for window_ms after the block ended)
 * resets the key. The table holds at most max_keys keys; at capacity the key
 * touched least recently is forgotten (an attacker can only make it forget
 * keys, never block others).
 *
 * Thread-safe (one mutex): the loop checks, workers record outcomes.
 */
#ifndef ROOST_AUTHD_THROTTLE_H
#define ROOST_AUTHD_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct throttle throttle_t;

/* after 0 disables throttling. Caller owns the result; NULL on OOM. */
throttle_t *throttle_new(unsigned after, uint64_t window_ms, uint64_t max_ms, size_t max_keys);
void throttle_destroy(throttle_t **t);

/* Milliseconds the key stays blocked at now_ms (monotonic), 0 if allowed. */
uint64_t throttle_check(throttle_t *t, const char *key, uint64_t now_ms);
/* Records a failure. Returns the block it started or extended (ms), else 0. */
uint64_t throttle_fail(throttle_t *t, const char *key, uint64_t now_ms);
/* Failures recorded for the key and not yet forgiven at now_ms (0: none). */
unsigned throttle_failures(throttle_t *t, const char *key, uint64_t now_ms);
/* Records a success: forgets the key. */
void throttle_success(throttle_t *t, const char *key);
size_t throttle_count(throttle_t *t);

#endif

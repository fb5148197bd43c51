/* shpick: the two choices a shared-subscription group makes for each
 * message (shared.h), pure so they are unit-tested on their own
 * (tests/unit/broker/test_shpick.c).
 *
 * 1. Which broker: smooth weighted round-robin over the brokers that have
 *    members, each weighted by its connected members (as nginx's upstream
 *    balancer does). Every call adds each slot's weight to its running
 *    value, picks the largest (the lowest slot on a tie) and takes the
 *    total off the winner, so over any W = sum(weights) consecutive picks
 *    with unchanged weights slot i wins weight[i] times, interleaved.
 * 2. Which member there: plain round-robin from a cursor, skipping members
 *    a predicate refuses (offline, in-flight window full).
 */
#ifndef ROOST_BROKER_SHPICK_H
#define ROOST_BROKER_SHPICK_H

#include <stdbool.h>
#include <stdint.h>

#define SHPICK_MAX 64 /* brokers a group spans (a bit each in a skip mask) */

/* cur: n running values (zeroed at first); weight: n weights. Slots whose
 * bit is set in skip, or whose weight is 0, take no part. Returns the slot,
 * or -1 when none has weight. n <= SHPICK_MAX. */
int shpick_weighted(int32_t *cur, const uint16_t *weight, int n, uint64_t skip);

typedef bool (*shpick_ok_fn)(void *arg, uint32_t i);
/* The first i in cursor, cursor+1, ... (mod n) for which ok(arg, i) holds;
 * *cursor then points past it. -1 (cursor unchanged) when none does. */
int shpick_next(uint32_t *cursor, uint32_t n, shpick_ok_fn ok, void *arg);

#endif

/* ratelimit: per-connection inbound limits, --max-msg-rate (PUBLISHes per
 * second) and --max-byte-rate (their bytes per second), or the limits of the
 * client's groups when authd sent them (conn rl_msg_rate / rl_byte_rate,
 * each replacing its flag), as token buckets
 * with a burst of one second's worth. A PUBLISH that takes a bucket below
 * zero is still handled; then the broker stops reading that socket until
 * both buckets are back at zero (backpressure: TCP pushes back on the
 * client, as EMQX does), so nothing is dropped and the long-run rate is the
 * limit. Other connections are not affected.
 */
#ifndef ROOST_BROKER_RATELIMIT_H
#define ROOST_BROKER_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

/* Same layout as conn_t's rl_msgs / rl_bytes (at_ms 0: unused, starts full). */
typedef struct rl_bucket {
    double tokens;
    uint64_t at_ms;
} rl_bucket_t;

/* Refills the bucket for now_ms (at most `rate` tokens held), takes n, and
 * returns the milliseconds until it is back at zero (0: not in debt). */
uint64_t rl_take(rl_bucket_t *b, double rate, double n, uint64_t now_ms);

/* After a PUBLISH of `bytes` bytes on c: charges its buckets and, when
 * either is in debt, holds c's reads until it is repaid. Inline: without
 * limits (the default) a PUBLISH pays one test. */
void ratelimit_charge_now(conn_t *c, uint64_t bytes);
/* Returns c->rl_held: true when c's reads are now held. */
static inline bool ratelimit_charge(conn_t *c, uint64_t bytes)
{
    if (!c->rl_on) /* set at conn_new from the flags, by authc from the groups */
        return false;
    ratelimit_charge_now(c, bytes);
    return c->rl_held;
}

#endif

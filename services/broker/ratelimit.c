#include "ratelimit.h"

#include "base/log.h"

uint64_t rl_take(rl_bucket_t *b, double rate, double n, uint64_t now_ms)
{
    if (!b->at_ms) {
        b->tokens = rate;
    } else if (now_ms > b->at_ms) {
        b->tokens += rate * (double)(now_ms - b->at_ms) / 1000.0;
        if (b->tokens > rate)
            b->tokens = rate;
    }
    b->at_ms = now_ms ? now_ms : 1;
    b->tokens -= n;
    if (b->tokens >= 0)
        return 0;
    return (uint64_t)(-b->tokens * 1000.0 / rate) + 1;
}

void ratelimit_charge_now(conn_t *c, uint64_t bytes)
{
    const broker_config_t *cfg = c->b->cfg;
    if (c->state != CONN_ACTIVE)
        return;
    int64_t msgs = c->rl_msg_rate ? c->rl_msg_rate : cfg->max_msg_rate;
    int64_t byte_rate = c->rl_byte_rate ? c->rl_byte_rate : cfg->max_byte_rate;
    if (!msgs && !byte_rate)
        return;
    uint64_t now = loop_clock_ms(), wait = 0, w;
    if (msgs && (w = rl_take((rl_bucket_t *)&c->rl_msgs, (double)msgs, 1, now)) > wait)
        wait = w;
    if (byte_rate && (w = rl_take((rl_bucket_t *)&c->rl_bytes, (double)byte_rate, (double)bytes, now)) > wait)
        wait = w;
    if (!wait)
        return;
    if (!c->rl_held)
        c->b->stats.rate_limited++;
    conn_hold(c, now + wait);
}

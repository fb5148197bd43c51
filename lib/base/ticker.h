/* ticker: a thread that calls fn(arg) at once and then every period_ms until
 * stopped (admin's instance collector, authd's instance record). Stopping
 * wakes the sleep, so it never waits out a period.
 */
#ifndef ROOST_BASE_TICKER_H
#define ROOST_BASE_TICKER_H

#include <stdint.h>

typedef struct ticker ticker_t;

/* Starts the thread. 0 and *out (caller owns; ticker_stop), or -errno. */
int ticker_start(uint64_t period_ms, void (*fn)(void *arg), void *arg, ticker_t **out);
/* Stops and joins the thread (a running fn finishes first), frees; nulls
 * *tp. NULL-safe. */
void ticker_stop(ticker_t **tp);

#endif

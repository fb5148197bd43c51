/* guard: authd's throttling policy (README "Login throttling"), three
 * throttle tables over the same failures:
 *
 *   pair  (username, address): `pair_after` failures refuse that username
 *         from that address; a success of that username there resets it.
 *   peer  (address): `peer_after` failures, of any usernames, refuse every
 *         request from the address. No success resets it (one valid
 *         credential must not buy an attacker endless guesses at others);
 *         only a quiet window does.
 *   user  (username): `user_after` failures, from any addresses, only slow
 *         that username: from an address with no recorded failure a request
 *         waits (at most GUARD_SLOW_MS) and is then checked as usual, so the
 *         real device still gets in; from an address with failures it is
 *         refused while the username is blocked.
 *
 * Blocks start at 1 s and double per further failure up to max_ms; a key is
 * forgotten after a window without failures (throttle.h). "Address" is the
 * peer without its port. `pair_after` 0 disables all three; `peer_after` or
 * `user_after` 0 disables that table. Refused requests are not failures.
 *
 * Thread-safe: the loop checks, workers record outcomes.
 */
#ifndef ROOST_AUTHD_GUARD_H
#define ROOST_AUTHD_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GUARD_SLOW_MS 1000u /* longest wait a username-wide block imposes */

typedef struct guard guard_t;

typedef struct guard_conf {
    unsigned pair_after, peer_after, user_after;
    uint64_t window_ms, max_ms;
    size_t max_keys; /* per table */
} guard_conf_t;

typedef enum { GUARD_ALLOW, GUARD_SLOW, GUARD_REFUSE } guard_verdict_t;

typedef struct guard_blocks {
    uint64_t pair_ms, peer_ms, user_ms; /* blocks a failure started or extended */
} guard_blocks_t;

/* Caller owns the result; NULL on OOM. */
guard_t *guard_new(const guard_conf_t *c);
void guard_destroy(guard_t **g);

/* The decision for a request (username NULL: anonymous; peer "ip:port" or
 * "[v6]:port"). GUARD_SLOW sets *delay_ms; *why names the table for logs. */
guard_verdict_t guard_check(guard_t *g, const char *username, const char *peer, uint64_t now_ms,
                            uint64_t *delay_ms, const char **why);
/* Records a failed authentication in all three tables. */
void guard_fail(guard_t *g, const char *username, const char *peer, uint64_t now_ms, guard_blocks_t *out);
/* Records a success: resets only the (username, address) pair. */
void guard_success(guard_t *g, const char *username, const char *peer);
/* Keys held in all tables (the authd_throttled_keys gauge). */
size_t guard_count(guard_t *g);

#endif

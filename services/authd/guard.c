#include "guard.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "throttle.h"

#define KEY_LEN 400 /* "pair:" + address + "|" + a 255-byte username, with room */

struct guard {
    throttle_t *pair, *peer, *user;
};

guard_t *guard_new(const guard_conf_t *c)
{
    guard_t *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    unsigned pair = c->pair_after, peer = pair ? c->peer_after : 0, user = pair ? c->user_after : 0;
    g->pair = throttle_new(pair, c->window_ms, c->max_ms, c->max_keys);
    g->peer = throttle_new(peer, c->window_ms, c->max_ms, c->max_keys);
    g->user = throttle_new(user, c->window_ms, c->max_ms, c->max_keys);
    if (!g->pair || !g->peer || !g->user)
        guard_destroy(&g);
    return g;
}

void guard_destroy(guard_t **gp)
{
    guard_t *g = *gp;
    if (!g)
        return;
    throttle_destroy(&g->pair);
    throttle_destroy(&g->peer);
    throttle_destroy(&g->user);
    free(g);
    *gp = NULL;
}


typedef struct keys {
    char pair[KEY_LEN], peer[KEY_LEN], user[KEY_LEN];
    bool named;
} keys_t;

/* An address holds no '|', so "pair:<address>|<username>" is unambiguous.
 * Usernames too long to fit are cut: they never exist in the store. */
static void make_keys(const char *username, const char *peer, keys_t *k)
{
    /* a device's address, not its ephemeral port, is what repeats across attempts */
    int hl = (int)cidr_peer_host(peer, &peer);
    snprintf(k->peer, KEY_LEN, "peer:%.*s", hl, peer);
    k->named = username != NULL;
    if (k->named) {
        snprintf(k->pair, KEY_LEN, "pair:%.*s|%s", hl, peer, username);
        snprintf(k->user, KEY_LEN, "user:%s", username);
    }
}

guard_verdict_t guard_check(guard_t *g, const char *username, const char *peer, uint64_t now_ms,
                            uint64_t *delay_ms, const char **why)
{
    keys_t k;
    make_keys(username, peer, &k);
    *delay_ms = 0;
    if (throttle_check(g->peer, k.peer, now_ms)) {
        *why = "throttled_address";
        return GUARD_REFUSE;
    }
    if (!k.named)
        return GUARD_ALLOW;
    if (throttle_check(g->pair, k.pair, now_ms)) {
        *why = "throttled_username_address";
        return GUARD_REFUSE;
    }
    uint64_t left = throttle_check(g->user, k.user, now_ms);
    if (!left)
        return GUARD_ALLOW;
    if (throttle_failures(g->peer, k.peer, now_ms)) {
        *why = "throttled_username";
        return GUARD_REFUSE;
    }
    *why = "slowed_username";
    *delay_ms = left < GUARD_SLOW_MS ? left : GUARD_SLOW_MS;
    return GUARD_SLOW;
}

void guard_fail(guard_t *g, const char *username, const char *peer, uint64_t now_ms, guard_blocks_t *out)
{
    keys_t k;
    make_keys(username, peer, &k);
    *out = (guard_blocks_t){.peer_ms = throttle_fail(g->peer, k.peer, now_ms)};
    if (k.named) {
        out->pair_ms = throttle_fail(g->pair, k.pair, now_ms);
        out->user_ms = throttle_fail(g->user, k.user, now_ms);
    }
}

void guard_success(guard_t *g, const char *username, const char *peer)
{
    keys_t k;
    make_keys(username, peer, &k);
    if (k.named)
        throttle_success(g->pair, k.pair);
}

size_t guard_count(guard_t *g)
{
    return throttle_count(g->pair) + throttle_count(g->peer) + throttle_count(g->user);
}

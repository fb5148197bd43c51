/* shgroup: the state of shared subscriptions (shared.h), for the modules
 * that implement them: shared.c (members, delivery, custody), shgroup.c
 * (the group table and the groups' lifetime) and shmetrics.c/shjson.c
 * (their figures). Not for anyone else.
 */
#ifndef ROOST_BROKER_SHGROUP_H
#define ROOST_BROKER_SHGROUP_H

#include "base/map.h"
#include "broker.h"
#include "mqtt/subtrie.h"
#include "shframe.h"
#include "shpick.h"

typedef struct shmember {
    session_t *s;
    uint8_t opts;              /* QoS in bits 0-1, SUBOPT_FILTERED */
    uint64_t deliveries;       /* messages given to it (redeliveries included) */
} shmember_t;

typedef struct shgroup {
    char *key;                 /* name NUL filter NUL (one allocation) */
    size_t key_len;            /* name + 1 + filter */
    size_t name_len;
    const char *filter;        /* in key */
    size_t filter_len;
    shmember_t *m;             /* members here */
    uint32_t n, cap;
    uint32_t cursor;           /* round-robin over m */
    uint16_t weight[SHPICK_MAX]; /* connected members per broker slot ([0]: here, counted live) */
    int32_t cur[SHPICK_MAX];   /* smooth weighted round-robin state */
    uint64_t delivered;        /* given to a member here */
    uint64_t sent;             /* sent to a peer's member */
    uint64_t dropped;          /* no member anywhere */
    uint32_t refs;             /* shhold_t and shcust_t records pointing at it */
    bool idle;                 /* unused at the last sweep (shgroup_sweep) */
} shgroup_t;

/* A message given to a member here, until it acknowledges. */
typedef struct shhold {
    msg_t *m;                  /* the member's copy (a reference; the key) */
    shgroup_t *g;
    uint64_t seq;              /* the publisher's, when origin > 0 */
    uint8_t origin;            /* broker slot of the publisher; 0: here */
} shhold_t;

/* A message published here and sent to a peer's member, until it says the
 * member acknowledged. */
typedef struct shcust {
    uint64_t seq;              /* the key */
    msg_t *m;
    shgroup_t *g;
    uint8_t target;            /* broker slot it was sent to */
    uint64_t tried;            /* slots that had no member for it */
    uint64_t sent_ms;          /* loop time it was last sent */
} shcust_t;

struct shared {
    broker_t *b;
    map_t groups;              /* key -> shgroup_t */
    subtrie_t *trie;           /* filter -> shgroup_t */
    shgroup_t **hit;           /* scratch: the groups one topic matches */
    size_t nhit, caphit;
    char ids[SHPICK_MAX][64];  /* broker slots: [0] this broker, then peers as heard */
    int nids;
    map_t holds;               /* msg pointer -> shhold_t */
    map_t custody;             /* seq -> shcust_t */
    uint64_t seq;
    shframe_buf_t out[SHPICK_MAX]; /* frames being built per slot; [0]: to every broker */
    bool dirty;                /* membership changed: announce at the next flush */
    bool stopping;
    uint64_t timer;
    uint64_t redispatched;     /* given back by a member that went away, or a dead peer */
    uint64_t nacked;           /* sent back by a peer with no member */
    uint64_t malformed;        /* malformed shared frames from peers */
    uint64_t dropped_gone;     /* dropped counts of the groups freed */
    bool sweep;                /* a peer's weights were reset: sweep at the next tick */
};

/* ---- the group table (shgroup.c) ----
 * A group lives while it has a member here, a peer's weight or refs (a
 * record that takes g->refs++ gives it back with shgroup_unref). Whoever
 * removes one of these calls shgroup_release / shgroup_unref, after which g
 * may be gone. */

/* The group (name, filter); created when asked. NULL: none, or OOM. */
shgroup_t *shgroup_get(shared_t *sh, const char *name, size_t nl, const char *filter, size_t fl,
                       bool create);
/* A peer's group, from a key it sent ("name NUL filter"), checked like a
 * SUBSCRIBE's. NULL: invalid, none, or OOM. */
shgroup_t *shgroup_of_peer(shared_t *sh, const char *key, size_t len, bool create);
/* Frees g when nothing keeps it any more. */
void shgroup_release(shared_t *sh, shgroup_t *g);
/* Drops a reference to g, then as shgroup_release. */
void shgroup_unref(shared_t *sh, shgroup_t *g);
/* Every peer's weight at slot is 0 (none is freed: see shgroup_sweep). */
void shgroup_clear_slot(shared_t *sh, int slot);
/* Frees the groups nothing keeps: all of them (now), or those already unused
 * at the previous sweep (a peer's 'R' and the 'W' records after it may
 * come in separate frames). Returns how many unused ones are left. */
size_t shgroup_sweep(shared_t *sh, bool now);
/* shared_destroy: every group, whatever keeps it. */
void shgroup_free_all(shared_t *sh);

#endif

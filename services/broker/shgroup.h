/* shgroup: the state of shared subscriptions (shared.h), for the modules
 * that implement them: shared.c (groups, members, delivery, custody) and
 * shmetrics.c (their figures). Not for anyone else.
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
};

#endif

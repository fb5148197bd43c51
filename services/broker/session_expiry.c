/* A session's end of life: its expiry interval, the timer that ends a
 * single node's offline persistent session, and what session_closed leaves
 * in Redis (lease, sent record, expiry) when its connection goes. */
#include <stdlib.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster.h"
#include "session.h"
#include "session_priv.h"
#include "shared.h"
#include "store/sstore.h"

uint64_t session_expiry_ms(const session_t *s)
{
    return s->expiry == SESSION_NEVER ? 0 : (uint64_t)s->expiry * 1000u;
}

uint32_t session_expiry_cap(const broker_config_t *cfg, uint32_t requested)
{
    uint32_t cap = cfg->session_expiry > 0 ? (uint32_t)cfg->session_expiry : SESSION_NEVER;
    return requested < cap ? requested : cap;
}

/* A single node's offline persistent session, waiting for its expiry. */
struct session_exp {
    broker_t *b;
    session_t *s;
    uint64_t timer;
};

static uint64_t on_expired(loop_t *l, void *arg)
{
    struct session_exp *e = arg;
    broker_t *b = e->b;
    session_t *s = e->s;
    (void)l;
    s->exp = NULL;
    free(e);
    char qid[LOG_QUOTE_CAP];
    log_info("session_expired", "client_id=%s expiry_s=%u",
             log_quote(qid, sizeof(qid), s->id, s->id_len), s->expiry);
    session_destroy(b, &s);
    return 0;
}

void session_keep(broker_t *b, session_t *s)
{
    if (s->exp) {
        loop_del_timer(b->loop, s->exp->timer);
        free(s->exp);
        s->exp = NULL;
    }
}

/* What of the Redis queue this holder sent (its in-flight window), so the
 * next holder resends those with DUP and the rest without
 * (sstore_lease_note_sent). */
static void note_sent(broker_t *b, sstore_t *st, const session_t *s)
{
    const char *stack[64] = {0}, **eids = s->ninflight <= 64 ? stack : malloc(s->ninflight * sizeof(*eids));
    size_t n = 0;
    for (uint16_t i = 0; eids && i < s->ninflight; i++) {
        const char *eid = s->inflight[i].m ? msg_eid(s->inflight[i].m) : NULL;
        if (eid)
            eids[n++] = eid;
    }
    if (eids)
        sstore_lease_note_sent(st, s->id, s->id_len, b->id, eids, n, session_store_done, b);
    if (eids != stack)
        free(eids);
}

void session_closed(broker_t *b, session_t **sp, conn_t *c)
{
    session_t *s = *sp;
    if (b->shared)
        shared_session_gone(b->shared, s); /* another member takes what it had not acknowledged */
    if (b->cluster) {
        sstore_t *st = cluster_store(b->cluster);
        /* a new CONNECT for this client id is being adopted here (adopt.c):
         * it has taken, or is taking, the lease, and the session's Redis
         * state is its own now: a release or an expiry sent from here would
         * land behind its lease take and undo it (its lease gone while it
         * is connected, so a CONNECT on a peer would not take it over) */
        bool taken = map_get(&b->adopting, s->id, s->id_len) != NULL;
        /* a will held by its delay keeps the lease: a reconnect elsewhere
         * then asks this broker, which cancels the will (will.h) */
        if (!taken && !map_get(&b->wills, s->id, s->id_len)) {
            if (!s->clean)
                note_sent(b, st, s);
            sstore_lease_release(st, s->id, s->id_len, b->id, session_store_done, b);
        }
        /* a persistent session's state stays in Redis, until it expires */
        if (!taken && !s->clean)
            sstore_session_expire(st, s->id, s->id_len, false, session_expiry_ms(s),
                                  session_store_done, b);
        else if (!taken && s->stored) /* resumed, or persistent until DISCONNECT said 0 */
            sstore_session_clear(st, s->id, s->id_len, session_store_done, b);
        session_destroy(b, sp);
        return;
    }
    if (s->clean || s->expiry == 0) {
        session_destroy(b, sp);
    } else if (s->expiry != SESSION_NEVER && !s->exp) {
        struct session_exp *e = malloc(sizeof(*e));
        if (!e)
            return; /* kept until a connection takes it or cleans it */
        *e = (struct session_exp){b, s, 0};
        e->timer = loop_add_timer(b->loop, (uint64_t)s->expiry * 1000u, on_expired, e);
        s->exp = e;
    }
}

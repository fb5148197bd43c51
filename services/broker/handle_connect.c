/* CONNECT: checks what the codec could not (client id rules, session
 * state), stores the will, and accepts. The authd round trip slots in
 * between the checks and connect_accept. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "cluster.h"
#include "rpc/rpc.h"
#include "authc.h"
#include "conn5.h"
#include "store/sstore.h"
#include "base/log.h"
#include "handlers.h"
#include "mqtt/reason.h"
#include "route.h"
#include "session.h"
#include "will.h"

/* --max-connect-rate: a token bucket per listener (burst: one second's
 * worth). false when this CONNECT is over the rate. */
static bool connect_rate_ok(conn_t *c)
{
    broker_t *b = c->b;
    double rate = (double)b->cfg->max_connect_rate;
    if (rate <= 0)
        return true;
    const char *x = c->has_xport ? conn_xport(c)->ops->name : "tcp";
    int l = !strcmp(x, "tls") ? 1 : !strcmp(x, "ws") ? 2 : !strcmp(x, "wss") ? 3 : 0;
    uint64_t now = loop_now(b->loop);
    if (!b->connect_refill_ms[l]) {
        b->connect_tokens[l] = rate;
    } else {
        b->connect_tokens[l] += rate * (double)(now - b->connect_refill_ms[l]) / 1000.0;
        if (b->connect_tokens[l] > rate)
            b->connect_tokens[l] = rate;
    }
    b->connect_refill_ms[l] = now;
    if (b->connect_tokens[l] < 1.0)
        return false;
    b->connect_tokens[l] -= 1.0;
    return true;
}

int handle_connect(conn_t *c, const mqtt_packet_t *pk)
{
    const mqtt_connect_t *p = &pk->u.connect;
    broker_t *b = c->b;
    c->version = p->version;
    if (p->version == MQTT_V5) {
        int rc = conn5_open(c, &pk->props);
        if (rc)
            return rc;
    } else if (p->version != MQTT_V311 && p->version != MQTT_V31) {
        return ROOST_EPROTO_VERSION; /* [MQTT-3.1.2-2] */
    }
    if (!connect_rate_ok(c)) {
        char peer[64];
        log_info("conn_refused", "peer=%s reason=\"over --max-connect-rate\"", conn_peer(c, peer, sizeof(peer)));
        return ROOST_ERATE; /* 3.1.1: 3; 5.0: 0x9F Connection rate exceeded */
    }
    if (b->draining)
        return ROOST_EUNAVAILABLE; /* 3; 0x88 */
    if (b->cfg->max_connections && b->nconns > (uint32_t)b->cfg->max_connections)
        return ROOST_ELIMIT; /* 3; 0x97 Quota exceeded */
    char genid[32];
    const char *id = (const char *)p->client_id.ptr;
    size_t id_len = p->client_id.len;
    if (id_len == 0) {
        /* 3.1.1: only with a clean session [MQTT-3.1.3-8]; 5.0 has no such
         * rule, the assigned id goes back in CONNACK [MQTT-3.2.2-16] */
        if (!p->clean_session && !c->v5)
            return ROOST_EPROTO_CLIENT_ID;
        if (c->v5)
            c->v5->assigned_id = true;
        /* [MQTT-3.1.3-6] (5.0 too): assign a unique id */
        uint8_t rnd[8];
        randombytes_buf(rnd, sizeof(rnd));
        memcpy(genid, "auto-", 5);
        sodium_bin2hex(genid + 5, sizeof(genid) - 5, rnd, sizeof(rnd));
        id = genid;
        id_len = strlen(genid);
    }
    if (p->version == MQTT_V31 && id_len > 23)
        return ROOST_EPROTO_CLIENT_ID; /* 3.1 allowed 1..23 characters */
    int wrc = will_from_connect(c, pk);
    if (wrc)
        return wrc;
    c->keepalive = p->keepalive;
    uint16_t cap = (uint16_t)b->cfg->max_keepalive;
    if (cap && (!c->keepalive || c->keepalive > cap)) {
        char qid[LOG_QUOTE_CAP];
        log_debug("keepalive_capped", "client_id=%s asked=%u cap=%u",
                  log_quote(qid, sizeof(qid), id, id_len), c->keepalive, cap);
        c->keepalive = cap; /* 3.1.1 cannot say so; 5.0 gets Server Keep Alive */
        if (c->v5)
            c->v5->server_keepalive = cap; /* 3.2.2.3.14 */
    }
    if (b->authc)
        return authc_request(b->authc, c, p, id, id_len);
    if (!b->cfg->insecure_no_auth)
        return ROOST_EUNAVAILABLE; /* no authd configured: never accept without a decision */
    return connect_accept(c, id, id_len, p->clean_session, NULL);
}

static void on_store_done(int rc, void *arg)
{
    broker_t *b = arg;
    if (rc)
        b->stats.store_failures++;
}

/* Publishes this connection in the cluster-wide registry (admin lists it). */
static int registry_put(broker_t *b, conn_t *c, session_t *s)
{
    char peer[64];
    const char *groups[64];
    size_t ng = 0;
    char *csv = strdup(conn_groups(c));
    for (char *save = NULL, *g = csv ? strtok_r(csv, ",", &save) : NULL; g && ng < 64;
         g = strtok_r(NULL, ",", &save))
        groups[ng++] = g;
    sstore_conn_t rec = {
        .mqtt_client_id = s->id,
        .client_id = conn_store_id(c),
        .username = conn_username(c) ? conn_username(c) : "",
        .peer = conn_peer(c, peer, sizeof(peer)),
        .transport = c->has_xport ? conn_xport(c)->ops->name : "tcp",
        .protocol = c->version,
        .keepalive = c->keepalive,
        .connected_at = rpc_unix_ms(),
        .groups = groups,
        .n_groups = ng,
    };
    int rc = sstore_conn_put(cluster_store(b->cluster), b->id, &rec, on_store_done, b);
    free(csv);
    return rc;
}

/* A session's subscriptions from its Redis state (its queue and QoS 2 state
 * follow once the new ACL has pruned them); entry ids are tracked for the
 * catch-up reads. */
static int restore_subs(broker_t *b, session_t *s, const struct sstore_session *st)
{
    int rc = session_track_seen(s, true);
    for (size_t i = 0; i < st->n_subs && rc == 0; i++)
        rc = session_subscribe5(b, s, st->subs[i].filter, st->subs[i].filter_len,
                                st->subs[i].options, st->subs[i].subid, NULL);
    return rc;
}

int connect_accept(conn_t *c, const char *client_id, size_t id_len, bool clean,
                   acl_matcher_t **acl)
{
    static const adopt_hooks_t hooks = {connect_finish, connect_log_foreign};
    if (c->b->cluster)
        return adopt_start(c, client_id, id_len, clean, acl, &hooks);
    return connect_finish(c, client_id, id_len, clean, acl, NULL);
}

void connect_log_foreign(conn_t *c, const char *client_id, size_t id_len)
{
    char peer[64], qid[LOG_QUOTE_CAP];
    log_info("conn_refused", "peer=%s client_id=%s reason=\"session held by another credential\"",
             conn_peer(c, peer, sizeof(peer)), log_quote(qid, sizeof(qid), client_id, id_len));
}

/* A connection of s that closed in this loop turn (conn_close has taken
 * it off s, and it is freed at the safe point) gives s up now, as a
 * taken-over one does: s is this CONNECT's to end or resume. Otherwise its
 * free would find s destroyed by a clean start (a use after free, then
 * session_closed a second time), or, taken by this connection, delete
 * the cluster registry entry this one is about to put. */
static void gone_before(broker_t *b, const session_t *s)
{
    for (conn_t *x = b->close_head; x; x = x->close_next)
        if (x->sess == s)
            x->sess = NULL;
}

int connect_finish(conn_t *c, const char *client_id, size_t id_len, bool clean,
                   acl_matcher_t **acl, const struct sstore_session *stored)
{
    broker_t *b = c->b;
    char peer[64];
    session_t *s = map_get(&b->sessions, client_id, id_len);
    /* a cluster decided this atomically with the lease (sstore_lease_take) */
    if (s && !b->cluster && b->cfg->session_owner_only && s->owner &&
        strcmp(s->owner, conn_store_id(c)) != 0) {
        connect_log_foreign(c, client_id, id_len);
        return ROOST_EAUTH_NOT_AUTHORIZED;
    }
    char *owner = strdup(conn_store_id(c));
    if (!owner)
        return -ENOMEM;
    if (s && s->conn) {
        /* [MQTT-3.1.4-2]: the existing connection with this client id goes */
        conn_t *old = s->conn;
        old->taken_by_clean = clean; /* its will waits for no delay then (3.1.2.5) */
        conn_disconnect(old, MQTT_RC_SESSION_TAKEN_OVER, "session taken over", "takeover");
        old->sess = NULL;
        /* catch-up reads scheduled for the old connection end with it (they
         * find it gone); the new connection's adoption starts its own */
        session_track_seen(s, false);
        s->catchups = 0;
    } else if (s) {
        gone_before(b, s);
    }
    bool present = false, restored = false;
    /* clean: 3.1.1 Clean Session, 5.0 Clean Start [MQTT-3.1.2-4]; whether
     * the session outlives the connection: 3.1.1 !Clean Session, 5.0 a
     * Session Expiry Interval above 0 (3.1.2.11.2) */
    bool ends = c->v5 ? c->v5->session_expiry == 0 : clean;
    if (s && clean) {
        session_destroy(b, &s);
    } else if (s) {
        present = true;
        s->clean = ends;
    }
    /* how long it outlives this connection: 3.1.1 persistent sessions and
     * 5.0's Session Expiry Interval, held to --session-expiry */
    uint32_t want = c->v5 ? c->v5->session_expiry : clean ? 0 : SESSION_NEVER;
    uint32_t expiry = session_expiry_cap(b->cfg, want);
    if (c->v5 && expiry != want) {
        c->v5->session_expiry = expiry;
        c->v5->expiry_capped = true;
    }
    if (s) {
        free(s->owner);
        s->owner = owner;
    } else {
        s = session_new(b, client_id, id_len, ends);
        if (!s) {
            free(owner);
            return -ENOMEM;
        }
        s->owner = owner;
        if (stored && stored->exists && !clean) {
            present = true;
            int rc = restore_subs(b, s, stored);
            if (rc < 0) {
                session_destroy(b, &s);
                return rc;
            }
            restored = true;
        }
    }
    acl_matcher_t *none = NULL;
    session_set_acl(b, s, acl ? acl : &none);
    if (c->will && s->acl &&
        !acl_check_publish(s->acl, msg_topic(c->will), c->will->topic_len)) {
        /* 3.1.1 cannot refuse a will: it is dropped, as a denied PUBLISH is */
        char qid[LOG_QUOTE_CAP], qt[LOG_QUOTE_CAP];
        log_info("will_denied", "client_id=%s topic=%s", log_quote(qid, sizeof(qid), s->id, s->id_len),
                 log_quote(qt, sizeof(qt), msg_topic(c->will), c->will->topic_len));
        msg_unref(&c->will);
    }
    /* the queue, now that the new ACL has pruned the subscriptions */
    int qrc = restored ? session_restore(b, s, stored) : 0;
    if (present && !restored)
        session_prune_queue(b, s);
    if (qrc < 0) {
        session_destroy(b, &s);
        return qrc;
    }
    s->expiry = expiry;
    s->stored = s->stored || (b->cluster && (!clean || !ends));
    session_keep(b, s);
    /* a will held back by its delay is not sent: the client is back
     * [MQTT-3.1.3-9] */
    will_cancel(b, client_id, id_len);
    s->conn = c;
    c->sess = s;
    c->state = CONN_ACTIVE;
    conn_accepted(c);
    int rc;
    if (c->v5) {
        rc = conn5_connack(c, present, c->v5->assigned_id ? client_id : NULL, id_len);
    } else {
        uint8_t tmp[8];
        rc = conn_write(c, tmp, mqtt_encode_connack(tmp, sizeof(tmp), c->version, present, 0));
    }
    if (rc)
        return rc;
    b->stats.connack[0]++;
    char qid[LOG_QUOTE_CAP];
    log_info("conn_accepted", "peer=%s client_id=%s protocol=%u keepalive=%u clean=%d "
             "session_present=%d",
             conn_peer(c, peer, sizeof(peer)), log_quote(qid, sizeof(qid), client_id, id_len),
             c->version, c->keepalive, clean, present);
    if (b->cluster)
        c->registered = registry_put(b, c, s) == 0;
    if (present)
        session_resume(b, s);
    return 0;
}

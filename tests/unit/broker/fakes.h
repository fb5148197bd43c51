/* fakes.h: the functions of conn.c and cluster.c that sessions and routing
 * (roost_broker_core) write through, for unit tests that link them without
 * sockets: what would be written to a client is recorded in `fake_out`.
 * Include in exactly one file of a test executable. */
#ifndef ROOST_TEST_BROKER_FAKES_H
#define ROOST_TEST_BROKER_FAKES_H

#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "conn.h"
#include "route.h"
#include "session.h"

typedef struct fake_packet {
    const conn_t *conn; /* written to (PUBLISH only) */
    uint8_t type;     /* MQTT_PUBLISH or the ack type */
    uint16_t pid;
    uint8_t qos;
    bool dup, retain;
    char topic[64];
    bool own;         /* what conn_send_publish was told (pub_ids_t) */
    bool routed;
    uint32_t nids, ids[4];
} fake_packet_t;

static struct {
    fake_packet_t p[256];
    int n;
    int closed;
    const char *close_reason;
    bool too_large;   /* conn_send_publish answers CONN_TOO_LARGE (writes nothing) */
} fake_out;

int conn_send_publish(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup, bool retain,
                      const pub_ids_t *ids)
{
    if (fake_out.too_large)
        return CONN_TOO_LARGE;
    if (fake_out.n < 256) {
        fake_packet_t *p = &fake_out.p[fake_out.n++];
        *p = (fake_packet_t){.conn = c, .type = MQTT_PUBLISH, .pid = pid, .qos = qos, .dup = dup,
                             .retain = retain};
        size_t l = m->topic_len < sizeof(p->topic) - 1 ? m->topic_len : sizeof(p->topic) - 1;
        memcpy(p->topic, msg_topic(m), l);
        if (ids) {
            p->own = ids->own;
            p->routed = ids->routed;
            p->nids = ids->n;
            for (uint32_t i = 0; i < ids->n && i < 4; i++)
                p->ids[i] = ids->v[i];
        }
    }
    return 0;
}

int conn_send_ack(conn_t *c, uint8_t type, uint16_t pid)
{
    if (fake_out.n < 256)
        fake_out.p[fake_out.n++] = (fake_packet_t){.type = type, .pid = pid};
    return 0;
}

void conn_close(conn_t *c, const char *reason)
{
    fake_out.closed++;
    fake_out.close_reason = reason;
}

/* The Redis handle a test with a cluster sets (NULL: no cluster). */
static sstore_t *fake_store;
sstore_t *cluster_store(cluster_t *c) { return fake_store; }
/* Bus interest and the cluster index: no test here subscribes through a
 * session with a cluster. */
void cluster_interest(cluster_t *c, const char *filter, size_t len, bool add) { abort(); }
void cluster_psub(cluster_t *c, const char *cid, size_t cid_len, const char *filter,
                  size_t filter_len, uint8_t qos, bool add)
{
    abort();
}

/* Shared subscriptions' frames to peers and the peers' state: no test here
 * runs shared.c with a cluster. */
void cluster_send_frame(cluster_t *c, uint8_t *frame, size_t len) { abort(); }
bool cluster_peer_gone(const cluster_t *c, const char *id) { abort(); }

/* A broker with the limits the tests use, no cluster. */
static inline void fake_broker(broker_t *b, broker_config_t *cfg, int max_inflight, int max_queued)
{
    memset(b, 0, sizeof(*b));
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_inflight = max_inflight;
    cfg->max_queued = max_queued;
    cfg->max_outbuf = 1 << 20;
    cfg->max_retained = 1000;
    b->cfg = cfg;
    map_init(&b->sessions);
    b->trie = subtrie_new();
    b->retained = topictree_new();
}

/* Destroys every session left (as offline) and the broker's state. */
/* A clean session of id, online on c (c->sess set too). */
static inline session_t *fake_online(broker_t *b, const char *id, conn_t *c)
{
    session_t *s = session_new(b, id, strlen(id), true);
    if (s) {
        s->conn = c;
        c->sess = s;
    }
    return s;
}

static inline void fake_broker_fini(broker_t *b)
{
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&b->sessions, &it, &e)) {
        session_t *s = e->value;
        s->conn = NULL;
        session_destroy(b, &s);
        it = 0; /* destroying edits the map */
    }
    map_fini(&b->sessions);
    subtrie_destroy(&b->trie);
    route_fini(b);
    free(b->targets);
    free(b->subids);
}

#endif

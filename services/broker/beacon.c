#include "beacon.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "cluster.h"
#include "mqtt/subtrie.h"
#include "shared.h"
#include "store/beacon.h"
#include "store/instances.h"

struct beacon {
    broker_t *b;
    uint64_t timer;
    bool busy; /* a put is in flight: skip a beat rather than pile up */
};

char *beacon_record(const broker_t *b)
{
    const broker_stats_t *s = &b->stats;
    char mqtt[96];
    snprintf(mqtt, sizeof(mqtt), "%s:%lld", b->cfg->bind, (long long)b->cfg->port);
    uint64_t dropped = s->dropped_qos0 + s->dropped_queue + s->dropped_retained + s->bus_dropped;
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "mqtt", mqtt,
        "connections", (json_int_t)b->nconns, "connack_0", (json_int_t)s->connack[0],
        "connack_1", (json_int_t)s->connack[1], "connack_2", (json_int_t)s->connack[2],
        "connack_3", (json_int_t)s->connack[3], "connack_4", (json_int_t)s->connack[4],
        "connack_5", (json_int_t)s->connack[5], "msgs_in", (json_int_t)s->msgs_in,
        "msgs_out", (json_int_t)s->msgs_out, "queued", (json_int_t)s->queued,
        "dropped", (json_int_t)dropped, "retained", (json_int_t)topictree_count(b->retained),
        "bus_in", (json_int_t)s->bus_msgs_in, "bus_out", (json_int_t)s->bus_msgs_out);
    json_t *sh = b->shared ? shared_json(b->shared) : NULL;
    if (o && sh && json_array_size(sh))
        json_object_set(o, "shared", sh); /* the Connections page's shared groups */
    json_decref(sh);
    char *text = o && store_instance_common(o, "broker", b->draining ? "draining" : "serving", b->started_ms) == 0
                     ? json_dumps(o, JSON_COMPACT)
                     : NULL;
    json_decref(o);
    return text;
}

static void on_put(int rc, void *arg)
{
    beacon_t *bc = arg;
    bc->busy = false;
    if (rc < 0)
        log_debug("beacon_failed", "rc=%d", rc);
}

static void put(beacon_t *bc)
{
    broker_t *b = bc->b;
    sstore_t *st = b->cluster ? cluster_store(b->cluster) : NULL;
    if (bc->busy || !sstore_connected(st))
        return;
    char *rec = beacon_record(b);
    if (rec && sstore_instance_put(st, "broker", b->id, rec, 3 * BEACON_MS, on_put, bc) == 0)
        bc->busy = true;
    free(rec);
}

void beacon_put_now(beacon_t *bc)
{
    if (bc) {
        bc->busy = false; /* a state change must not wait for the last put's reply */
        put(bc);
    }
}

static uint64_t on_tick(loop_t *l, void *arg)
{
    put(arg);
    return BEACON_MS;
}

beacon_t *beacon_new(broker_t *b)
{
    beacon_t *bc = calloc(1, sizeof(*bc));
    if (!bc)
        return NULL;
    bc->b = b;
    bc->timer = loop_add_timer(b->loop, 1, on_tick, bc);
    return bc;
}

void beacon_destroy(beacon_t **bp)
{
    beacon_t *bc = *bp;
    if (!bc)
        return;
    *bp = NULL;
    loop_del_timer(bc->b->loop, bc->timer);
    free(bc);
}

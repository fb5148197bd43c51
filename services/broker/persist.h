/* persist: a SUBSCRIBE or UNSUBSCRIBE in a cluster, written to Redis
 * before it is answered. A persistent session's subscriptions are written
 * (subs and the cluster index) before SUBACK/UNSUBACK; any session's
 * packet waits behind the connection's pending writes (Redis answers in
 * order, sstore_barrier), so a client's packets keep their order. Reads
 * from the connection pause until the answer is out. (Messages take the
 * publish pipeline, pipeline.h.)
 *
 * A write that fails closes the connection without the answer: the client
 * resubscribes on its next connection.
 */
#ifndef ROOST_BROKER_PERSIST_H
#define ROOST_BROKER_PERSIST_H

#include <stdbool.h>

#include "conn.h"
#include "mqtt/mqtt.h"

/* The local effect of the packet and its answer, run once the writes are
 * in (subscribe_apply / unsubscribe_apply). 0 or a negative code. */
typedef int (*persist_apply_fn)(conn_t *c, const mqtt_subscribe_t *p);

/* SUBSCRIBE / UNSUBSCRIBE of any session in cluster mode: apply runs now
 * when nothing is written or pending, else from the last Redis reply (the
 * packet and its filter list are copied). 0 or a negative code (the caller
 * closes the connection). */
int persist_subscribe(conn_t *c, const mqtt_subscribe_t *p, bool unsubscribe,
                      persist_apply_fn apply);

#endif

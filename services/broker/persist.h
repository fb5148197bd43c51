/* persist: what a broker in a cluster writes to Redis before it answers.
 *
 * A PUBLISH at QoS 1/2 is appended to the Redis queue of every persistent
 * session whose subscription matches (cluster-wide index), a retained one
 * replaces the stored retained message, and a QoS 2 packet id of a
 * persistent publisher is recorded; only when those writes completed is the
 * message routed here, sent on the bus and acknowledged (PUBACK/PUBREC). A
 * SUBSCRIBE or UNSUBSCRIBE of a persistent session is written (subs and the
 * cluster index) before SUBACK/UNSUBACK. Redis answers in order, so a
 * connection's packets keep their order: an operation that needs no write
 * waits behind the ones still pending (sstore_barrier).
 *
 * A write that fails closes the connection without the acknowledgement:
 * the client resends (QoS 1/2) or resubscribes on its next connection.
 */
#ifndef ROOST_BROKER_PERSIST_H
#define ROOST_BROKER_PERSIST_H

#include <stdbool.h>

#include "conn.h"
#include "mqtt/mqtt.h"

/* Handles an accepted (allowed = false: ACL-denied, acknowledged only)
 * PUBLISH in cluster mode. 0 or a negative code. */
int persist_publish(conn_t *c, const mqtt_publish_t *p, bool allowed);
/* Publishes a will (takes no connection, acknowledges nothing) in cluster
 * mode: persisted like a PUBLISH of it, then routed here and forwarded. */
void persist_will(broker_t *b, const msg_t *will);
/* SUBSCRIBE / UNSUBSCRIBE of any session in cluster mode. */
int persist_subscribe(conn_t *c, const mqtt_subscribe_t *p, bool unsubscribe);

#endif

/* will: a connection's Will Message (3.1.2.5, 3.1.3.2): made from its
 * CONNECT, published when the connection ends without a DISCONNECT that
 * discards it, and in MQTT 5.0 held back by the Will Delay Interval.
 *
 * 5.0: the will carries its properties (Content Type, Response Topic,
 * Correlation Data, User Properties, Payload Format Indicator) to its
 * subscribers; its Message Expiry Interval starts when it is published.
 * A delayed will is published after min(Will Delay Interval, the session's
 * expiry) [MQTT-3.1.2-8], unless a new connection for the client id comes
 * first [MQTT-3.1.3-9]: on this broker (connect_finish calls will_cancel)
 * or, in a cluster, on another one: the broker holding a will keeps the
 * client-id lease until it is published, so the other broker's takeover
 * request reaches it (adopt_on_kick calls will_cancel). A connection taken
 * over never publishes a delayed will. Held wills live in
 * broker->wills (client id -> held will).
 */
#ifndef ROOST_BROKER_WILL_H
#define ROOST_BROKER_WILL_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "session.h"

/* Sets c->will from a CONNECT (nothing without the will flag). 0, -ENOMEM,
 * or ROOST_EPROTO_PAYLOAD_FORMAT: Payload Format Indicator 1 with a will
 * payload that is not UTF-8 (3.1.3.2.3: CONNACK 0x99). */
int will_from_connect(conn_t *c, const mqtt_packet_t *pk);

/* The connection c (session s, NULL when it had none or was taken over
 * on this broker) is being freed: publishes, holds or drops its will. */
void will_on_close(broker_t *b, conn_t *c, session_t *s);

/* A new connection for this client id: a held will is dropped. True when
 * there was one. */
bool will_cancel(broker_t *b, const char *cid, size_t len);
/* Is a will held for this client id? (Its session keeps the lease.) */
bool will_held(broker_t *b, const char *cid, size_t len);

/* Shutdown: publishes every held will now (the delay cannot be kept by a
 * broker that goes away). */
void will_flush(broker_t *b);

#endif

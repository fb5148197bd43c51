/* kick: admin's "disconnect this device now" (DELETE /api/v1/connections/ID).
 *
 * A SUB socket on admin's change-event PUB endpoint; a ChangeEvent
 * {kind CONNECTION, op DELETE, object_id = MQTT client id} closes that
 * client's connection if this broker holds it (every broker hears it; the
 * owner acts). Its will is published: the server closed the connection.
 * On the broker loop, edge-triggered ZMQ_FD; never blocks.
 */
#ifndef ROOST_BROKER_KICK_H
#define ROOST_BROKER_KICK_H

#include "broker.h"

typedef struct kick kick_t;

/* endpoint: admin's --pub-bind address. Caller owns the result; NULL on
 * OOM or a socket error (logged). */
kick_t *kick_new(broker_t *b, const char *endpoint, const char *server_key);
void kick_destroy(kick_t **k);

#endif

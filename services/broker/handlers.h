/* handlers: one function per inbound packet type (handle_*.c). Each returns
 * 0 or a negative code from base/err.h; dispatch.c maps codes to CONNACK
 * codes and closes. No handler closes the connection or writes a DISCONNECT
 * itself. Views in the packet point into the read buffer: copy what you keep. */
#ifndef ROOST_BROKER_HANDLERS_H
#define ROOST_BROKER_HANDLERS_H

#include "conn.h"
#include "acl/acl.h"
#include "mqtt/mqtt.h"

/* CONNECT (u.connect; a level-5 CONNECT's properties in props). */
int handle_connect(conn_t *c, const mqtt_packet_t *pk);
/* DISCONNECT from the client (5.0: its reason code and properties). */
int handle_disconnect(conn_t *c, const mqtt_packet_t *pk);
/* PUBLISH; resent: a QoS 2 one whose packet id is held (sent again before
 * PUBREL), which the caller looked up once (conn5_publish_in for 5.0). */
int handle_publish(conn_t *c, const mqtt_publish_t *p, bool resent);
int handle_puback(conn_t *c, const mqtt_ack_t *p);
int handle_pubrec(conn_t *c, const mqtt_ack_t *p);
int handle_pubrel(conn_t *c, const mqtt_ack_t *p);
int handle_pubcomp(conn_t *c, const mqtt_ack_t *p);
int handle_subscribe(conn_t *c, const mqtt_subscribe_t *p);
int handle_unsubscribe(conn_t *c, const mqtt_subscribe_t *p);

struct sstore_session;

/* Goes on with a CONNECT once it is allowed (after authd, or at once with
 * --insecure-no-auth): in a cluster through adopt_start, else
 * connect_finish. Takes ownership of *acl (NULL: everything allowed) and
 * sets it to NULL. */
int connect_accept(conn_t *c, const char *client_id, size_t id_len, bool clean,
                   acl_matcher_t **acl);
/* Takes over or creates the session (from `stored`, a Redis state, when
 * given and no live local session exists), answers CONNACK 0 and resumes
 * queued delivery. Takes ownership of *acl. */
int connect_finish(conn_t *c, const char *client_id, size_t id_len, bool clean,
                   acl_matcher_t **acl, const struct sstore_session *stored);

/* Logs the refusal of a CONNECT for a session another credential holds
 * (--session-owner-only). */
void connect_log_foreign(conn_t *c, const char *client_id, size_t id_len);

/* The local effect of a SUBSCRIBE / UNSUBSCRIBE and its answer (after any
 * Redis write in a cluster). */
int subscribe_apply(conn_t *c, const mqtt_subscribe_t *p);
int unsubscribe_apply(conn_t *c, const mqtt_subscribe_t *p);

#endif

/* publish5: a PUBLISH to a 5.0 client whose message carries properties or
 * an expiry, or Subscription Identifiers (msgprops.h says what goes in the
 * list). conn_send_publish hands those here; every other PUBLISH (all of
 * 3.1.1) keeps its own path, unchanged. */
#ifndef ROOST_BROKER_PUBLISH5_H
#define ROOST_BROKER_PUBLISH5_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "msg.h"
#include "session.h"

/* Subscription Identifiers sent with one message at most: overlapping
 * subscriptions beyond this many give their identifiers no more. */
#define PUBLISH5_SUBIDS_MAX 32

/* True when a PUBLISH of m to c goes through publish5_send: ids routed
 * (pub_ids_t) say whether there are identifiers; otherwise the session
 * having any says it may. */
static inline bool publish5_wanted(const conn_t *c, const msg_t *m, const pub_ids_t *ids)
{
    return c->version == MQTT_V5 &&
           (m->props_len || m->expiry_ms ||
            (ids && ids->routed ? ids->n != 0 : c->sess && c->sess->has_subids));
}

/* Encodes the PUBLISH into c's output like conn_send_publish. 0,
 * CONN_TOO_LARGE or -ENOMEM. */
int publish5_send(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup, bool retain,
                  const pub_ids_t *ids);

#endif

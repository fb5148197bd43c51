/* bus: the cluster bus's ZeroMQ sockets (DESIGN.md "Clustering").
 *
 * A message published here is sent once on the XPUB, batched per label
 * (busbatch.h) in data frames (busframe.h). This broker subscribes its SUB
 * to 'm' + the literal prefix of each local filter before its first
 * wildcard (ZeroMQ counts repeated subscriptions), and to 'r' (retained)
 * and 'c' (control), so a message reaches exactly the brokers that may need
 * it, in one hop, and is matched exactly on arrival. With a cluster
 * CurveZMQ key, the XPUB is a CURVE server, the SUB a CURVE client, and a
 * ZAP handler admits only that key.
 *
 * Membership (which peers the SUB connects to) is cluster.c's; what arrives
 * goes to the hooks. All on the broker loop; nothing blocks.
 */
#ifndef ROOST_BROKER_BUS_H
#define ROOST_BROKER_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "busframe.h"
#include "msg.h"

typedef struct bus bus_t;

typedef struct bus_hooks {
    /* A message from a peer. same_topic: m follows, in the same frame, a
     * message on the same topic delivered by the previous call (the caller
     * may reuse that routing). m is valid for the call (msg_ref to keep). */
    void (*deliver)(void *arg, msg_t *m, bool same_topic);
    /* A control message from broker `from` (fields point into the frame). */
    void (*control)(void *arg, const busctl_t *ctl, const char *from);
    void *arg;
    /* The SUB's link to a peer's XPUB came up or went down (the peer closed,
     * died, or missed ZeroMQ heartbeats for 1.5 s).
     * endpoint: as given to bus_connect. May be NULL. */
    void (*link)(void *arg, const char *endpoint, bool up);
    /* A shared-subscription frame ('s', shframe.h) addressed to this broker
     * or to all. May be NULL. */
    void (*shared)(void *arg, const uint8_t *f, size_t n);
} bus_hooks_t;

/* Caller owns the result; NULL on OOM. Copies the strings. curve_spec: the
 * cluster's CurveZMQ secret key spec, "" for a plain bus. */
bus_t *bus_new(broker_t *b, const char *bind, const char *advertise, const char *curve_spec,
               const bus_hooks_t *hooks);
/* Binds and joins the loop. 0 or a negative code (logged). */
int bus_start(bus_t *bus);
/* Sends what is pending, closes the sockets, frees; nulls *bus. */
void bus_destroy(bus_t **bus);

/* The endpoint peers connect to. */
const char *bus_endpoint(const bus_t *bus);
bool bus_curve(const bus_t *bus);

/* SUB side: connect to / disconnect from a peer's XPUB endpoint. 0 or -errno. */
int bus_connect(bus_t *bus, const char *endpoint);
void bus_disconnect(bus_t *bus, const char *endpoint);
/* Text for a negative code from bus_connect (ZeroMQ has codes of its own). */
const char *bus_strerror(int rc);

/* Sends the batches when due (at once when the loop is idle, after at most
 * a few busy turns otherwise), then reads what the sockets hold. ZMQ_FD is
 * edge-triggered and a send or a subscription change can consume the edge,
 * so this runs at the broker's safe point each loop turn. */
void bus_poll(bus_t *bus);
/* True when forwarded messages wait in a batch for bus_poll. */
bool bus_pending(const bus_t *bus);

/* Queues the message of p (with its 5.0 part) for the peers that
 * subscribed (eid NULL when elen is 0). */
void bus_forward(bus_t *bus, const msg_parts_t *p, const char *eid, size_t elen);
/* Bus interest for a local (filter, session) pair, added and removed in pairs. */
void bus_interest(bus_t *bus, const char *filter, size_t len, bool add);
/* Sends a shared-subscription frame (shframe.h; takes ownership of the
 * malloc'd frame): XPUB hands it to the broker it names. */
void bus_send_frame(bus_t *bus, uint8_t *frame, size_t len);
/* Sends a control message to every broker, after every batched message. */
void bus_control(bus_t *bus, const busctl_t *ctl);

#endif

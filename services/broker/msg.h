/* msg: an application message shared by every session it fans out to.
 *
 * One allocation holds the header, the topic, the payload, the 5.0
 * properties it carries and its entry id. Reference counted: a delivery
 * queue or in-flight slot holds a reference; the last msg_unref frees it.
 * Immutable once made (msg_alloc's caller fills it first). Single-threaded
 * (the loop).
 *
 * MQTT 5.0 (3.3.2.3): the properties kept are those a server forwards
 * unaltered to every subscriber, as the property list bytes the publisher
 * sent minus the per-hop ones (msgprops.h): Payload Format Indicator
 * [MQTT-3.3.2-4], Content Type [MQTT-3.3.2-20], Response Topic
 * [MQTT-3.3.2-15], Correlation Data [MQTT-3.3.2-16], User Properties in
 * order [MQTT-3.3.2-17,18]. The Message Expiry Interval is kept as an
 * absolute deadline (expiry_ms, unix ms, so it means the same on every
 * broker and in Redis), and each delivery sends what remains of it
 * [MQTT-3.3.2-6]. Topic Alias and Subscription Identifiers belong to one
 * connection and are never kept [MQTT-3.3.2-7, 3.3.4-3]. A 3.1.1
 * publisher's message has neither (props_len 0, expiry_ms 0), and costs
 * nothing more than before.
 */
#ifndef ROOST_BROKER_MSG_H
#define ROOST_BROKER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"

typedef struct msg {
    uint32_t refs;
    uint32_t payload_len;
    uint32_t props_len; /* forwarded 5.0 property list bytes, 0: none */
    uint16_t topic_len;
    uint8_t qos;        /* QoS it was published with */
    bool retain;        /* retain flag it was published with */
    uint8_t eid_len;    /* entry id length, 0 when not persisted */
    uint64_t expiry_ms; /* unix ms when the Message Expiry Interval runs out; 0: never */
    char data[];        /* topic bytes, payload bytes, property bytes, entry id + NUL */
} msg_t;

/* What a 5.0 message carries besides topic and payload (see above). */
typedef struct msg_ext {
    const uint8_t *props; /* a validated list, per-hop properties already removed */
    size_t props_len;
    uint64_t expiry_ms;
} msg_ext_t;

/* A message before it is made: its parts, as views into bytes the caller
 * holds (a client's PUBLISH: its read buffer; the codec bounds the
 * lengths). The record the publish path hands down (pipeline.h, route.h);
 * a message is made from it only when something keeps it. */
typedef struct msg_parts {
    const char *topic;
    const uint8_t *payload;
    uint32_t payload_len;
    uint16_t topic_len;
    uint8_t qos;
    bool retain;
    /* 5.0: the properties kept (above; props_len 0: none) and the expiry
     * deadline (unix ms, 0: none) */
    const uint8_t *props;
    uint32_t props_len;
    uint64_t expiry_ms;
} msg_parts_t;

/* The message of p. Caller owns the result (one reference); NULL on OOM. */
msg_t *msg_make(const msg_parts_t *p);
/* Same, with the id of the message's entries in persistent-session queues
 * in Redis ("<origin broker>:<seq>", at most 255 bytes; NULL for none). */
msg_t *msg_make_eid(const msg_parts_t *p, const char *eid);
/* msg_make from loose parts, without a 5.0 part. */
msg_t *msg_new(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
               uint8_t qos, bool retain);
/* Same, with an entry id (as msg_make_eid). */
msg_t *msg_new_eid(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid);
/* Same, with the 5.0 part (NULL: none). */
msg_t *msg_new_ext(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid, const msg_ext_t *ext);
/* One reference to a message whose bytes the caller fills before sharing
 * it: topic at data, payload after it, properties after that, entry id
 * last (its NUL is set). expiry_ms is 0. NULL on OOM or a length beyond the
 * fields' range. */
static inline msg_t *msg_alloc(size_t topic_len, size_t payload_len, size_t props_len,
                               size_t eid_len, uint8_t qos, bool retain)
{
    if (topic_len > UINT16_MAX || payload_len > UINT32_MAX || props_len > UINT32_MAX ||
        eid_len > 255 || payload_len + props_len > UINT32_MAX)
        return NULL;
    msg_t *m = malloc(sizeof(*m) + topic_len + payload_len + props_len +
                      (eid_len ? eid_len + 1 : 0));
    if (!m)
        return NULL;
    m->refs = 1;
    m->topic_len = (uint16_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->props_len = (uint32_t)props_len;
    m->qos = qos;
    m->retain = retain;
    m->eid_len = (uint8_t)eid_len;
    m->expiry_ms = 0;
    if (eid_len)
        m->data[topic_len + payload_len + props_len + eid_len] = '\0';
    return m;
}

/* msg_make_eid's body (eid NULL: msg_make's; the compiler drops the entry
 * id's part). Inline here for the publish path, which makes one message
 * per PUBLISH (route.c's route_local); everyone else calls msg_make. */
static inline __attribute__((always_inline)) msg_t *msg_make_inline(const msg_parts_t *in,
                                                                    const char *eid)
{
    size_t elen = eid ? strlen(eid) : 0;
    if (elen > 255)
        elen = 255;
    msg_t *m = msg_alloc(in->topic_len, in->payload_len, in->props_len, elen, in->qos, in->retain);
    if (!m)
        return NULL;
    char *p = m->data;
    memcpy(p, in->topic, in->topic_len);
    p += in->topic_len;
    if (in->payload_len)
        memcpy(p, in->payload, in->payload_len);
    p += in->payload_len;
    if (in->props_len)
        memcpy(p, in->props, in->props_len);
    p += in->props_len;
    if (elen)
        memcpy(p, eid, elen);
    m->expiry_ms = in->expiry_ms;
    return m;
}
static inline msg_t *msg_ref(msg_t *m)
{
    m->refs++;
    return m;
}
/* Drops one reference and sets *m to NULL; NULL-safe. (Inline: every
 * delivery and acknowledgement drops one.) */
static inline void msg_unref(msg_t **mp)
{
    msg_t *m = *mp;
    if (!m)
        return;
    *mp = NULL;
    if (--m->refs == 0)
        free(m);
}
static inline const char *msg_topic(const msg_t *m) { return m->data; }
static inline const uint8_t *msg_payload(const msg_t *m)
{
    return (const uint8_t *)m->data + m->topic_len;
}
static inline const uint8_t *msg_props(const msg_t *m)
{
    return (const uint8_t *)m->data + m->topic_len + m->payload_len;
}
/* The entry id, or NULL when the message is not in any Redis queue. */
static inline const char *msg_eid(const msg_t *m)
{
    return m->eid_len ? m->data + m->topic_len + m->payload_len + m->props_len : NULL;
}
/* True once the message's expiry has passed at now_ms (unix ms): it is
 * not delivered any more [MQTT-3.3.2-5]. */
static inline bool msg_expired(const msg_t *m, uint64_t now_ms)
{
    return m->expiry_ms && now_ms >= m->expiry_ms;
}
/* The same now (the wall clock is read only for a message with an expiry). */
static inline bool msg_expired_now(const msg_t *m)
{
    return m->expiry_ms && proc_wall_ms() >= m->expiry_ms;
}

#endif

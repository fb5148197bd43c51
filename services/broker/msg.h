/* msg: an application message shared by every session it fans out to.
 *
 * One allocation holds the header, the topic and the payload. Reference
 * counted: a delivery queue or in-flight slot holds a reference; the last
 * msg_unref frees it. Immutable once made (msg_alloc's caller fills it first). Single-threaded (the loop).
 */
#ifndef ROOST_BROKER_MSG_H
#define ROOST_BROKER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct msg {
    uint32_t refs;
    uint32_t payload_len;
    uint16_t topic_len;
    uint8_t qos;     /* QoS it was published with */
    bool retain;     /* retain flag it was published with */
    uint8_t eid_len; /* entry id length, 0 when not persisted */
    char data[];     /* topic bytes, payload bytes, entry id + NUL */
} msg_t;

/* Caller owns the result (one reference); NULL on OOM. */
msg_t *msg_new(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
               uint8_t qos, bool retain);
/* Same, with the id of the message's entries in persistent-session queues
 * in Redis ("<origin broker>:<seq>", at most 255 bytes; NULL for none). */
msg_t *msg_new_eid(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid);
/* One reference to a message whose bytes the caller fills before sharing
 * it: topic at data, payload after it, entry id after that (its NUL is
 * set). NULL on OOM or a length beyond the fields' range. */
msg_t *msg_alloc(size_t topic_len, size_t payload_len, size_t eid_len, uint8_t qos, bool retain);
static inline msg_t *msg_ref(msg_t *m)
{
    m->refs++;
    return m;
}
/* Drops one reference and sets *m to NULL; NULL-safe. */
void msg_unref(msg_t **m);
static inline const char *msg_topic(const msg_t *m) { return m->data; }
static inline const uint8_t *msg_payload(const msg_t *m)
{
    return (const uint8_t *)m->data + m->topic_len;
}
/* The entry id, or NULL when the message is not in any Redis queue. */
static inline const char *msg_eid(const msg_t *m)
{
    return m->eid_len ? m->data + m->topic_len + m->payload_len : NULL;
}

#endif

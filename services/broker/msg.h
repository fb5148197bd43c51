/* msg: an application message shared by every session it fans out to.
 *
 * One allocation holds the header, the topic and the payload. Reference
 * counted: a delivery queue or in-flight slot holds a reference; the last
 * msg_unref frees it. Immutable after msg_new. Single-threaded (the loop).
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
    char data[];     /* topic bytes, then payload bytes */
} msg_t;

/* Caller owns the result (one reference); NULL on OOM. */
msg_t *msg_new(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
               uint8_t qos, bool retain);
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

#endif

#include "msg.h"

#include <stdlib.h>
#include <string.h>

msg_t *msg_new(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
               uint8_t qos, bool retain)
{
    msg_t *m = malloc(sizeof(*m) + topic_len + payload_len);
    if (!m)
        return NULL;
    m->refs = 1;
    m->topic_len = (uint16_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->qos = qos;
    m->retain = retain;
    memcpy(m->data, topic, topic_len);
    if (payload_len)
        memcpy(m->data + topic_len, payload, payload_len);
    return m;
}

void msg_unref(msg_t **mp)
{
    msg_t *m = *mp;
    if (!m)
        return;
    *mp = NULL;
    if (--m->refs == 0)
        free(m);
}

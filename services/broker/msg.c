#include "msg.h"

#include <stdlib.h>
#include <string.h>

msg_t *msg_new(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
               uint8_t qos, bool retain)
{
    return msg_new_eid(topic, topic_len, payload, payload_len, qos, retain, NULL);
}

msg_t *msg_alloc(size_t topic_len, size_t payload_len, size_t eid_len, uint8_t qos, bool retain)
{
    if (topic_len > UINT16_MAX || payload_len > UINT32_MAX || eid_len > 255)
        return NULL;
    msg_t *m = malloc(sizeof(*m) + topic_len + payload_len + (eid_len ? eid_len + 1 : 0));
    if (!m)
        return NULL;
    m->refs = 1;
    m->topic_len = (uint16_t)topic_len;
    m->payload_len = (uint32_t)payload_len;
    m->qos = qos;
    m->retain = retain;
    m->eid_len = (uint8_t)eid_len;
    if (eid_len)
        m->data[topic_len + payload_len + eid_len] = '\0';
    return m;
}

msg_t *msg_new_eid(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid)
{
    size_t elen = eid ? strlen(eid) : 0;
    if (elen > 255)
        elen = 255;
    msg_t *m = msg_alloc(topic_len, payload_len, elen, qos, retain);
    if (!m)
        return NULL;
    memcpy(m->data, topic, topic_len);
    if (payload_len)
        memcpy(m->data + topic_len, payload, payload_len);
    if (elen)
        memcpy(m->data + topic_len + payload_len, eid, elen);
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

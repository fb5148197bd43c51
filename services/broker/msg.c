#include "msg.h"

#include <stdlib.h>
#include <string.h>

msg_t *msg_new(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
               uint8_t qos, bool retain)
{
    return msg_new_ext(topic, topic_len, payload, payload_len, qos, retain, NULL, NULL);
}

msg_t *msg_new_eid(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid)
{
    return msg_new_ext(topic, topic_len, payload, payload_len, qos, retain, eid, NULL);
}

msg_t *msg_alloc(size_t topic_len, size_t payload_len, size_t props_len, size_t eid_len,
                 uint8_t qos, bool retain)
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

msg_t *msg_new_ext(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid, const msg_ext_t *ext)
{
    size_t elen = eid ? strlen(eid) : 0;
    if (elen > 255)
        elen = 255;
    size_t plen = ext ? ext->props_len : 0;
    msg_t *m = msg_alloc(topic_len, payload_len, plen, elen, qos, retain);
    if (!m)
        return NULL;
    char *p = m->data;
    memcpy(p, topic, topic_len);
    p += topic_len;
    if (payload_len)
        memcpy(p, payload, payload_len);
    p += payload_len;
    if (plen)
        memcpy(p, ext->props, plen);
    p += plen;
    if (elen)
        memcpy(p, eid, elen);
    if (ext)
        m->expiry_ms = ext->expiry_ms;
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

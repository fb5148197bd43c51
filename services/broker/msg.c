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

msg_t *msg_new_ext(const void *topic, size_t topic_len, const void *payload, size_t payload_len,
                   uint8_t qos, bool retain, const char *eid, const msg_ext_t *ext)
{
    if (topic_len > UINT16_MAX || payload_len > UINT32_MAX || (ext && ext->props_len > UINT32_MAX))
        return NULL; /* (beyond msg_parts_t's fields, as msg_alloc's) */
    msg_parts_t p = {topic, payload, (uint32_t)payload_len, (uint16_t)topic_len, qos, retain,
                     NULL, 0, 0};
    if (ext) {
        p.props = ext->props;
        p.props_len = (uint32_t)ext->props_len;
        p.expiry_ms = ext->expiry_ms;
    }
    return msg_make_eid(&p, eid);
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

/* msg_make and msg_make_eid (one copy, specialised by the compiler for
 * the commonest case: no entry id). */
static inline __attribute__((always_inline)) msg_t *make(const msg_parts_t *in, const char *eid)
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

msg_t *msg_make(const msg_parts_t *p) { return make(p, NULL); }

msg_t *msg_make_eid(const msg_parts_t *p, const char *eid) { return make(p, eid); }

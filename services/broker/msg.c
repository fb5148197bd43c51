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

msg_t *msg_make(const msg_parts_t *p) { return msg_make_inline(p, NULL); }

msg_t *msg_make_eid(const msg_parts_t *p, const char *eid) { return msg_make_inline(p, eid); }

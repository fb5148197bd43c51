#include "msgprops.h"

#include <stdlib.h>
#include <string.h>

void msgprops_scan(mqtt_str_t list, msgprops_in_t *out)
{
    *out = (msgprops_in_t){0};
    mqtt_props_iter_t it;
    mqtt_prop_t v;
    mqtt_props_iter_init(&it, list);
    size_t dropped = 0;
    for (const uint8_t *at = it.p; mqtt_props_iter_next(&it, &v); at = it.p) {
        if (v.id == MQTT_PROP_MESSAGE_EXPIRY) {
            out->has_expiry = true;
            out->expiry_s = v.num;
        } else if (v.id == MQTT_PROP_PAYLOAD_FORMAT) {
            out->utf8 = v.num == 1;
        }
        if (MSGPROPS_NOT_KEPT & MQTT_PROP_BIT(v.id)) {
            out->copy = true;
            dropped += (size_t)(it.p - at);
        }
    }
    out->keep_len = list.len - dropped;
}

uint32_t msgprops_subid(mqtt_str_t list)
{
    mqtt_props_iter_t it;
    mqtt_prop_t v;
    mqtt_props_iter_init(&it, list);
    while (mqtt_props_iter_next(&it, &v))
        if (v.id == MQTT_PROP_SUBSCRIPTION_ID)
            return v.num;
    return 0;
}

size_t msgprops_keep(uint8_t *buf, mqtt_str_t list, const msgprops_in_t *in)
{
    return mqtt_props_copy(buf, in->keep_len, list, MSGPROPS_NOT_KEPT);
}

const uint8_t *msgprops_kept(mqtt_str_t list, const msgprops_in_t *in, uint8_t *buf, size_t cap,
                             uint8_t **heap)
{
    if (!in->copy)
        return list.ptr;
    uint8_t *out = buf;
    if (in->keep_len > cap && !(out = *heap = malloc(in->keep_len ? in->keep_len : 1)))
        return NULL;
    msgprops_keep(out, list, in);
    return out;
}

uint64_t msgprops_deadline(const msgprops_in_t *in, uint64_t now_ms)
{
    if (!in->has_expiry || in->expiry_s == 0)
        return 0;
    return now_ms + (uint64_t)in->expiry_s * 1000u;
}

uint32_t msgprops_remaining(const msg_t *m, uint64_t now_ms)
{
    if (now_ms >= m->expiry_ms)
        return 1;
    uint64_t s = (m->expiry_ms - now_ms + 999) / 1000;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

size_t msgprops_out(uint8_t *buf, size_t cap, const msg_t *m, uint64_t now_ms,
                    const uint32_t *ids, size_t n)
{
    size_t total = m->props_len;
    mqtt_prop_t exp = {.id = MQTT_PROP_MESSAGE_EXPIRY};
    if (m->expiry_ms) {
        exp.num = msgprops_remaining(m, now_ms);
        total += mqtt_prop_encode(NULL, 0, &exp);
    }
    for (size_t i = 0; i < n; i++)
        total += mqtt_prop_encode(NULL, 0, &(mqtt_prop_t){.id = MQTT_PROP_SUBSCRIPTION_ID,
                                                          .num = ids[i]});
    if (cap < total)
        return total;
    size_t at = 0;
    if (m->expiry_ms)
        at += mqtt_prop_encode(buf + at, cap - at, &exp);
    for (size_t i = 0; i < n; i++)
        at += mqtt_prop_encode(buf + at, cap - at,
                               &(mqtt_prop_t){.id = MQTT_PROP_SUBSCRIPTION_ID, .num = ids[i]});
    if (m->props_len)
        memcpy(buf + at, msg_props(m), m->props_len);
    return total;
}

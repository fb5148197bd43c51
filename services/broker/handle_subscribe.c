/* SUBSCRIBE and UNSUBSCRIBE. The codec has validated every filter and QoS;
 * here they are recorded and answered. */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "handlers.h"
#include "mqtt/reason.h"
#include "mqtt/share.h"
#include "msgprops.h"
#include "persist.h"
#include "route.h"
#include "session.h"
#include "shared.h"

/* Scratch bit in subscribe_apply's granted options: send the retained
 * messages (Retain Handling); never stored. */
#define SEND_RETAINED 0x40

int handle_subscribe(conn_t *c, const mqtt_subscribe_t *p)
{
    if (c->b->cluster)
        return persist_subscribe(c, p, false, subscribe_apply);
    return subscribe_apply(c, p);
}

int handle_unsubscribe(conn_t *c, const mqtt_subscribe_t *p)
{
    if (c->b->cluster)
        return persist_subscribe(c, p, true, unsubscribe_apply);
    return unsubscribe_apply(c, p);
}

/* SUBACK or UNSUBACK with one code per filter, for the client's level. */
static int send_codes(conn_t *c, uint8_t type, uint16_t pid, const uint8_t *codes, uint32_t n)
{
    size_t (*enc)(uint8_t *, size_t, uint8_t, uint16_t, const uint8_t *, uint32_t) =
        type == MQTT_SUBACK ? mqtt_encode_suback : mqtt_encode_unsuback;
    uint8_t small[64];
    size_t len = enc(NULL, 0, c->version, pid, codes, n);
    uint8_t *out = len <= sizeof(small) ? small : malloc(len);
    if (!out)
        return -ENOMEM;
    enc(out, len, c->version, pid, codes, n);
    int rc = conn_write(c, out, len);
    if (out != small)
        free(out);
    return rc;
}

int subscribe_apply(conn_t *c, const mqtt_subscribe_t *p)
{
    broker_t *b = c->b;
    bool v5 = c->version == MQTT_V5;
    uint32_t subid = v5 ? msgprops_subid(p->props) : 0;
    /* codes[i]: SUBACK return code; codes[count + i]: the options granted,
     * with SEND_RETAINED when its retained messages are to be sent */
    uint8_t codes_small[32];
    uint8_t *codes = p->count <= sizeof(codes_small) / 2 ? codes_small : malloc(2 * (size_t)p->count);
    if (!codes)
        return -ENOMEM;
    uint8_t *granted = codes + p->count;
    mqtt_topic_iter_t it;
    mqtt_str_t f;
    uint8_t opts;
    uint32_t i = 0;
    mqtt_topic_iter_init(&it, p, true);
    while (mqtt_topic_iter_next(&it, &f, &opts)) {
        uint8_t qos = opts & 3;
        session_t *s = c->sess;
        if (share_check(c, (const char *)f.ptr, f.len, &codes[i]) < 0) {
            granted[i++] = 0;
            continue;
        }
        acl_sub_result_t r =
            s->acl ? acl_check_subscribe(s->acl, (const char *)f.ptr, f.len) : ACL_SUB_GRANTED;
        if (r == ACL_SUB_DENIED) {
            b->stats.denied_subscribe++;
            conn_log_denied(c, "subscribe_denied", "filter", f.ptr, f.len);
            granted[i] = 0;
            /* 5.0: 0x87 Not authorized (3.9.3); 3.1.1: 0x80 Failure */
            codes[i++] = v5 ? MQTT_RC_NOT_AUTHORIZED : MQTT_SUBACK_FAILURE;
            continue;
        }
        /* 5.0 options kept with the subscription: No Local, Retain As
         * Published (3.8.3.1); a 3.1.1 options byte has them 0 */
        uint8_t o = (uint8_t)((opts & SUBOPT_MQTT) |
                              (r == ACL_SUB_GRANTED_FILTERED ? SUBOPT_FILTERED : 0));
        bool existed = false;
        int rc = session_subscribe5(b, s, (const char *)f.ptr, f.len, o, subid, &existed);
        /* Retain Handling [MQTT-3.3.1-9,10,11]: 0 sends the retained
         * messages, 1 only for a new subscription, 2 never; and only to a
         * non-shared subscription [MQTT-3.3.1-6] */
        uint8_t rh = (opts >> 4) & 3;
        bool send = rc == 0 && (rh == 0 || (rh == 1 && !existed)) &&
                    !share_is((const char *)f.ptr, f.len);
        granted[i] = (uint8_t)(o | (send ? SEND_RETAINED : 0));
        codes[i++] = rc ? (v5 ? MQTT_RC_UNSPECIFIED_ERROR : MQTT_SUBACK_FAILURE) : qos;
    }
    int rc = send_codes(c, MQTT_SUBACK, p->packet_id, codes, i);
    /* retained messages follow the SUBACK [MQTT-3.3.1-6] */
    mqtt_topic_iter_init(&it, p, true);
    for (uint32_t k = 0; rc == 0 && mqtt_topic_iter_next(&it, &f, &opts); k++) {
        if (granted[k] & SEND_RETAINED)
            route_send_retained(b, c->sess, (const char *)f.ptr, f.len,
                                (uint8_t)(granted[k] & ~SEND_RETAINED), subid);
    }
    if (codes != codes_small)
        free(codes);
    return rc;
}

int unsubscribe_apply(conn_t *c, const mqtt_subscribe_t *p)
{
    /* 5.0: one reason code per filter [MQTT-3.11.3-1]: 0x00, or 0x11 No
     * subscription existed; 3.1.1 UNSUBACK has none */
    uint8_t small[32];
    uint8_t *codes = p->count <= sizeof(small) ? small : malloc(p->count);
    if (!codes)
        return -ENOMEM;
    mqtt_topic_iter_t it;
    mqtt_str_t f;
    uint8_t opts;
    uint32_t i = 0;
    mqtt_topic_iter_init(&it, p, false);
    while (mqtt_topic_iter_next(&it, &f, &opts)) {
        int rc = session_unsubscribe(c->b, c->sess, (const char *)f.ptr, f.len);
        codes[i++] = rc == ROOST_ENOTFOUND ? 0x11 : 0x00;
    }
    /* [MQTT-3.10.4-4]: UNSUBACK even when nothing matched */
    int rc = send_codes(c, MQTT_UNSUBACK, p->packet_id, codes, i);
    if (codes != small)
        free(codes);
    return rc;
}

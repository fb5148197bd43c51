/* fuzz_mqtt.h: checks shared by the lib/mqtt fuzz targets. Header-only. */
#ifndef ROOST_FUZZ_MQTT_H
#define ROOST_FUZZ_MQTT_H

#include <stdbool.h>
#include <string.h>

#include "mqtt/mqtt.h"
#include "mqtt/props.h"

#define CHECK(x)                  \
    do {                          \
        if (!(x))                 \
            __builtin_trap();     \
    } while (0)

static inline bool sv_eq(mqtt_str_t a, mqtt_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Two decoded property lists hold the same properties (fields, counts;
 * not the order of the entries). */
static inline bool props_eq(const mqtt_props_t *p, const mqtt_props_t *q)
{
    return q->present == p->present && q->user_count == p->user_count &&
           q->sub_id_count == p->sub_id_count && q->message_expiry == p->message_expiry &&
           q->session_expiry == p->session_expiry && q->will_delay == p->will_delay &&
           q->max_packet_size == p->max_packet_size && q->sub_id == p->sub_id &&
           q->server_keep_alive == p->server_keep_alive &&
           q->receive_maximum == p->receive_maximum &&
           q->topic_alias_maximum == p->topic_alias_maximum && q->topic_alias == p->topic_alias &&
           q->payload_format == p->payload_format &&
           q->request_problem_info == p->request_problem_info &&
           q->request_response_info == p->request_response_info &&
           q->maximum_qos == p->maximum_qos && q->retain_available == p->retain_available &&
           q->wildcard_sub_available == p->wildcard_sub_available &&
           q->sub_id_available == p->sub_id_available &&
           q->shared_sub_available == p->shared_sub_available &&
           sv_eq(q->content_type, p->content_type) &&
           sv_eq(q->response_topic, p->response_topic) &&
           sv_eq(q->correlation_data, p->correlation_data) &&
           sv_eq(q->assigned_client_id, p->assigned_client_id) &&
           sv_eq(q->auth_method, p->auth_method) && sv_eq(q->auth_data, p->auth_data) &&
           sv_eq(q->response_info, p->response_info) &&
           sv_eq(q->server_reference, p->server_reference) &&
           sv_eq(q->reason_string, p->reason_string);
}

#endif

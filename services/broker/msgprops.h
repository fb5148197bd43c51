/* msgprops: the MQTT 5.0 properties of an application message on its way
 * through the broker, pure (no clock: callers pass the time).
 *
 * In: a 5.0 PUBLISH's property list (validated by the codec) is scanned
 * once (msgprops_scan) for what the broker acts on: Message Expiry
 * Interval, Payload Format Indicator, and whether it holds a property that
 * is not forwarded as it came: Topic Alias (per connection
 * [MQTT-3.3.2-7]), Subscription Identifier (set per subscriber
 * [MQTT-3.3.4-3]; a client sending one is refused by the codec
 * [MQTT-3.3.4-6]), Message Expiry Interval (sent as what remains
 * [MQTT-3.3.2-6]). When it holds none of them the list itself is what the
 * message keeps (no copy); otherwise msgprops_keep copies the rest, in
 * order [MQTT-3.3.2-18].
 *
 * Out: the property list of a PUBLISH to a 5.0 subscriber
 * (msgprops_out): the remaining Message Expiry Interval, then one
 * Subscription Identifier per matching subscription that has one
 * [MQTT-3.3.4-3, 3.3.4-4], then the kept properties unaltered
 * [MQTT-3.3.2-4, 3.3.2-15, 3.3.2-16, 3.3.2-17, 3.3.2-20]. A 3.1.1
 * subscriber gets none of it (the 3.1.1 PUBLISH has no properties).
 */
#ifndef ROOST_BROKER_MSGPROPS_H
#define ROOST_BROKER_MSGPROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "mqtt/mqtt.h"

/* What msgprops_scan finds. */
typedef struct msgprops_in {
    bool has_expiry;     /* Message Expiry Interval present */
    uint32_t expiry_s;   /* its value, seconds */
    bool utf8;           /* Payload Format Indicator 1: the payload is UTF-8 */
    bool copy;           /* holds a property that is not kept: msgprops_keep */
    size_t keep_len;     /* bytes the kept list takes */
} msgprops_in_t;

/* The identifiers that are never kept with a message. The Will Delay
 * Interval (only in will properties, which msgprops_scan reads too) is for
 * the server (3.1.3.2.2). */
#define MSGPROPS_NOT_KEPT                                                          \
    (MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) | \
     MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY))

void msgprops_scan(mqtt_str_t list, msgprops_in_t *out);
/* Writes the kept list (in->keep_len bytes) at buf. */
size_t msgprops_keep(uint8_t *buf, mqtt_str_t list, const msgprops_in_t *in);
/* The kept list of list (scanned into in): list itself when nothing is
 * dropped, else a copy in buf (cap bytes) or, when larger, in *heap
 * (malloc'd; the caller frees it). NULL only when the copy could not be
 * allocated. */
const uint8_t *msgprops_kept(mqtt_str_t list, const msgprops_in_t *in, uint8_t *buf, size_t cap,
                             uint8_t **heap);

/* The expiry deadline (unix ms) of a message received at now_ms with
 * in's Message Expiry Interval, 0 for none. An interval of 0 reads as
 * none, as other brokers do (the spec gives 0 no special meaning, and a
 * message that expired on arrival would reach nobody). */
uint64_t msgprops_deadline(const msgprops_in_t *in, uint64_t now_ms);

/* What remains of m's Message Expiry Interval at now_ms, in whole seconds
 * rounded up (at least 1: a message sent has not expired). */
uint32_t msgprops_remaining(const msg_t *m, uint64_t now_ms);

/* The property list of a PUBLISH of m to a 5.0 subscriber at now_ms, with
 * the n subscription identifiers ids[] (nonzero): its size, written at buf
 * only when cap holds it (cap 0 sizes). */
size_t msgprops_out(uint8_t *buf, size_t cap, const msg_t *m, uint64_t now_ms,
                    const uint32_t *ids, size_t n);

/* The Subscription Identifier in a 5.0 SUBSCRIBE's property list
 * (3.8.2.1.2), 0 for none (the codec refuses 0 and a second one). */
uint32_t msgprops_subid(mqtt_str_t list);

#endif

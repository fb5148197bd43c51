/* fuzz: roost_mqtt */
/* The MQTT 5.0 property decoder. The first input byte picks the packet the
 * list comes from (low nibble: packet type, 0 = will properties) and the
 * direction (bit 4); the rest is the list. An accepted list must iterate to
 * its end with the counts the decoder reported; copying it whole must give
 * the same bytes; and re-encoding the decoded fields (User Properties and
 * further Subscription Identifiers copied into extra) must decode to the
 * same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mqtt.h"
#include "mqtt/props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned ctx = data[0] & 0x0F;
    if (ctx == 0)
        ctx = MQTT_PROPS_WILL;
    bool from_client = data[0] & 0x10;
    const uint8_t *list = data + 1;
    size_t len = size - 1;

    /* zeroed: a PUBLISH list leaves the fields a PUBLISH cannot carry as
     * they were (props.h), and props_eq compares every field */
    mqtt_props_t p = {0};
    int rc = mqtt_props_decode(list, len, ctx, from_client, &p);
    if (rc != 0) {
        CHECK(rc < 0);
        return 0;
    }
    CHECK(p.raw.ptr == list && p.raw.len == len);

    /* iteration covers the list; counts agree; every id is allowed here */
    mqtt_props_iter_t it;
    mqtt_prop_t v;
    uint32_t users = 0, subs = 0;
    uint64_t seen = 0;
    mqtt_props_iter_init(&it, p.raw);
    while (mqtt_props_iter_next(&it, &v)) {
        CHECK(mqtt_prop_allowed(v.id, ctx));
        users += v.id == MQTT_PROP_USER_PROPERTY;
        subs += v.id == MQTT_PROP_SUBSCRIPTION_ID;
        seen |= MQTT_PROP_BIT(v.id);
    }
    CHECK(it.p == list + len);
    CHECK(users == p.user_count && subs == p.sub_id_count && seen == p.present);

    /* a whole copy is the same bytes */
    uint8_t *copy = malloc(len + 1);
    CHECK(copy);
    CHECK(mqtt_props_copy(copy, len, p.raw, 0) == len);
    CHECK(len == 0 || memcmp(copy, list, len) == 0);

    /* fields + extra (User Properties, later Subscription Identifiers) */
    size_t en = 0;
    mqtt_props_iter_init(&it, p.raw);
    bool first_sub = true;
    for (const uint8_t *at = it.p; mqtt_props_iter_next(&it, &v); at = it.p) {
        bool keep = v.id == MQTT_PROP_USER_PROPERTY ||
                    (v.id == MQTT_PROP_SUBSCRIPTION_ID && !first_sub);
        if (v.id == MQTT_PROP_SUBSCRIPTION_ID)
            first_sub = false;
        if (keep) {
            memcpy(copy + en, at, (size_t)(it.p - at));
            en += (size_t)(it.p - at);
        }
    }
    mqtt_props_t e = p;
    e.extra = (mqtt_str_t){copy, (uint32_t)en};
    size_t n = mqtt_props_encode(NULL, 0, &e);
    CHECK(n == len); /* the same entries, reordered */
    uint8_t *out = malloc(n + 1);
    CHECK(out);
    CHECK(mqtt_props_encode(out, n, &e) == n);
    mqtt_props_t q = {0};
    CHECK(mqtt_props_decode(out, n, ctx, from_client, &q) == 0);
    CHECK(props_eq(&p, &q));
    free(out);
    free(copy);
    return 0;
}

/* The SUBSCRIBE side of shared subscriptions (shared.h): a "$share/" filter
 * that does not parse gets its SUBACK code here. */
#include <errno.h>

#include "conn.h"
#include "mqtt/reason.h"
#include "mqtt/share.h"
#include "shared.h"

int share_check(conn_t *c, const char *f, size_t len, uint8_t *code)
{
    share_filter_t sf;
    int rc = share_parse(f, len, &sf);
    if (rc > 0 && c->b->cfg->no_shared_subs) {
        /* [MQTT-3.8.3-4]-style refusal: 5.0 says why, 3.1.1 has one code */
        *code = c->version == MQTT_V5 ? MQTT_RC_SHARED_SUBS_NOT_SUPPORTED : MQTT_SUBACK_FAILURE;
        conn_log_denied(c, "subscribe_shared_disabled", "filter", f, len);
        return -ENOTSUP;
    }
    if (rc >= 0)
        return 0;
    /* 3.1.1 has one failure code; 5.0 says why [MQTT-4.8.2-1, -2] */
    *code = c->version == MQTT_V5 ? MQTT_RC_TOPIC_FILTER_INVALID : MQTT_SUBACK_FAILURE;
    conn_log_denied(c, "subscribe_invalid_share", "filter", f, len);
    return rc;
}

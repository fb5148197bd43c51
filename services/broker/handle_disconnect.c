/* DISCONNECT from the client: the will's fate and, in 5.0, the last word on
 * the Session Expiry Interval. */
#include "base/log.h"
#include "conn5.h"
#include "handlers.h"
#include "mqtt/reason.h"
#include "session.h"

int handle_disconnect(conn_t *c, const mqtt_packet_t *pk)
{
    conn5_t *v = c->v5;
    if (!v) {
        c->graceful = true; /* [MQTT-3.14.4-3]: discard the will */
        conn_close(c, "disconnect");
        return 0;
    }
    const mqtt_props_t *p = &pk->props;
    if (mqtt_props_has(p, MQTT_PROP_SESSION_EXPIRY)) {
        /* 3.14.2.2.2: "If the Session Expiry Interval in the CONNECT packet
         * was zero, then it is a Protocol Error to set a non-zero Session
         * Expiry Interval in the DISCONNECT packet sent by the Client" */
        if (v->session_expiry == 0 && p->session_expiry != 0)
            return ROOST_EPROTO_PROTOCOL;
        v->session_expiry = session_expiry_cap(c->b->cfg, p->session_expiry);
        if (c->sess) {
            c->sess->clean = v->session_expiry == 0;
            c->sess->expiry = v->session_expiry;
        }
    }
    /* only 0x00 Normal disconnection discards the will [MQTT-3.1.2-10]
     * [MQTT-3.14.4-3]; 0x04 "Disconnect with Will Message" and every error
     * code (0x80...) leave it to be published (3.1.2.5, 3.14.2.1) */
    c->graceful = pk->u.ack.rc == MQTT_RC_NORMAL_DISCONNECTION;
    conn_close(c, c->graceful ? "disconnect" : "disconnect_with_will");
    return 0;
}

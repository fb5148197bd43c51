#include "publish5.h"

#include <errno.h>
#include <stdlib.h>

#include "base/proc.h"
#include "msgprops.h"
#include "session.h"

int publish5_send(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup, bool retain,
                  const pub_ids_t *given)
{
    /* the identifiers of the subscriptions that delivered it [MQTT-3.3.4-3]:
     * routing's when it matched them; otherwise the session's matching
     * ones, where the No Local ones of the publisher's own session did not
     * deliver it [MQTT-3.8.3-3] */
    uint32_t found[PUBLISH5_SUBIDS_MAX];
    const uint32_t *ids = found;
    size_t nids = 0;
    if (given && given->routed) {
        ids = given->v;
        nids = given->n;
    } else if (c->sess && c->sess->has_subids) {
        nids = session_subids(c->sess, msg_topic(m), m->topic_len, given && given->own, found,
                              PUBLISH5_SUBIDS_MAX);
    }
    uint64_t now = m->expiry_ms ? proc_wall_ms() : 0;
    uint8_t small[512];
    size_t plen = msgprops_out(NULL, 0, m, now, ids, nids);
    uint8_t *props = plen <= sizeof(small) ? small : malloc(plen);
    if (!props)
        return -ENOMEM;
    msgprops_out(props, plen, m, now, ids, nids);
    int rc = conn_send_publish_props(c, m, qos, pid, dup, retain, (mqtt_str_t){props, plen});
    if (props != small)
        free(props);
    return rc;
}

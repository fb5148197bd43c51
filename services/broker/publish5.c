#include "publish5.h"

#include <errno.h>
#include <stdlib.h>

#include "base/proc.h"
#include "msgprops.h"
#include "session.h"

/* Subscription Identifiers sent with one message at most: overlapping
 * subscriptions beyond this many give their identifiers no more. */
#define SUBIDS_MAX 32

int publish5_send(conn_t *c, const msg_t *m, uint8_t qos, uint16_t pid, bool dup, bool retain)
{
    uint32_t ids[SUBIDS_MAX];
    /* sent while the publisher's own message is routed: its No Local
     * subscriptions are not why it gets it (a copy queued and sent later
     * no longer knows its publisher) */
    bool own = c->sess && c->b->cur_origin == c->sess;
    size_t nids = c->sess && c->sess->has_subids
                      ? session_subids(c->sess, msg_topic(m), m->topic_len, own, ids, SUBIDS_MAX)
                      : 0;
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

/* will: Will Messages, and 5.0's Will Delay Interval (will.h). */
#include "will.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster.h"
#include "conn5.h"
#include "msgprops.h"
#include "pipeline.h"
#include "store/sstore.h"

typedef struct held {
    broker_t *b;
    msg_t *m;
    char *username;       /* NULL: anonymous */
    uint32_t expiry_s;    /* the will's Message Expiry Interval, 0: none */
    uint64_t timer;
    size_t len;
    char cid[];
} held_t;

int will_from_connect(conn_t *c, const mqtt_packet_t *pk)
{
    const mqtt_connect_t *p = &pk->u.connect;
    if (!p->will)
        return 0;
    if (!c->v5) {
        c->will = msg_new(p->will_topic.ptr, p->will_topic.len, p->will_payload.ptr,
                          p->will_payload.len, p->will_qos, p->will_retain);
        return c->will ? 0 : -ENOMEM;
    }
    const mqtt_props_t *wp = &pk->will_props;
    /* 3.1.3.2.3: the server MAY check a UTF-8 will payload; it refuses
     * with CONNACK 0x99 Payload format invalid */
    if (!mqtt_props_payload_ok(wp, p->will_payload))
        return ROOST_EPROTO_PAYLOAD_FORMAT;
    c->v5->will_delay = wp->will_delay;
    c->v5->will_expiry = mqtt_props_has(wp, MQTT_PROP_MESSAGE_EXPIRY) ? wp->message_expiry : 0;
    /* the will's own properties go to its subscribers as a PUBLISH's do
     * (msgprops); its Will Delay Interval is for the server, and its
     * Message Expiry Interval becomes a deadline when it is published */
    msgprops_in_t in;
    msgprops_scan(p->will_props, &in);
    uint8_t small[256], *heap = NULL;
    msg_ext_t ext = {.props_len = in.keep_len};
    if (!(ext.props = msgprops_kept(p->will_props, &in, small, sizeof(small), &heap)))
        return -ENOMEM;
    c->will = msg_new_ext(p->will_topic.ptr, p->will_topic.len, p->will_payload.ptr,
                          p->will_payload.len, p->will_qos, p->will_retain, NULL, &ext);
    free(heap);
    return c->will ? 0 : -ENOMEM;
}

static void publish(broker_t *b, msg_t **w, uint32_t expiry_s, const char *cid, size_t len,
                    const char *username)
{
    /* 3.3.2.3.3: the interval runs from the will's publication */
    if (expiry_s)
        (*w)->expiry_ms = proc_wall_ms() + (uint64_t)expiry_s * 1000u;
    pipe_will_of_t of = {cid, len, username};
    pipe_msg_t m = {.source = PIPE_WILL, .m = *w, .will_of = &of};
    if (pipeline_publish(b, &m, NULL) < 0) {
        char qid[LOG_QUOTE_CAP];
        log_warn("will_dropped", "client_id=%s reason=out_of_memory",
                 log_quote(qid, sizeof(qid), cid ? cid : "", cid ? len : 0));
    }
    msg_unref(w);
}

static void held_free(held_t *h)
{
    msg_unref(&h->m);
    free(h->username);
    free(h);
}

static void store_done(int rc, void *arg)
{
    broker_t *b = arg;
    if (rc)
        b->stats.store_failures++;
}

static uint64_t on_delay(loop_t *l, void *arg)
{
    held_t *h = arg;
    broker_t *b = h->b;
    (void)l;
    map_del(&b->wills, h->cid, h->len);
    char qid[LOG_QUOTE_CAP];
    log_info("will_delayed_published", "client_id=%s", log_quote(qid, sizeof(qid), h->cid, h->len));
    publish(b, &h->m, h->expiry_s, h->cid, h->len, h->username);
    /* the session kept the lease for the will: it is free now */
    if (b->cluster)
        sstore_lease_release(cluster_store(b->cluster), h->cid, h->len, b->id, store_done, b);
    held_free(h);
    return 0;
}

void will_on_close(broker_t *b, conn_t *c, session_t *s)
{
    msg_t *w = c->will;
    c->will = NULL;
    if (!w)
        return;
    if (c->graceful) {
        msg_unref(&w);
        return;
    }
    const char *cid = s ? s->id : NULL;
    size_t len = s ? s->id_len : 0;
    uint32_t delay = c->v5 ? c->v5->will_delay : 0;
    if (delay && s && s->expiry < delay)
        delay = s->expiry; /* the session ends first: the will goes then [MQTT-3.1.2-8] */
    bool taken_over = c->close_reason && strcmp(c->close_reason, "takeover") == 0;
    if (taken_over && c->taken_by_clean) {
        /* 3.1.2.5: taken over by a Clean Start 1 CONNECT, the session ends:
         * the will goes now, whatever its delay */
        delay = 0;
    } else if (delay && (taken_over || !s)) {
        /* a new connection to the session within the delay [MQTT-3.1.3-9] */
        msg_unref(&w);
        return;
    }
    if (!delay) {
        publish(b, &w, c->v5 ? c->v5->will_expiry : 0, cid, len, conn_username(c));
        return;
    }
    const char *user = conn_username(c);
    held_t *h = calloc(1, sizeof(*h) + len + 1);
    if (h) {
        memcpy(h->cid, cid, len);
        h->len = len;
        h->b = b;
        h->m = w;
        h->expiry_s = c->v5->will_expiry;
        h->username = user ? strdup(user) : NULL;
    }
    if (!h || (user && !h->username) || map_put(&b->wills, h->cid, len, h, NULL) < 0) {
        /* cannot hold it: published now rather than lost */
        if (h) {
            h->m = NULL;
            free(h->username);
            free(h);
        }
        publish(b, &w, c->v5->will_expiry, cid, len, user);
        return;
    }
    h->timer = loop_add_timer(b->loop, (uint64_t)delay * 1000u, on_delay, h);
    char qid[LOG_QUOTE_CAP];
    log_info("will_delayed", "client_id=%s delay_s=%u", log_quote(qid, sizeof(qid), cid, len), delay);
}

bool will_held(broker_t *b, const char *cid, size_t len)
{
    return map_get(&b->wills, cid, len) != NULL;
}

bool will_cancel(broker_t *b, const char *cid, size_t len)
{
    held_t *h = map_get(&b->wills, cid, len);
    if (!h)
        return false;
    map_del(&b->wills, cid, len);
    loop_del_timer(b->loop, h->timer);
    char qid[LOG_QUOTE_CAP];
    log_info("will_cancelled", "client_id=%s reason=reconnected", log_quote(qid, sizeof(qid), cid, len));
    held_free(h);
    return true;
}

void will_flush(broker_t *b)
{
    size_t it = 0;
    map_entry_t *e;
    while (b->wills.count && map_next(&b->wills, &it, &e)) {
        held_t *h = e->value;
        loop_del_timer(b->loop, h->timer);
        on_delay(b->loop, h); /* removes it from the map */
        it = 0;
    }
}

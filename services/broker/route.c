#include "route.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "mqtt/topic.h"
#include "session.h"

static void collect(void *sub, uint8_t options, void *ctx)
{
    broker_t *b = ctx;
    session_t *s = sub;
    uint8_t qos = options & 3;
    if ((options & SUBOPT_FILTERED) && s->acl &&
        !acl_check_deliver(s->acl, b->cur_topic, b->cur_topic_len))
        return; /* a deny entry overlapping this subscription covers the topic */
    if (s->stamp == b->stamp) {
        route_target_t *t = &b->targets[s->target_idx];
        if (qos > t->qos)
            t->qos = qos;
        return;
    }
    if (b->ntargets == b->captargets) {
        uint32_t n = b->captargets ? b->captargets * 2 : 64;
        route_target_t *p = realloc(b->targets, n * sizeof(*p));
        if (!p)
            return; /* fan-out truncated under OOM; counted below */
        b->targets = p;
        b->captargets = n;
    }
    s->stamp = b->stamp;
    s->target_idx = b->ntargets;
    b->targets[b->ntargets++] = (route_target_t){s, qos};
}

uint32_t route_match(broker_t *b, const char *topic, size_t len)
{
    b->stamp++;
    b->ntargets = 0;
    b->cur_topic = topic;
    b->cur_topic_len = len;
    subtrie_match(b->trie, topic, len, collect, b);
    return b->ntargets;
}

void route_deliver(broker_t *b, msg_t *m)
{
    for (uint32_t i = 0; i < b->ntargets; i++) {
        route_target_t *t = &b->targets[i];
        uint8_t qos = t->qos < m->qos ? t->qos : m->qos;
        session_deliver(b, t->sess, m, qos, false);
    }
}

void route_publish(broker_t *b, msg_t *m)
{
    if (route_match(b, msg_topic(m), m->topic_len))
        route_deliver(b, m);
}

void route_retain(broker_t *b, msg_t *m)
{
    void *old = NULL;
    if (m->payload_len == 0) {
        old = map_del(&b->retained, msg_topic(m), m->topic_len);
    } else {
        if (!map_get(&b->retained, msg_topic(m), m->topic_len) &&
            b->retained.count >= (size_t)b->cfg->max_retained) {
            b->stats.dropped_retained++;
            log_warn("retained_limit", "topic=%.*s max_retained=%lld", (int)m->topic_len,
                     msg_topic(m), (long long)b->cfg->max_retained);
            return;
        }
        if (map_put(&b->retained, msg_topic(m), m->topic_len, msg_ref(m), &old) < 0) {
            msg_unref(&m);
            return;
        }
    }
    msg_t *o = old;
    msg_unref(&o);
}

void route_send_retained(broker_t *b, session_t *s, const char *filter, size_t len, uint8_t qos)
{
    bool filtered = qos & SUBOPT_FILTERED;
    qos &= 3;
    if (!topic_has_wildcard(filter, len)) {
        msg_t *m = map_get(&b->retained, filter, len);
        if (m && (!filtered || acl_check_deliver(s->acl, msg_topic(m), m->topic_len)))
            session_deliver(b, s, m, m->qos < qos ? m->qos : qos, true);
        return;
    }
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&b->retained, &it, &e)) {
        msg_t *m = e->value;
        if (topic_match(filter, len, msg_topic(m), m->topic_len) &&
            (!filtered || acl_check_deliver(s->acl, msg_topic(m), m->topic_len)))
            session_deliver(b, s, m, m->qos < qos ? m->qos : qos, true);
    }
}

void route_fini(broker_t *b)
{
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&b->retained, &it, &e)) {
        msg_t *m = e->value;
        msg_unref(&m);
    }
    map_fini(&b->retained);
}

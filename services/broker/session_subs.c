/* The subscriptions of a session (session.h): the list, its place in
 * routing (the trie, the bus interest, shared groups), and the questions
 * asked of it (matching Subscription Identifiers, whether a topic is still
 * wanted, Retain As Published for a queued message).
 *
 * A subscription with a 5.0 Subscription Identifier is entered in the trie
 * as its subref_t (session.h), flagged SUBOPT_SUBID, so routing learns the
 * identifier of each subscription that matched where it matches them,
 * without a second pass over the session's list [MQTT-3.3.4-3]. Its filter
 * is the subref's own copy (one allocation); any other subscription is
 * entered as the session itself and owns a plain copy of its filter. */
#include "session.h"
#include "session_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cluster.h"
#include "mqtt/share.h"
#include "mqtt/subtrie.h"
#include "mqtt/topic.h"
#include "shared.h"

static subref_t *ref_of(const sub_entry_t *e)
{
    return e->subid ? (subref_t *)(void *)(e->filter - offsetof(subref_t, filter)) : NULL;
}

/* A copy of filter for a subscription of s with identifier subid: a
 * subref_t's when subid is not 0. NULL on OOM. */
static char *filter_copy(session_t *s, const char *filter, size_t len, uint32_t subid)
{
    char *f;
    if (subid) {
        subref_t *r = malloc(sizeof(*r) + len + 1);
        if (!r)
            return NULL;
        r->sess = s;
        r->subid = subid;
        f = r->filter;
    } else if (!(f = malloc(len + 1))) {
        return NULL;
    }
    memcpy(f, filter, len);
    f[len] = '\0';
    return f;
}

void session_sub_free(sub_entry_t *e)
{
    subref_t *r = ref_of(e);
    if (r)
        free(r);
    else
        free(e->filter);
    e->filter = NULL;
}

int session_sub_attach(broker_t *b, session_t *s, const sub_entry_t *e, bool fresh)
{
    if (share_is(e->filter, e->len))
        return b->shared ? shared_join(b->shared, s, e->filter, e->len, e->qos) : ROOST_EPROTO_TOPIC;
    subref_t *r = ref_of(e);
    int rc = r ? subtrie_add(b->trie, e->filter, e->len, r, e->qos | SUBOPT_SUBID, NULL)
               : subtrie_add(b->trie, e->filter, e->len, s, e->qos, NULL);
    if (rc == 0 && fresh && b->cluster)
        cluster_interest(b->cluster, e->filter, e->len, true);
    return rc;
}

/* Out of the trie (or the shared group); gone: the bus interest too. */
static void detach(broker_t *b, session_t *s, const sub_entry_t *e, bool gone)
{
    if (share_is(e->filter, e->len)) {
        if (b->shared && gone)
            shared_leave(b->shared, s, e->filter, e->len);
        return;
    }
    subref_t *r = ref_of(e);
    subtrie_remove(b->trie, e->filter, e->len, r ? (void *)r : (void *)s);
    if (b->cluster && gone)
        cluster_interest(b->cluster, e->filter, e->len, false);
}

void session_sub_detach(broker_t *b, session_t *s, const sub_entry_t *e)
{
    detach(b, s, e, true);
}

int session_subscribe(broker_t *b, session_t *s, const char *filter, size_t len, uint8_t qos)
{
    return session_subscribe5(b, s, filter, len, qos, 0, NULL);
}

static void note_subid(session_t *s, uint32_t subid)
{
    if (subid) {
        s->has_subids = true;
        return;
    }
    s->has_subids = false;
    for (uint32_t i = 0; i < s->nsubs && !s->has_subids; i++)
        s->has_subids = s->subs[i].subid != 0;
}

size_t session_subids(const session_t *s, const char *topic, size_t len, bool own, uint32_t *ids,
                      size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < s->nsubs && n < cap; i++) {
        const sub_entry_t *e = &s->subs[i];
        /* a shared subscription's copies are its own, carrying its
         * identifier alone (out_entry_t.shared) [MQTT-3.3.4-5] */
        if (!e->subid || (own && (e->qos & SUBOPT_NO_LOCAL)) || share_is(e->filter, e->len))
            continue;
        const char *f;
        size_t fl;
        share_inner(e->filter, e->len, &f, &fl);
        if (topic_match(f, fl, topic, len))
            ids[n++] = e->subid;
    }
    return n;
}

uint32_t session_share_subid(const session_t *s, const char *name, size_t name_len,
                             const char *filter, size_t filter_len)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        const sub_entry_t *e = &s->subs[i];
        share_filter_t sf;
        if (e->subid && share_is(e->filter, e->len) && share_parse(e->filter, e->len, &sf) == 1 &&
            sf.name_len == name_len && memcmp(sf.name, name, name_len) == 0 &&
            sf.filter_len == filter_len && memcmp(sf.filter, filter, filter_len) == 0)
            return e->subid;
    }
    return 0;
}

/* An existing subscription e takes new options and identifier
 * [MQTT-3.8.4-3]. Its trie entry is the session or its subref: when the
 * identifier comes or goes, the entry is replaced (the bus interest, per
 * subscription, stays). */
static int resubscribe(broker_t *b, session_t *s, sub_entry_t *e, uint8_t qos, uint32_t subid)
{
    bool shared = share_is(e->filter, e->len);
    if (!e->subid == !subid) {
        if (e->subid)
            ref_of(e)->subid = subid;
        e->subid = subid;
        e->qos = qos;
        return session_sub_attach(b, s, e, false);
    }
    char *f = filter_copy(s, e->filter, e->len, subid);
    if (!f)
        return -ENOMEM;
    sub_entry_t n = {f, e->len, qos, subid};
    if (!shared) {
        int rc = session_sub_attach(b, s, &n, false);
        if (rc) {
            session_sub_free(&n);
            return rc;
        }
        detach(b, s, e, false);
    }
    session_sub_free(e);
    *e = n;
    return shared ? session_sub_attach(b, s, e, false) : 0;
}

int session_subscribe5(broker_t *b, session_t *s, const char *filter, size_t len, uint8_t qos,
                       uint32_t subid, bool *existed)
{
    /* qos carries the options byte: QoS, 5.0 options, SUBOPT_FILTERED */
    if (existed)
        *existed = false;
    for (uint32_t i = 0; i < s->nsubs; i++) {
        if (s->subs[i].len == len && memcmp(s->subs[i].filter, filter, len) == 0) {
            if (existed)
                *existed = true;
            /* [MQTT-3.8.4-3]: replace the subscription, options and identifier too */
            int rc = resubscribe(b, s, &s->subs[i], qos, subid);
            note_subid(s, subid);
            return rc;
        }
    }
    if (s->nsubs == s->capsubs) {
        uint32_t n = s->capsubs ? s->capsubs * 2 : 2;
        sub_entry_t *p = realloc(s->subs, n * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->subs = p;
        s->capsubs = n;
    }
    char *copy = filter_copy(s, filter, len, subid);
    if (!copy)
        return -ENOMEM;
    sub_entry_t e = {copy, (uint16_t)len, qos, subid};
    int rc = session_sub_attach(b, s, &e, true);
    if (rc) {
        session_sub_free(&e);
        return rc;
    }
    s->subs[s->nsubs++] = e;
    if (subid)
        s->has_subids = true;
    return 0;
}

int session_unsubscribe(broker_t *b, session_t *s, const char *filter, size_t len)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        if (s->subs[i].len == len && memcmp(s->subs[i].filter, filter, len) == 0) {
            session_sub_detach(b, s, &s->subs[i]);
            uint32_t subid = s->subs[i].subid;
            session_sub_free(&s->subs[i]);
            s->subs[i] = s->subs[--s->nsubs];
            if (subid)
                note_subid(s, 0);
            return 0;
        }
    }
    return ROOST_ENOTFOUND;
}

bool session_wants(const session_t *s, const char *topic, size_t len)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        const sub_entry_t *e = &s->subs[i];
        const char *f;
        size_t fl;
        share_inner(e->filter, e->len, &f, &fl); /* a shared one matches with its filter */
        if (topic_match(f, fl, topic, len) &&
            (!(e->qos & SUBOPT_FILTERED) || !s->acl || acl_check_deliver(s->acl, topic, len)))
            return true;
    }
    return false;
}

bool session_queued_retain(const session_t *s, const char *topic, size_t len, bool retain)
{
    for (uint32_t i = 0; i < s->nsubs && retain; i++) {
        const sub_entry_t *e = &s->subs[i];
        if ((e->qos & SUBOPT_RAP) && topic_match(e->filter, e->len, topic, len))
            return true;
    }
    return false;
}

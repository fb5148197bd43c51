/* acl: ACL compilation and matching. See acl.h for the contract.
 *
 * Memory: a matcher is one block, the header, then n compact rules (8 bytes
 * each), then the substituted filters packed back to back without NULs:
 *
 *   [ n | n_deny | flags ][ rule 0 ][ rule 1 ]...[ "a/b/#" "dev/alice/+" ... ]
 *
 * A broker holds one per connected device (15,000+), so nothing else is
 * allocated and a rule stores an offset, not a pointer. Deny rules come first
 * so acl_check_publish can stop at the first allow match once every deny has
 * been ruled out, and acl_check_deliver only walks the deny prefix.
 */
#include "acl/acl.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/share.h"
#include "mqtt/topic.h"

#define ACL_TOPIC_MAX 65535u

enum {
    RULE_DENY = 1u << 0,
    RULE_PUB = 1u << 1,
    RULE_SUB = 1u << 2,
    RULE_WILD = 1u << 3, /* filter has '+' or '#'; else compare bytes */
};

struct acl_rule {
    uint32_t off; /* into the string area */
    uint16_t len; /* 1..65535: a valid filter */
    uint8_t flags;
};

struct acl_matcher {
    uint32_t n;
    uint32_t n_deny;
    bool has_sub_deny; /* any rule with RULE_DENY | RULE_SUB */
    struct acl_rule rules[];
    /* followed by the string area */
};

static const char *strings(const acl_matcher_t *m)
{
    return (const char *)&m->rules[m->n];
}

/* ---- levels ------------------------------------------------------------ */

/* A level is the possibly empty run of bytes between separators; "a//b" has
 * the levels "a", "", "b". The iterator is exhausted once pos > len. */
typedef struct level {
    const char *p;
    size_t n;
} level_t;

typedef struct level_iter {
    const char *s;
    size_t len;
    size_t pos;
} level_iter_t;

static bool level_next(level_iter_t *it, level_t *out)
{
    if (it->pos > it->len)
        return false;
    size_t rest = it->len - it->pos;
    const char *slash = rest ? memchr(it->s + it->pos, '/', rest) : NULL;
    size_t end = slash ? (size_t)(slash - it->s) : it->len;
    out->p = it->s + it->pos;
    out->n = end - it->pos;
    it->pos = end + 1;
    return true;
}

static bool level_more(const level_iter_t *it)
{
    return it->pos <= it->len;
}

static bool is_hash(level_t l)
{
    return l.n == 1 && l.p[0] == '#';
}

static bool is_plus(level_t l)
{
    return l.n == 1 && l.p[0] == '+';
}

static bool is_wild(level_t l)
{
    return is_hash(l) || is_plus(l);
}

/* A literal first level starting with '$': only literal filters reach such
 * topics [MQTT-4.7.2-1]. */
static bool is_dollar(level_t l)
{
    return l.n > 0 && l.p[0] == '$';
}

static bool level_eq(level_t a, level_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* ---- filter algebra ----------------------------------------------------- */

/* Coverage, level by level. A filter F = f1/.../fk matches a topic
 * t1/.../tm (m >= 1) when each fi equals ti or is '+', and m == k; or when
 * fk is '#', the first k-1 levels match and m >= k-1 ("a/#" matches "a").
 * A topic name is never empty, so the one-level topic "" does not exist: "#"
 * has no parent topic, and neither has "/#" (its parent would be "").
 * `cover` covers `sub` when every topic sub matches, cover matches too.
 * Walking both filters at level i, with the earlier levels already covered:
 *   - cover '#': whatever sub does from here on, cover accepts it.
 *   - sub '#' (cover is not '#'): sub matches any level i and deeper, plus
 *     the parent topic (ending at level i-1) when it exists. A literal can't
 *     take any level i; '+' can, and with a last '#' after it takes deeper
 *     levels too, but never the parent. So: covered iff cover is '+' then a
 *     last '#' and sub has no parent here ("#" is the same set as "+/#").
 *   - sub '+': only cover '+' takes every value; a literal takes one.
 *   - sub literal: cover '+' or the same literal.
 * Then lengths: both end: covered. Sub ends, cover goes on: only a last '#'
 * in cover also takes the parent topic. Cover ends, sub goes on: sub matches
 * longer topics that cover does not.
 * The '$' rule is settled up front: a wildcard first level in cover misses
 * every topic of a sub whose first level is a literal starting with '$'; a
 * wildcard first level in sub never reaches '$' topics at all. */
bool acl_filter_covers(const char *cover, size_t cover_len, const char *sub, size_t sub_len)
{
    level_iter_t ia = {cover, cover_len, 0}, is = {sub, sub_len, 0};
    level_t a, s;
    level_next(&ia, &a);
    level_next(&is, &s);
    if (is_wild(a) && is_dollar(s))
        return false;
    bool s1_empty = s.n == 0;
    for (size_t i = 1;; i++) {
        if (is_hash(a))
            return true;
        if (is_hash(s)) {
            bool has_parent = i >= 3 || (i == 2 && !s1_empty);
            if (has_parent || !is_plus(a) || !level_next(&ia, &a))
                return false;
            return is_hash(a) && !level_more(&ia);
        }
        if (is_plus(s) && !is_plus(a))
            return false;
        if (!is_plus(a) && !level_eq(a, s))
            return false;
        bool amore = level_next(&ia, &a);
        bool smore = level_next(&is, &s);
        if (!smore)
            return !amore || (is_hash(a) && !level_more(&ia));
        if (!amore)
            return false;
    }
}

/* Overlap, level by level: is there one topic both filters match? At level
 * i, with the earlier levels compatible:
 *   - either is '#': yes, take the other filter's own topic from here on
 *     (a '+' becomes any non-empty literal, a '#' one more level), which
 *     '#' accepts at any depth.
 *   - two literals must be equal; '+' agrees with anything.
 * Then lengths: both end: yes. One ends: only if the other's next (last)
 * level is '#', which matches the parent topic ("a" and "a/#") -- unless
 * that topic would be "", which is not a topic: "+" and "/#" share nothing.
 * The '$' rule up front: a wildcard first level never meets a literal first
 * level starting with '$'. Two wildcard first levels agree on a plain
 * topic, so '$' does not matter for them. */
bool acl_filter_overlaps(const char *a_s, size_t a_len, const char *b_s, size_t b_len)
{
    level_iter_t ia = {a_s, a_len, 0}, ib = {b_s, b_len, 0};
    level_t a, b;
    level_next(&ia, &a);
    level_next(&ib, &b);
    if ((is_wild(a) && is_dollar(b)) || (is_wild(b) && is_dollar(a)))
        return false;
    for (bool first = true;; first = false) {
        if (is_hash(a) || is_hash(b))
            return true;
        if (!is_plus(a) && !is_plus(b) && !level_eq(a, b))
            return false;
        /* a one-level topic made of this level would be empty */
        bool empty_topic = first && (a.n == 0 || b.n == 0);
        bool amore = level_next(&ia, &a);
        bool bmore = level_next(&ib, &b);
        if (!amore && !bmore)
            return true;
        if (!amore)
            return is_hash(b) && !empty_topic;
        if (!bmore)
            return is_hash(a) && !empty_topic;
    }
}

int acl_check_entry_topic(const char *filter, size_t len)
{
    if (filter == NULL || topic_check_filter(filter, len) != 0)
        return ROOST_EINVAL;
    return 0;
}

/* ---- compile ------------------------------------------------------------ */

/* A value usable in place of "%u"/"%c": present, non-empty, no '+', '#' or
 * '/'. `first_ok` additionally allows it as the first level (no '$'). */
typedef struct subst_value {
    acl_str_t v;
    bool ok;
    bool first_ok;
} subst_value_t;

static subst_value_t subst_value(acl_str_t v)
{
    subst_value_t sv = {v, false, false};
    if (v.ptr == NULL || v.len == 0)
        return sv;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (c == '+' || c == '#' || c == '/')
            return sv;
    }
    sv.ok = true;
    sv.first_ok = v.ptr[0] != '$';
    return sv;
}

/* Substitutes "%u"/"%c" levels of a valid filter. Writes to dst when it is
 * not NULL (the caller measured first); sets *out_len. 0 or ACL_ESUBST. */
static int substitute(acl_str_t topic, const subst_value_t *user, const subst_value_t *cid,
                      char *dst, size_t *out_len)
{
    level_iter_t it = {topic.ptr, topic.len, 0};
    level_t l;
    size_t len = 0;
    for (bool first = true; level_next(&it, &l); first = false) {
        const subst_value_t *sv = NULL;
        if (l.n == 2 && l.p[0] == '%' && l.p[1] == 'u')
            sv = user;
        else if (l.n == 2 && l.p[0] == '%' && l.p[1] == 'c')
            sv = cid;
        if (sv != NULL && (!sv->ok || (first && !sv->first_ok)))
            return ACL_ESUBST;
        level_t piece = sv ? (level_t){sv->v.ptr, sv->v.len} : l;
        size_t sep = first ? 0 : 1;
        if (piece.n + sep > ACL_TOPIC_MAX - len)
            return ACL_ESUBST; /* the value made the filter too long */
        if (dst != NULL) {
            if (sep)
                dst[len] = '/';
            if (piece.n)
                memcpy(dst + len + sep, piece.p, piece.n);
        }
        len += sep + piece.n;
    }
    *out_len = len;
    return 0;
}

static int check_entry(const acl_entry_t *e)
{
    if (e->permission != ACL_ALLOW && e->permission != ACL_DENY)
        return ROOST_EINVAL;
    if (e->action != ACL_PUBLISH && e->action != ACL_SUBSCRIBE && e->action != ACL_BOTH)
        return ROOST_EINVAL;
    return acl_check_entry_topic(e->topic.ptr, e->topic.len);
}

static uint8_t rule_flags(const acl_entry_t *e, const char *s, size_t len)
{
    uint8_t f = 0;
    if (e->permission == ACL_DENY)
        f |= RULE_DENY;
    if (e->action & ACL_PUBLISH)
        f |= RULE_PUB;
    if (e->action & ACL_SUBSCRIBE)
        f |= RULE_SUB;
    if (topic_has_wildcard(s, len))
        f |= RULE_WILD;
    return f;
}

/* Copies entries whose deny-ness is `deny` into m, in input order, starting
 * at rule *idx and string offset *off. Entries were checked and measured. */
static void fill(acl_matcher_t *m, const acl_entry_t *entries, size_t n, bool deny,
                 const subst_value_t *user, const subst_value_t *cid, uint32_t *idx, size_t *off)
{
    char *area = (char *)strings(m);
    for (size_t i = 0; i < n; i++) {
        const acl_entry_t *e = &entries[i];
        if ((e->permission == ACL_DENY) != deny)
            continue;
        size_t len = 0;
        int rc = substitute(e->topic, user, cid, area + *off, &len);
        assert(rc == 0);
        (void)rc;
        assert(topic_check_filter(area + *off, len) == 0);
        struct acl_rule *r = &m->rules[(*idx)++];
        r->off = (uint32_t)*off;
        r->len = (uint16_t)len;
        r->flags = rule_flags(e, area + *off, len);
        if ((r->flags & RULE_DENY) && (r->flags & RULE_SUB))
            m->has_sub_deny = true;
        *off += len;
    }
}

int acl_compile(const acl_entry_t *entries, size_t n, acl_str_t username, acl_str_t client_id,
                acl_matcher_t **out)
{
    *out = NULL;
    if (n > 0 && entries == NULL)
        return ROOST_EINVAL;
    if (n > UINT32_MAX)
        return ROOST_ELIMIT;
    subst_value_t user = subst_value(username), cid = subst_value(client_id);

    /* Pass 1: validate and measure. */
    size_t total = 0;
    uint32_t n_deny = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_entry(&entries[i]);
        if (rc != 0)
            return rc;
        size_t len = 0;
        rc = substitute(entries[i].topic, &user, &cid, NULL, &len);
        if (rc != 0)
            return rc;
        if (len > UINT32_MAX - total)
            return ROOST_ELIMIT;
        total += len;
        if (entries[i].permission == ACL_DENY)
            n_deny++;
    }

    size_t head = sizeof(acl_matcher_t) + n * sizeof(struct acl_rule);
    if (total > SIZE_MAX - head)
        return ROOST_ELIMIT;
    acl_matcher_t *m = malloc(head + total);
    if (m == NULL)
        return -ENOMEM;
    m->n = (uint32_t)n;
    m->n_deny = n_deny;
    m->has_sub_deny = false;

    /* Pass 2: deny rules, then allow rules. */
    uint32_t idx = 0;
    size_t off = 0;
    fill(m, entries, n, true, &user, &cid, &idx, &off);
    fill(m, entries, n, false, &user, &cid, &idx, &off);
    assert(idx == m->n && off == total);
    *out = m;
    return 0;
}

void acl_destroy(acl_matcher_t **m)
{
    if (m == NULL)
        return;
    free(*m);
    *m = NULL;
}

/* ---- decisions ---------------------------------------------------------- */

static bool rule_match(const acl_matcher_t *m, const struct acl_rule *r, const char *topic,
                       size_t len)
{
    const char *f = strings(m) + r->off;
    if (!(r->flags & RULE_WILD))
        return r->len == len && memcmp(f, topic, len) == 0;
    return topic_match(f, r->len, topic, len);
}

bool acl_check_publish(const acl_matcher_t *m, const char *topic, size_t len)
{
    if (topic_check_name(topic, len) != 0)
        return false;
    for (uint32_t i = 0; i < m->n_deny; i++) {
        const struct acl_rule *r = &m->rules[i];
        if ((r->flags & RULE_PUB) && rule_match(m, r, topic, len))
            return false;
    }
    for (uint32_t i = m->n_deny; i < m->n; i++) {
        const struct acl_rule *r = &m->rules[i];
        if ((r->flags & RULE_PUB) && rule_match(m, r, topic, len))
            return true;
    }
    return false;
}

acl_sub_result_t acl_check_subscribe(const acl_matcher_t *m, const char *filter, size_t len)
{
    share_filter_t sf;
    int shared = share_parse(filter, len, &sf);
    if (shared < 0)
        return ACL_SUB_DENIED;
    if (shared) { /* the filter decides, never the "$share/name/" prefix */
        filter = sf.filter;
        len = sf.filter_len;
    }
    if (topic_check_filter(filter, len) != 0)
        return ACL_SUB_DENIED;
    const char *area = strings(m);
    bool covered = false;
    for (uint32_t i = m->n_deny; i < m->n && !covered; i++) {
        const struct acl_rule *r = &m->rules[i];
        covered = (r->flags & RULE_SUB) && acl_filter_covers(area + r->off, r->len, filter, len);
    }
    if (!covered)
        return ACL_SUB_DENIED;
    acl_sub_result_t res = ACL_SUB_GRANTED;
    for (uint32_t i = 0; i < m->n_deny; i++) {
        const struct acl_rule *r = &m->rules[i];
        if (!(r->flags & RULE_SUB))
            continue;
        if (acl_filter_covers(area + r->off, r->len, filter, len))
            return ACL_SUB_DENIED;
        if (acl_filter_overlaps(area + r->off, r->len, filter, len))
            res = ACL_SUB_GRANTED_FILTERED;
    }
    return res;
}

bool acl_check_deliver(const acl_matcher_t *m, const char *topic, size_t len)
{
    if (!m->has_sub_deny)
        return true;
    for (uint32_t i = 0; i < m->n_deny; i++) {
        const struct acl_rule *r = &m->rules[i];
        if ((r->flags & RULE_SUB) && rule_match(m, r, topic, len))
            return false;
    }
    return true;
}

size_t acl_count(const acl_matcher_t *m)
{
    return m->n;
}

int acl_get(const acl_matcher_t *m, size_t i, acl_entry_t *out)
{
    if (i >= m->n)
        return ROOST_EINVAL;
    const struct acl_rule *r = &m->rules[i];
    out->permission = (r->flags & RULE_DENY) ? ACL_DENY : ACL_ALLOW;
    out->action = (acl_action_t)(((r->flags & RULE_PUB) ? ACL_PUBLISH : 0) |
                                 ((r->flags & RULE_SUB) ? ACL_SUBSCRIBE : 0));
    out->topic.ptr = strings(m) + r->off;
    out->topic.len = r->len;
    return 0;
}

/* fuzz: roost_acl roost_mqtt */
/* Fuzzes lib/acl/acl.c: acl_compile never crashes or leaks, and agrees with
 * a straightforward re-implementation:
 *   - the return code and the compiled (substituted) filters match an
 *     independent %u/%c substitution, in compiled order (denies first);
 *   - acl_check_publish and acl_check_deliver agree with brute force over
 *     the compiled entries (acl_get + topic_match);
 *   - acl_check_subscribe agrees with brute force over the entries using the
 *     filter algebra (for "$share/name/filter", over its filter), and the algebra agrees with topic_match on every probe
 *     topic: "covers" => every probe the sub filter matches, the cover
 *     matches; "no overlap" => no probe matches both.
 * Input: byte 0 = flags (bit 0: no username, bit 1: no client id), then
 * lines split on '\n': username, client id, then one entry per line, whose
 * first byte gives the permission (bit 0) and action (bits 1.., mod 3) and
 * the rest is the topic. Every line is also a probe topic and filter, and
 * each compiled filter is instantiated into a few probe topics. Every string
 * handed to the library sits in its own exact-size heap block.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "mqtt/share.h"
#include "mqtt/topic.h"

/* Not assert(): release builds define NDEBUG, and these checks are the point. */
#define CHECK(x)                                                                   \
    do {                                                                           \
        if (!(x))                                                                  \
            __builtin_trap();                                                      \
    } while (0)

#define MAX_LINES 24
#define MAX_PROBES 128
#define TOPIC_MAX 65535u

typedef struct view {
    char *p; /* exact-size heap copy (NULL for an absent value) */
    size_t n;
} view_t;

static view_t dup_view(const uint8_t *p, size_t n)
{
    view_t v = {malloc(n ? n : 1), n};
    CHECK(v.p != NULL);
    if (n)
        memcpy(v.p, p, n);
    return v;
}

/* ---- independent substitution ---------------------------------------------- */

static bool value_ok(const view_t *v, bool first)
{
    if (v->p == NULL || v->n == 0)
        return false;
    if (first && v->p[0] == '$')
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (v->p[i] == '+' || v->p[i] == '#' || v->p[i] == '/')
            return false;
    return true;
}

/* Expected compile outcome of one entry: 0 with the substituted filter in
 * *out (caller frees), ROOST_EINVAL or ACL_ESUBST. */
static int expect_entry(const acl_entry_t *e, const view_t *user, const view_t *cid, view_t *out)
{
    if (topic_check_filter(e->topic.ptr, e->topic.len) != 0)
        return ROOST_EINVAL;
    /* worst case every byte pair becomes a value; bound by the limit + 1 */
    size_t cap = TOPIC_MAX + 1, len = 0;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    const char *s = e->topic.ptr;
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i <= e->topic.len && rc == 0; i++) {
        if (i < e->topic.len && s[i] != '/')
            continue;
        const char *lp = s + start;
        size_t ln = i - start;
        const view_t *v = NULL;
        if (ln == 2 && lp[0] == '%' && lp[1] == 'u')
            v = user;
        if (ln == 2 && lp[0] == '%' && lp[1] == 'c')
            v = cid;
        if (v && !value_ok(v, start == 0)) {
            rc = ACL_ESUBST;
            break;
        }
        if (v) {
            lp = v->p;
            ln = v->n;
        }
        size_t add = ln + (start ? 1 : 0);
        if (len + add > TOPIC_MAX) {
            rc = ACL_ESUBST;
            break;
        }
        if (start)
            buf[len] = '/';
        if (ln)
            memcpy(buf + len + (start ? 1 : 0), lp, ln);
        len += add;
        start = i + 1;
    }
    if (rc != 0) {
        free(buf);
        return rc;
    }
    out->p = buf;
    out->n = len;
    return 0;
}

/* ---- probes ------------------------------------------------------------------ */

typedef struct probes {
    view_t v[MAX_PROBES];
    size_t n;
} probes_t;

static void probe_add(probes_t *ps, const char *p, size_t n)
{
    if (ps->n < MAX_PROBES && n <= TOPIC_MAX)
        ps->v[ps->n++] = dup_view((const uint8_t *)p, n);
}

/* Turns a filter into a topic: '+' -> plus_val, '#' -> dropped with its
 * separator (the parent) or "x/y" (deeper). */
static void probe_instantiate(probes_t *ps, const char *f, size_t n, const char *plus_val,
                              bool hash_parent)
{
    size_t cap = n * 4 + 8, len = 0;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    for (size_t i = 0; i < n; i++) {
        bool lvl_start = i == 0 || f[i - 1] == '/';
        bool lvl_end = i + 1 == n || f[i + 1] == '/';
        if (f[i] == '+' && lvl_start && lvl_end) {
            size_t pl = strlen(plus_val);
            memcpy(buf + len, plus_val, pl);
            len += pl;
        } else if (f[i] == '#' && lvl_start && lvl_end) {
            if (hash_parent) {
                if (len > 0)
                    len--; /* drop the '/' before '#' */
            } else {
                memcpy(buf + len, "x/y", 3);
                len += 3;
            }
        } else {
            buf[len++] = f[i];
        }
    }
    probe_add(ps, buf, len);
    free(buf);
}

static void probes_free(probes_t *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->v[i].p);
    ps->n = 0;
}

/* ---- brute force over the compiled entries ----------------------------------- */

static bool brute_publish(const acl_matcher_t *m, const view_t *t)
{
    bool allowed = false;
    for (size_t i = 0; i < acl_count(m); i++) {
        acl_entry_t e;
        CHECK(acl_get(m, i, &e) == 0);
        if (!(e.action & ACL_PUBLISH) || !topic_match(e.topic.ptr, e.topic.len, t->p, t->n))
            continue;
        if (e.permission == ACL_DENY)
            return false;
        allowed = true;
    }
    return allowed;
}

static bool brute_deliver(const acl_matcher_t *m, const view_t *t)
{
    for (size_t i = 0; i < acl_count(m); i++) {
        acl_entry_t e;
        CHECK(acl_get(m, i, &e) == 0);
        if (e.permission == ACL_DENY && (e.action & ACL_SUBSCRIBE) &&
            topic_match(e.topic.ptr, e.topic.len, t->p, t->n))
            return false;
    }
    return true;
}

/* The algebra against topic_match on every probe topic. */
static void check_algebra(const acl_entry_t *e, const view_t *f, const probes_t *ps)
{
    bool cov = acl_filter_covers(e->topic.ptr, e->topic.len, f->p, f->n);
    bool ov = acl_filter_overlaps(e->topic.ptr, e->topic.len, f->p, f->n);
    CHECK(ov == acl_filter_overlaps(f->p, f->n, e->topic.ptr, e->topic.len));
    for (size_t k = 0; k < ps->n; k++) {
        const view_t *t = &ps->v[k];
        if (topic_check_name(t->p, t->n) != 0)
            continue;
        bool mf = topic_match(f->p, f->n, t->p, t->n);
        bool me = topic_match(e->topic.ptr, e->topic.len, t->p, t->n);
        if (cov && mf)
            CHECK(me);
        if (!ov)
            CHECK(!(mf && me));
    }
}

static acl_sub_result_t brute_subscribe(const acl_matcher_t *m, const view_t *f,
                                        const probes_t *ps)
{
    bool covered = false, filtered = false, denied = false;
    for (size_t i = 0; i < acl_count(m); i++) {
        acl_entry_t e;
        CHECK(acl_get(m, i, &e) == 0);
        if (!(e.action & ACL_SUBSCRIBE))
            continue;
        check_algebra(&e, f, ps);
        bool cov = acl_filter_covers(e.topic.ptr, e.topic.len, f->p, f->n);
        if (e.permission == ACL_ALLOW) {
            covered |= cov;
        } else if (cov) {
            denied = true;
        } else if (acl_filter_overlaps(e.topic.ptr, e.topic.len, f->p, f->n)) {
            filtered = true;
        }
    }
    if (!covered || denied)
        return ACL_SUB_DENIED;
    return filtered ? ACL_SUB_GRANTED_FILTERED : ACL_SUB_GRANTED;
}

/* ---- driver -------------------------------------------------------------------- */

static void check_matcher(const acl_matcher_t *m, const view_t *lines, size_t nlines)
{
    probes_t *ps = calloc(1, sizeof *ps);
    CHECK(ps != NULL);
    for (size_t i = 0; i < nlines; i++)
        probe_add(ps, lines[i].p, lines[i].n);
    for (size_t i = 0; i < acl_count(m); i++) {
        acl_entry_t e;
        CHECK(acl_get(m, i, &e) == 0);
        probe_instantiate(ps, e.topic.ptr, e.topic.len, "x", true);
        probe_instantiate(ps, e.topic.ptr, e.topic.len, "", false);
        probe_instantiate(ps, e.topic.ptr, e.topic.len, "$x", true);
    }
    for (size_t k = 0; k < ps->n; k++) {
        const view_t *t = &ps->v[k];
        CHECK(acl_check_publish(m, t->p, t->n) ==
              (topic_check_name(t->p, t->n) == 0 && brute_publish(m, t)));
        if (topic_check_name(t->p, t->n) == 0)
            CHECK(acl_check_deliver(m, t->p, t->n) == brute_deliver(m, t));
    }
    /* probe filters: the raw lines and the compiled filters */
    for (size_t k = 0; k < nlines + acl_count(m); k++) {
        view_t f;
        if (k < nlines) {
            f = lines[k];
        } else {
            acl_entry_t e;
            CHECK(acl_get(m, k - nlines, &e) == 0);
            f = dup_view((const uint8_t *)e.topic.ptr, e.topic.len);
        }
        acl_sub_result_t r = acl_check_subscribe(m, f.p, f.n);
        /* a shared subscription is decided on its filter, never on the
         * "$share/name/" prefix; a malformed "$share/" string is denied */
        share_filter_t sf;
        int shared = share_parse(f.p, f.n, &sf);
        view_t g = shared > 0 ? (view_t){(char *)sf.filter, sf.filter_len} : f;
        if (shared < 0 || topic_check_filter(g.p, g.n) != 0)
            CHECK(r == ACL_SUB_DENIED);
        else
            CHECK(r == brute_subscribe(m, &g, ps));
        if (k >= nlines)
            free(f.p);
    }
    probes_free(ps);
    free(ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    view_t lines[MAX_LINES];
    size_t nlines = 0, start = 1;
    for (size_t i = 1; i <= size && nlines < MAX_LINES; i++) {
        if (i == size || data[i] == '\n') {
            lines[nlines++] = dup_view(data + start, i - start);
            start = i + 1;
        }
    }
    view_t none = {NULL, 0};
    view_t user = nlines > 0 && !(flags & 1) ? lines[0] : none;
    view_t cid = nlines > 1 && !(flags & 2) ? lines[1] : none;

    size_t n = nlines > 2 ? nlines - 2 : 0;
    acl_entry_t entries[MAX_LINES];
    for (size_t i = 0; i < n; i++) {
        const view_t *l = &lines[i + 2];
        uint8_t c = l->n ? (uint8_t)l->p[0] : 0;
        entries[i].permission = (c & 1) ? ACL_DENY : ACL_ALLOW;
        entries[i].action = (acl_action_t)(((c >> 1) % 3) + 1);
        entries[i].topic = (acl_str_t){l->n ? l->p + 1 : l->p, l->n ? l->n - 1 : 0};
    }

    /* Expected outcome, entry by entry in input order. */
    view_t want[MAX_LINES];
    int want_rc = 0;
    size_t nwant = 0;
    for (size_t i = 0; i < n && want_rc == 0; i++) {
        want_rc = expect_entry(&entries[i], &user, &cid, &want[i]);
        if (want_rc == 0)
            nwant++;
    }

    acl_matcher_t *m = (acl_matcher_t *)&flags;
    int rc = acl_compile(entries, n, (acl_str_t){user.p, user.n}, (acl_str_t){cid.p, cid.n}, &m);
    CHECK(rc == want_rc);
    if (rc != 0) {
        CHECK(m == NULL);
    } else {
        CHECK(m != NULL && acl_count(m) == n);
        /* compiled order: denies, then allows, each in input order */
        size_t k = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < n; i++) {
                bool deny = entries[i].permission == ACL_DENY;
                if (deny != (pass == 0))
                    continue;
                acl_entry_t e;
                CHECK(acl_get(m, k++, &e) == 0);
                CHECK(e.permission == entries[i].permission);
                CHECK(e.action == entries[i].action);
                CHECK(e.topic.len == want[i].n && memcmp(e.topic.ptr, want[i].p, want[i].n) == 0);
            }
        }
        acl_entry_t e;
        CHECK(acl_get(m, n, &e) == ROOST_EINVAL);
        check_matcher(m, lines, nlines);
        acl_destroy(&m);
        CHECK(m == NULL);
    }
    for (size_t i = 0; i < nwant; i++)
        free(want[i].p);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i].p);
    return 0;
}

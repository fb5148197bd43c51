/* store_rule: group rules (store.h "group rules"). A rule's group ids are
 * stored joined by ',' (ids are hex, so the separator cannot occur in them)
 * and mirrored in each group's "<group>:rules" set, which is what lets a
 * group delete name the rules still using it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

static const char *const RULE_FIELDS[STORE_RULE_N_FIELDS] = {
    "id", "match_by", "value", "groups", "created_at", "updated_at", "client_ids"};

static void rule_fini(store_rule_t *r)
{
    free(r->value);
    free(r->client_ids);
    for (size_t i = 0; i < r->n_groups; i++)
        free(r->groups[i]);
    free(r->groups);
    memset(r, 0, sizeof(*r));
}

void store_rule_free(store_rule_t **rp)
{
    if (!rp || !*rp)
        return;
    rule_fini(*rp);
    free(*rp);
    *rp = NULL;
}

void store_rule_list_free(store_rule_list_t **lp)
{
    if (!lp || !*lp)
        return;
    store_rule_list_t *l = *lp;
    for (size_t i = 0; i < l->n; i++)
        rule_fini(&l->items[i]);
    free(l->items);
    free(l->next_cursor);
    free(l);
    *lp = NULL;
}

/* Splits "a,b,c" into r->groups. */
static int split_groups(const char *joined, store_rule_t *r)
{
    size_t n = *joined ? 1 : 0;
    for (const char *p = joined; *p; p++)
        n += *p == ',';
    if (n && !(r->groups = calloc(n, sizeof(char *))))
        return -ENOMEM;
    const char *p = joined;
    for (; r->n_groups < n; r->n_groups++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!(r->groups[r->n_groups] = strndup(p, len)))
            return -ENOMEM;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

/* "a,b,c" from ids; caller frees. NULL on OOM. */
static char *join_groups(const char *const *ids, size_t n)
{
    char *out = malloc(n * (STORE_ID_LEN + 1) + 1);
    if (!out)
        return NULL;
    char *w = out;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        memcpy(w, ids[i], STORE_ID_LEN);
        w += STORE_ID_LEN;
    }
    *w = '\0';
    return out;
}

/* Fills r from an HMGET array in STORE_RULE_FIELDS order. */
static int rule_from(store_t *s, const redisReply *rep, store_rule_t *r)
{
    memset(r, 0, sizeof(*r));
    const char *id = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == STORE_RULE_N_FIELDS
                         ? store_rstr(rep->element[0])
                         : NULL;
    const char *m = id ? store_rstr(rep->element[1]) : NULL;
    const char *groups = id ? store_rstr(rep->element[3]) : NULL;
    if (!id || !store_id_ok(id) || !m || !groups || store_match_by_parse(m, &r->match_by) < 0)
        return store_fail(s, ROOST_ESTORE, NULL, "malformed rule record");
    memcpy(r->id, id, STORE_ID_LEN + 1);
    int rc;
    if ((rc = store_rdup(rep->element[2], &r->value)) < 0 ||
        (rc = split_groups(groups, r)) < 0 ||
        (rc = store_ri64(rep->element[4], &r->created_at)) < 0 ||
        (rc = store_ri64(rep->element[5], &r->updated_at)) < 0 ||
        (rc = rep->element[6]->type == REDIS_REPLY_NIL ? ((r->client_ids = strdup("")) ? 0 : -ENOMEM)
                                                       : store_rdup(rep->element[6], &r->client_ids)) < 0) {
        rule_fini(r);
        return rc == -ENOMEM ? rc : store_fail(s, ROOST_ESTORE, NULL, "malformed rule record");
    }
    return 0;
}

static int rule_out(store_t *s, const redisReply *rep, store_rule_t **out)
{
    store_rule_t *r = malloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    int rc = rule_from(s, rep, r);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Tail of create/update: maps the script status, fills *out. */
static int finish_write(store_t *s, redisReply *r, store_sr_t sr, store_rule_t **out)
{
    int rc = 0;
    if (sr == SR_NOTFOUND) {
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    } else if (sr == SR_INVALID && r->elements > 2) {
        rc = store_err_set_ids(s, r->element + 2, r->elements - 2);
        if (rc == 0)
            rc = store_fail(s, ROOST_EINVAL, "groups", "no such group");
    } else if (sr != SR_OK || r->elements != 2) {
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    } else if (out) {
        rc = rule_out(s, r->element[1], out);
    }
    freeReplyObject(r);
    return rc;
}

int store_rule_create(store_t *s, const store_rule_spec_t *spec, store_rule_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    int rc;
    if ((rc = store_check_rule_value(s, spec->match_by, spec->value)) < 0 ||
        (rc = store_check_rule_groups(s, spec->groups, spec->n_groups)) < 0 ||
        (spec->client_ids && (rc = store_check_client_ids(s, spec->client_ids)) < 0))
        return rc;
    char *groups = join_groups(spec->groups, spec->n_groups);
    if (!groups)
        return -ENOMEM;
    store_stamp_t st;
    store_stamp_new(&st);
    const char *argv[] = {st.id, st.now, st.member, store_match_by_name(spec->match_by),
                          spec->value, groups, spec->client_ids ? spec->client_ids : ""};
    redisReply *r = NULL;
    store_sr_t sr;
    rc = store_eval(s, SC_RULE_CREATE, 7, argv, NULL, &r, &sr);
    free(groups);
    return rc < 0 ? rc : finish_write(s, r, sr, out);
}

int store_rule_get(store_t *s, const char *id, store_rule_t **out)
{
    store_err_reset(s);
    *out = NULL;
    redisReply *r = NULL;
    int rc = store_get_record(s, "rule", id, RULE_FIELDS, STORE_RULE_N_FIELDS, &r);
    if (rc < 0)
        return rc;
    rc = rule_out(s, r, out);
    freeReplyObject(r);
    return rc;
}

/* One optimistic attempt: read, merge, validate, write if unchanged. */
static int update_once(store_t *s, const char *id, const store_rule_spec_t *spec,
                       store_rule_t **out)
{
    store_rule_t *cur = NULL;
    int rc = store_rule_get(s, id, &cur);
    if (rc < 0)
        return rc;
    store_match_by_t m = spec->set_match_by ? spec->match_by : cur->match_by;
    const char *value = spec->value ? spec->value : cur->value;
    char *groups = NULL;
    if ((rc = store_check_rule_value(s, m, value)) < 0 ||
        (spec->set_groups && (rc = store_check_rule_groups(s, spec->groups, spec->n_groups)) < 0) ||
        (spec->client_ids && (rc = store_check_client_ids(s, spec->client_ids)) < 0))
        goto done;
    if (spec->set_groups && !(groups = join_groups(spec->groups, spec->n_groups))) {
        rc = -ENOMEM;
        goto done;
    }
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    const char *argv[] = {id,
                          now,
                          store_match_by_name(cur->match_by),
                          cur->value,
                          store_match_by_name(m),
                          value,
                          spec->set_groups ? "1" : "0",
                          groups ? groups : "",
                          spec->client_ids ? "1" : "0",
                          spec->client_ids ? spec->client_ids : ""};
    redisReply *r = NULL;
    store_sr_t sr;
    rc = store_eval(s, SC_RULE_UPDATE, 10, argv, NULL, &r, &sr);
    if (rc == 0 && sr == SR_RETRY) {
        freeReplyObject(r);
        rc = 1; /* changed under us: try again */
    } else if (rc == 0) {
        rc = finish_write(s, r, sr, out);
    }
done:
    free(groups);
    store_rule_free(&cur);
    return rc;
}

int store_rule_update(store_t *s, const char *id, const store_rule_spec_t *spec,
                      store_rule_t **out)
{
    if (out)
        *out = NULL;
    for (int attempt = 0; attempt < 5; attempt++) {
        int rc = update_once(s, id, spec, out);
        if (rc <= 0)
            return rc;
    }
    return store_fail(s, ROOST_ECONFLICT, "match_by", "rule kept changing; retry");
}

int store_rule_delete(store_t *s, const char *id)
{
    return store_delete_id(s, SC_RULE_DELETE, id);
}

static int list_from(store_t *s, redisReply *r, size_t first, store_rule_list_t *l)
{
    size_t n = r->elements - first;
    if (n && !(l->items = calloc(n, sizeof(*l->items))))
        return -ENOMEM;
    for (; l->n < n; l->n++) {
        int rc = rule_from(s, r->element[first + l->n], &l->items[l->n]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int store_rule_list(store_t *s, const char *cursor, size_t limit, store_rule_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    int rc = store_check_page(s, cursor, limit);
    if (rc < 0)
        return rc;
    redisReply *r = NULL;
    rc = store_list_raw(s, "rules", "rule", cursor, limit, NULL, 0, RULE_FIELDS, STORE_RULE_N_FIELDS,
                        &r);
    if (rc < 0)
        return rc;
    store_rule_list_t *l = calloc(1, sizeof(*l));
    if (!l)
        rc = -ENOMEM;
    else if ((rc = store_list_head(s, r, &l->next_cursor, &l->total)) == 0)
        rc = list_from(s, r, 3, l);
    freeReplyObject(r);
    if (rc < 0)
        store_rule_list_free(&l);
    *out = l;
    return rc;
}

int store_rule_list_all(store_t *s, store_rule_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, SC_RULE_ALL, 0, NULL, NULL, &r, &sr);
    if (rc < 0)
        return rc;
    store_rule_list_t *l = calloc(1, sizeof(*l));
    if (!l)
        rc = -ENOMEM;
    else if (sr != SR_OK || r->elements < 2 || store_ri64(r->element[1], &l->config_version) < 0)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    else
        rc = list_from(s, r, 2, l);
    freeReplyObject(r);
    if (rc < 0)
        store_rule_list_free(&l);
    else
        l->total = l->n;
    *out = l;
    return rc;
}

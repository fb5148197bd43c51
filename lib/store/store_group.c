/* store_group: groups and their ordered ACL lists (store.h "groups"). The
 * ACL list is one JSON string field of the group hash, written and read only
 * here (jansson), so an entry list changes atomically with its group.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

static void group_fini(store_group_t *g)
{
    free(g->name);
    free(g->description);
    for (size_t i = 0; i < g->n_acl; i++)
        free((char *)g->acl[i].topic);
    free(g->acl);
    memset(g, 0, sizeof(*g));
}

void store_group_free(store_group_t **gp)
{
    if (!gp || !*gp)
        return;
    group_fini(*gp);
    free(*gp);
    *gp = NULL;
}

void store_group_list_free(store_group_list_t **lp)
{
    if (!lp || !*lp)
        return;
    store_group_list_t *l = *lp;
    for (size_t i = 0; i < l->n; i++)
        group_fini(&l->items[i]);
    free(l->items);
    free(l->next_cursor);
    free(l);
    *lp = NULL;
}

/* The JSON text of an ACL list; caller frees. NULL on OOM. */
static char *acl_to_json(const store_acl_t *acl, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "permission",
                              store_permission_name(acl[i].permission), "action",
                              store_action_name(acl[i].action), "topic", acl[i].topic);
        if (!e || json_array_append_new(arr, e) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *txt = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return txt;
}

/* Parses a stored ACL list into g. ROOST_ESTORE if it is not what
 * acl_to_json writes. */
static int acl_from_json(const char *txt, store_group_t *g)
{
    json_t *arr = json_loads(txt, 0, NULL);
    int rc = ROOST_ESTORE;
    if (!arr || !json_is_array(arr))
        goto done;
    size_t n = json_array_size(arr);
    if (n && !(g->acl = calloc(n, sizeof(*g->acl)))) {
        rc = -ENOMEM;
        goto done;
    }
    for (; g->n_acl < n; g->n_acl++) {
        const char *perm = NULL, *action = NULL, *topic = NULL;
        store_acl_t *e = &g->acl[g->n_acl];
        if (json_unpack(json_array_get(arr, g->n_acl), "{s:s, s:s, s:s}", "permission", &perm,
                        "action", &action, "topic", &topic) < 0 ||
            store_permission_parse(perm, &e->permission) < 0 ||
            store_action_parse(action, &e->action) < 0)
            goto done;
        if (!(e->topic = strdup(topic))) {
            rc = -ENOMEM;
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(arr);
    return rc;
}

/* "<msgs/s> <bytes/s>" (a missing field reads as none). */
static int rates_from(const redisReply *r, store_group_t *g)
{
    if (r->type == REDIS_REPLY_NIL)
        return 0;
    const char *v = store_rstr(r);
    long long m, b;
    int used = 0;
    if (!v || sscanf(v, "%lld %lld%n", &m, &b, &used) != 2 || v[used] || m < 0 ||
        m > STORE_MAX_MSG_RATE || b < 0 || b > STORE_MAX_BYTE_RATE)
        return ROOST_ESTORE;
    g->max_msg_rate = m;
    g->max_byte_rate = b;
    return 0;
}

static void rates_text(char out[48], int64_t msgs, int64_t bytes)
{
    snprintf(out, 48, "%lld %lld", (long long)msgs, (long long)bytes);
}

static int check_rates(store_t *s, const store_group_spec_t *spec)
{
    if (spec->max_msg_rate < 0 || spec->max_msg_rate > STORE_MAX_MSG_RATE)
        return store_fail(s, ROOST_EINVAL, "max_msg_rate", "must be 0 (no limit) to 100000000");
    if (spec->max_byte_rate < 0 || spec->max_byte_rate > STORE_MAX_BYTE_RATE)
        return store_fail(s, ROOST_EINVAL, "max_byte_rate", "must be 0 (no limit) to 4294967295");
    return 0;
}

/* Fills g from an HMGET array in STORE_GROUP_FIELDS order. */
static int group_from(store_t *s, const redisReply *r, store_group_t *g)
{
    memset(g, 0, sizeof(*g));
    const char *id = r && r->type == REDIS_REPLY_ARRAY && r->elements == STORE_GROUP_N_FIELDS
                         ? store_rstr(r->element[0])
                         : NULL;
    const char *acl = id ? store_rstr(r->element[3]) : NULL;
    if (!id || !store_id_ok(id) || !acl)
        return store_fail(s, ROOST_ESTORE, NULL, "malformed group record");
    memcpy(g->id, id, STORE_ID_LEN + 1);
    int rc;
    if ((rc = store_rdup(r->element[1], &g->name)) < 0 ||
        (rc = store_rdup(r->element[2], &g->description)) < 0 ||
        (rc = acl_from_json(acl, g)) < 0 || (rc = store_ri64(r->element[4], &g->created_at)) < 0 ||
        (rc = store_ri64(r->element[5], &g->updated_at)) < 0 || (rc = rates_from(r->element[6], g)) < 0) {
        group_fini(g);
        return rc == -ENOMEM ? rc : store_fail(s, ROOST_ESTORE, NULL, "malformed group record");
    }
    return 0;
}

static int group_out(store_t *s, const redisReply *r, store_group_t **out)
{
    store_group_t *g = malloc(sizeof(*g));
    if (!g)
        return -ENOMEM;
    int rc = group_from(s, r, g);
    if (rc < 0) {
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

static int finish_write(store_t *s, redisReply *r, store_sr_t sr, store_group_t **out)
{
    int rc = 0;
    if (sr == SR_NOTFOUND)
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    else if (sr == SR_CONFLICT)
        rc = store_fail(s, ROOST_ECONFLICT, "name", "already taken");
    else if (sr != SR_OK || r->elements != 2)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    else if (out)
        rc = group_out(s, r->element[1], out);
    freeReplyObject(r);
    return rc;
}

int store_group_create(store_t *s, const store_group_spec_t *spec, store_group_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    int rc;
    if ((rc = store_check_name(s, "name", spec->name)) < 0 ||
        (rc = store_check_description(s, spec->description)) < 0 ||
        (rc = store_check_acl(s, spec->acl, spec->n_acl)) < 0 || (rc = check_rates(s, spec)) < 0)
        return rc;
    char *acl = acl_to_json(spec->acl, spec->n_acl);
    if (!acl)
        return -ENOMEM;
    store_stamp_t st;
    store_stamp_new(&st);
    char rates[48];
    rates_text(rates, spec->max_msg_rate, spec->max_byte_rate);
    const char *argv[] = {st.id, st.now, st.member, spec->name,
                          spec->description ? spec->description : "", acl, rates};
    redisReply *r = NULL;
    store_sr_t sr;
    rc = store_eval(s, SC_GROUP_CREATE, 7, argv, NULL, &r, &sr);
    free(acl);
    return rc < 0 ? rc : finish_write(s, r, sr, out);
}

int store_group_get(store_t *s, const char *id, store_group_t **out)
{
    store_group_list_t *l = NULL;
    *out = NULL;
    int rc = store_group_get_many(s, &id, 1, &l);
    if (rc < 0)
        return rc;
    if (l->n == 0) {
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    } else {
        store_group_t *g = malloc(sizeof(*g));
        if (!g) {
            rc = -ENOMEM;
        } else {
            *g = l->items[0]; /* moved out; the list no longer owns it */
            l->n = 0;
            *out = g;
        }
    }
    store_group_list_free(&l);
    return rc;
}

int store_group_update(store_t *s, const char *id, const store_group_spec_t *spec,
                       store_group_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    int rc = 0;
    if ((spec->name && (rc = store_check_name(s, "name", spec->name)) < 0) ||
        (rc = store_check_description(s, spec->description)) < 0 ||
        (spec->set_acl && (rc = store_check_acl(s, spec->acl, spec->n_acl)) < 0) ||
        (spec->set_rates && (rc = check_rates(s, spec)) < 0))
        return rc;
    char rates[48];
    rates_text(rates, spec->max_msg_rate, spec->max_byte_rate);
    char *acl = spec->set_acl ? acl_to_json(spec->acl, spec->n_acl) : NULL;
    if (spec->set_acl && !acl)
        return -ENOMEM;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    const char *argv[] = {id,
                          now,
                          spec->name ? "1" : "0",
                          spec->name ? spec->name : "",
                          spec->description ? "1" : "0",
                          spec->description ? spec->description : "",
                          spec->set_acl ? "1" : "0",
                          acl ? acl : "",
                          spec->set_rates ? "1" : "0",
                          rates};
    redisReply *r = NULL;
    store_sr_t sr;
    rc = store_eval(s, SC_GROUP_UPDATE, 10, argv, NULL, &r, &sr);
    free(acl);
    return rc < 0 ? rc : finish_write(s, r, sr, out);
}

int store_group_delete(store_t *s, const char *id)
{
    return store_delete_refd(s, SC_GROUP_DELETE, id, "rules", "the group is used by group rules");
}

/* Builds a list from reply items starting at index `first`. */
static int list_from(store_t *s, redisReply *r, size_t first, store_group_list_t *l)
{
    size_t n = r->elements - first;
    if (n && !(l->items = calloc(n, sizeof(*l->items))))
        return -ENOMEM;
    for (; l->n < n; l->n++) {
        int rc = group_from(s, r->element[first + l->n], &l->items[l->n]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int store_group_list(store_t *s, const char *cursor, size_t limit, const char *search,
                     store_group_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    int rc = store_check_page(s, cursor, limit);
    if (rc < 0)
        return rc;
    /* store_list_raw searches the first field: ask for the name first,
     * then swap back to STORE_GROUP_FIELDS order. */
    static const char *const by_name[STORE_GROUP_N_FIELDS] = {
        "name", "id", "description", "acl", "created_at", "updated_at", "rates"};
    redisReply *r = NULL;
    rc = store_list_raw(s, "groups", "group", cursor, limit, search, 1, by_name,
                        STORE_GROUP_N_FIELDS, &r);
    if (rc < 0)
        return rc;
    for (size_t i = 3; i < r->elements; i++) {
        redisReply *v = r->element[i];
        if (v->type == REDIS_REPLY_ARRAY && v->elements == STORE_GROUP_N_FIELDS) {
            redisReply *t = v->element[0];
            v->element[0] = v->element[1];
            v->element[1] = t;
        }
    }
    store_group_list_t *l = calloc(1, sizeof(*l));
    if (!l)
        rc = -ENOMEM;
    else if ((rc = store_list_head(s, r, &l->next_cursor, &l->total)) == 0)
        rc = list_from(s, r, 3, l);
    freeReplyObject(r);
    if (rc < 0)
        store_group_list_free(&l);
    *out = l;
    return rc;
}

int store_group_get_many(store_t *s, const char *const *ids, size_t n, store_group_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    const char **argv = calloc(n + 1, sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    int argc = 0;
    for (size_t i = 0; i < n; i++)
        if (store_id_ok(ids[i]))
            argv[argc++] = ids[i];
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, SC_GROUP_MANY, argc, argv, NULL, &r, &sr);
    free(argv);
    if (rc < 0)
        return rc;
    store_group_list_t *l = calloc(1, sizeof(*l));
    if (!l)
        rc = -ENOMEM;
    else if (sr != SR_OK || r->elements < 2 || store_ri64(r->element[1], &l->config_version) < 0)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    else
        rc = list_from(s, r, 2, l);
    freeReplyObject(r);
    if (rc < 0)
        store_group_list_free(&l);
    else
        l->total = l->n;
    *out = l;
    return rc;
}

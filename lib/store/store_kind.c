/* store_kind: the scaffolding clients, groups and rules share (store_priv.h
 * "object kinds"): new-object stamps, reading one record, deleting by id and
 * the head of a list reply. Each kind keeps its own record parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

void store_stamp_new(store_stamp_t *st)
{
    int64_t t = store_now_ms();
    store_new_id(st->id);
    snprintf(st->now, sizeof(st->now), "%lld", (long long)t);
    store_member(st->member, t, st->id);
}

int store_get_record(store_t *s, const char *obj, const char *id, const char *const *fields,
                     int n, redisReply **out)
{
    *out = NULL;
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    char key[STORE_PREFIX_MAX + 16 + STORE_ID_LEN + 1];
    snprintf(key, sizeof(key), "%s%s:%s", store_prefix(s), obj, id);
    const char *argv[2 + STORE_MAX_FIELDS] = {"HMGET", key};
    if (n > STORE_MAX_FIELDS)
        n = STORE_MAX_FIELDS;
    memcpy(&argv[2], fields, (size_t)n * sizeof(*fields));
    redisReply *r = NULL;
    int rc = store_cmd(s, 2 + n, argv, NULL, &r);
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    }
    *out = r;
    return 0;
}

int store_delete_id(store_t *s, enum store_script sc, const char *id)
{
    store_err_reset(s);
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    const char *argv[] = {id};
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, sc, 1, argv, NULL, &r, &sr);
    if (rc < 0)
        return rc;
    rc = sr == SR_OK ? 0
         : sr == SR_NOTFOUND ? store_fail(s, ROOST_ENOTFOUND, NULL, NULL)
                             : store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    freeReplyObject(r);
    return rc;
}

int store_list_head(store_t *s, const redisReply *r, char **next_cursor, uint64_t *total)
{
    int64_t t = 0;
    const char *next = store_rstr(r->element[1]);
    if (store_ri64(r->element[2], &t) < 0 || !next)
        return store_fail(s, ROOST_ESTORE, NULL, "bad list reply");
    if (*next && !(*next_cursor = strdup(next)))
        return -ENOMEM;
    *total = (uint64_t)t;
    return 0;
}

int store_delete_refd(store_t *s, enum store_script sc, const char *id, const char *field,
                      const char *reason)
{
    store_err_reset(s);
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    const char *argv[] = {id};
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, sc, 1, argv, NULL, &r, &sr);
    if (rc < 0)
        return rc;
    if (sr == SR_OK)
        rc = 0;
    else if (sr == SR_NOTFOUND)
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    else if (sr == SR_CONFLICT && r->elements > 2) {
        rc = store_err_set_ids(s, r->element + 2, r->elements - 2);
        if (rc == 0)
            rc = store_fail(s, ROOST_ECONFLICT, field, reason);
    } else
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    freeReplyObject(r);
    return rc;
}

int store_get_i64(store_t *s, const char *name, int64_t *out)
{
    store_err_reset(s);
    char key[STORE_PREFIX_MAX + 32];
    snprintf(key, sizeof(key), "%s%s", store_prefix(s), name);
    const char *argv[] = {"GET", key};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, argv, NULL, &r);
    if (rc < 0)
        return rc;
    *out = 0;
    if (r->type != REDIS_REPLY_NIL && store_ri64(r, out) < 0)
        rc = store_fail(s, ROOST_ESTORE, NULL, "a counter key is not an integer");
    freeReplyObject(r);
    return rc;
}

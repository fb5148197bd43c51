/* audit: admin audit log in a Redis stream (audit.h). */
#include "store/audit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

static const char *nz(const char *s)
{
    return s ? s : "";
}

int store_audit_append(store_t *s, const store_audit_t *e, char **id_out)
{
    store_err_reset(s);
    if (id_out)
        *id_out = NULL;
    char key[STORE_PREFIX_MAX + 8], max[16], t[24];
    snprintf(key, sizeof(key), "%saudit", store_prefix(s));
    snprintf(max, sizeof(max), "%d", STORE_AUDIT_MAX);
    snprintf(t, sizeof(t), "%lld", (long long)(e->time ? e->time : store_now_ms()));
    const char *argv[] = {"XADD", key, "MAXLEN", "~", max, "*",
                          "time", t, "actor_id", nz(e->actor_id), "actor_name", nz(e->actor_name),
                          "action", nz(e->action), "object_id", nz(e->object_id),
                          "summary", nz(e->summary)};
    redisReply *r = NULL;
    int rc = store_cmd(s, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL, &r);
    if (rc < 0)
        return rc;
    if (id_out && store_rdup(r, id_out) < 0)
        rc = store_fail(s, ROOST_ESTORE, NULL, "XADD gave no id");
    freeReplyObject(r);
    return rc;
}

static bool stream_id_ok(const char *c)
{
    size_t n = strlen(c), i = 0, digits = 0;
    for (; i < n && isdigit((unsigned char)c[i]); i++)
        digits++;
    if (!digits || digits > 20 || i == n || c[i++] != '-')
        return false;
    size_t seq = 0;
    for (; i < n && isdigit((unsigned char)c[i]); i++)
        seq++;
    return seq && seq <= 20 && i == n;
}

static int entry_from(store_t *s, const redisReply *r, store_audit_t *e)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || store_rdup(r->element[0], &e->id) < 0 ||
        r->element[1]->type != REDIS_REPLY_ARRAY)
        return store_fail(s, ROOST_ESTORE, NULL, "malformed audit entry");
    const redisReply *f = r->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = store_rstr(f->element[i]);
        char **dst = NULL;
        if (!k)
            continue;
        if (!strcmp(k, "time")) {
            store_ri64(f->element[i + 1], &e->time);
            continue;
        }
        dst = !strcmp(k, "actor_id")     ? &e->actor_id
              : !strcmp(k, "actor_name") ? &e->actor_name
              : !strcmp(k, "action")     ? &e->action
              : !strcmp(k, "object_id")  ? &e->object_id
              : !strcmp(k, "summary")    ? &e->summary
                                         : NULL;
        if (dst && !*dst && store_rdup(f->element[i + 1], dst) < 0)
            return store_fail(s, -ENOMEM, NULL, NULL);
    }
    char **all[] = {&e->actor_id, &e->actor_name, &e->action, &e->object_id, &e->summary};
    for (size_t i = 0; i < 5; i++)
        if (!*all[i] && !(*all[i] = strdup("")))
            return store_fail(s, -ENOMEM, NULL, NULL);
    return 0;
}

int store_audit_list(store_t *s, const char *cursor, size_t limit, store_audit_page_t **out)
{
    store_err_reset(s);
    *out = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return store_fail(s, ROOST_EINVAL, "limit", "must be 1-1000");
    if (cursor && *cursor && !stream_id_ok(cursor))
        return store_fail(s, ROOST_EINVAL, "cursor", "is not a cursor from this list");
    char key[STORE_PREFIX_MAX + 8], start[48], count[24];
    snprintf(key, sizeof(key), "%saudit", store_prefix(s));
    snprintf(start, sizeof(start), "%s%s", cursor && *cursor ? "(" : "", cursor && *cursor ? cursor : "+");
    snprintf(count, sizeof(count), "%zu", limit + 1);
    const char *argv[] = {"XREVRANGE", key, start, "-", "COUNT", count};
    redisReply *r = NULL;
    int rc = store_cmd(s, 6, argv, NULL, &r);
    if (rc < 0)
        return rc;
    store_audit_page_t *p = calloc(1, sizeof(*p));
    if (!p || r->type != REDIS_REPLY_ARRAY) {
        rc = store_fail(s, p ? ROOST_ESTORE : -ENOMEM, NULL, p ? "unexpected XREVRANGE reply" : NULL);
        goto done;
    }
    size_t take = r->elements > limit ? limit : r->elements;
    if (!(p->items = calloc(take + 1, sizeof(*p->items)))) {
        rc = store_fail(s, -ENOMEM, NULL, NULL);
        goto done;
    }
    for (size_t i = 0; i < take && rc == 0; i++, p->n++)
        rc = entry_from(s, r->element[i], &p->items[i]);
    if (rc == 0 && r->elements > limit && !(p->next_cursor = strdup(p->items[take - 1].id)))
        rc = store_fail(s, -ENOMEM, NULL, NULL);
done:
    freeReplyObject(r);
    if (rc < 0)
        store_audit_page_free(&p);
    *out = p;
    return rc;
}

void store_audit_page_free(store_audit_page_t **pp)
{
    if (!pp || !*pp)
        return;
    store_audit_page_t *p = *pp;
    for (size_t i = 0; i < p->n; i++) {
        store_audit_t *e = &p->items[i];
        free(e->id);
        free(e->actor_id);
        free(e->actor_name);
        free(e->action);
        free(e->object_id);
        free(e->summary);
    }
    free(p->items);
    free(p->next_cursor);
    free(p);
    *pp = NULL;
}

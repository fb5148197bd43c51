/* bans: see bans.h. */
#include "store/bans.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "base/err.h"
#include "store/store_priv.h"

static void ban_fini(store_ban_t *b)
{
    free(b->id);
    free(b->kind);
    free(b->value);
    free(b->reason);
    free(b->actor);
    memset(b, 0, sizeof(*b));
}

void store_ban_free(store_ban_t **bp)
{
    if (!bp || !*bp)
        return;
    ban_fini(*bp);
    free(*bp);
    *bp = NULL;
}

void store_ban_list_free(store_ban_list_t **lp)
{
    if (!lp || !*lp)
        return;
    for (size_t i = 0; i < (*lp)->n; i++)
        ban_fini(&(*lp)->items[i]);
    free((*lp)->items);
    free(*lp);
    *lp = NULL;
}

static void key(store_t *s, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", store_prefix(s), suffix);
}

static int check(store_t *s, const char *kind, const char *value, const char *reason, int64_t expires_at)
{
    if (!kind || (strcmp(kind, "client_id") && strcmp(kind, "username") && strcmp(kind, "cidr")))
        return store_fail(s, ROOST_EINVAL, "kind", "must be client_id, username or cidr");
    int rc = store_check_name(s, "value", value);
    if (rc < 0)
        return rc;
    cidr_t c;
    if (!strcmp(kind, "cidr") && cidr_parse(value, strlen(value), &c) < 0)
        return store_fail(s, ROOST_EINVAL, "value", "must be an address or a CIDR range (10.0.0.0/8, 2001:db8::/32)");
    if (reason && strlen(reason) > 255)
        return store_fail(s, ROOST_EINVAL, "reason", "must be at most 255 bytes");
    if (expires_at < 0 || (expires_at && expires_at <= store_now_ms()))
        return store_fail(s, ROOST_EINVAL, "expires_at", "must be in the future (or 0: never)");
    return 0;
}

/* A record from its JSON text, or -1 (malformed). */
static int from_json(const char *id, const char *text, store_ban_t *b)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *kind = json_string_value(json_object_get(j, "kind")),
               *value = json_string_value(json_object_get(j, "value")),
               *reason = json_string_value(json_object_get(j, "reason")),
               *actor = json_string_value(json_object_get(j, "actor"));
    int rc = -1;
    if (kind && value) {
        *b = (store_ban_t){.id = strdup(id), .kind = strdup(kind), .value = strdup(value),
                           .reason = strdup(reason ? reason : ""), .actor = strdup(actor ? actor : ""),
                           .created_at = json_integer_value(json_object_get(j, "created_at")),
                           .expires_at = json_integer_value(json_object_get(j, "expires_at"))};
        rc = b->id && b->kind && b->value && b->reason && b->actor ? 0 : -ENOMEM;
        if (rc)
            ban_fini(b);
    }
    json_decref(j);
    return rc;
}

int store_ban_put(store_t *s, const char *kind, const char *value, const char *reason, int64_t expires_at,
                  const char *actor, store_ban_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    int rc = check(s, kind, value, reason, expires_at);
    if (rc < 0)
        return rc;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "kind", kind, "value", value, "reason",
                          reason ? reason : "", "actor", actor ? actor : "", "created_at",
                          (json_int_t)store_now_ms(), "expires_at", (json_int_t)expires_at);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    size_t idlen = strlen(kind) + 1 + strlen(value) + 1;
    char *id = malloc(idlen);
    if (!text || !id) {
        free(text);
        free(id);
        return -ENOMEM;
    }
    snprintf(id, idlen, "%s:%s", kind, value);
    char h[STORE_PREFIX_MAX + 16], v[STORE_PREFIX_MAX + 16];
    key(s, "bans", h, sizeof(h));
    key(s, "bans:version", v, sizeof(v));
    const char *hset[] = {"HSET", h, id, text}, *incr[] = {"INCR", v};
    redisReply *r = NULL;
    if ((rc = store_cmd(s, 4, hset, NULL, &r)) == 0) {
        freeReplyObject(r);
        if ((rc = store_cmd(s, 2, incr, NULL, &r)) == 0)
            freeReplyObject(r);
    }
    if (rc == 0 && out) {
        store_ban_t *b = malloc(sizeof(*b));
        if (!b || from_json(id, text, b) < 0) {
            free(b);
            rc = -ENOMEM;
        } else {
            *out = b;
        }
    }
    free(text);
    free(id);
    return rc;
}

int store_ban_delete(store_t *s, const char *id)
{
    store_err_reset(s);
    char h[STORE_PREFIX_MAX + 16], v[STORE_PREFIX_MAX + 16];
    key(s, "bans", h, sizeof(h));
    key(s, "bans:version", v, sizeof(v));
    const char *hdel[] = {"HDEL", h, id ? id : ""}, *incr[] = {"INCR", v};
    redisReply *r = NULL;
    int rc = store_cmd(s, 3, hdel, NULL, &r);
    if (rc < 0)
        return rc;
    bool gone = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (!gone)
        return store_fail(s, ROOST_ENOTFOUND, NULL, "no such ban");
    if ((rc = store_cmd(s, 2, incr, NULL, &r)) == 0)
        freeReplyObject(r);
    return rc;
}

int store_ban_list(store_t *s, int64_t now_ms, store_ban_list_t **out)
{
    store_err_reset(s);
    *out = NULL;
    char h[STORE_PREFIX_MAX + 16];
    key(s, "bans", h, sizeof(h));
    const char *argv[] = {"HGETALL", h};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, argv, NULL, &r);
    if (rc < 0)
        return rc;
    store_ban_list_t *l = calloc(1, sizeof(*l));
    size_t pairs = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    if (!l || (pairs && !(l->items = calloc(pairs, sizeof(*l->items))))) {
        free(l);
        freeReplyObject(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < pairs; i++) {
        const char *id = store_rstr(r->element[2 * i]), *text = store_rstr(r->element[2 * i + 1]);
        store_ban_t *b = &l->items[l->n];
        if (!id || !text || from_json(id, text, b) < 0)
            continue; /* a malformed record refuses nobody */
        if (b->expires_at && b->expires_at <= now_ms) {
            const char *hdel[] = {"HDEL", h, id};
            redisReply *d = NULL;
            if (store_cmd_unwaited(s, 3, hdel, NULL, &d) == 0) /* done again by the next list if lost */
                freeReplyObject(d);
            ban_fini(b);
            continue;
        }
        l->n++;
    }
    freeReplyObject(r);
    *out = l;
    return 0;
}

int store_bans_version(store_t *s, int64_t *out)
{
    return store_get_i64(s, "bans:version", out);
}

static char *flap_key(store_t *s, const char *client_id)
{
    size_t n = strlen(store_prefix(s)) + 5 + strlen(client_id) + 1;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%sflap:%s", store_prefix(s), client_id);
    return k;
}

int store_flap_hit(store_t *s, const char *client_id, int64_t window_ms, int64_t *count)
{
    store_err_reset(s);
    char *k = flap_key(s, client_id ? client_id : "");
    if (!k)
        return -ENOMEM;
    char ms[24];
    snprintf(ms, sizeof(ms), "%lld", (long long)window_ms);
    const char *incr[] = {"INCR", k}, *exp[] = {"PEXPIRE", k, ms};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, incr, NULL, &r);
    if (rc == 0) {
        *count = r->type == REDIS_REPLY_INTEGER ? (int64_t)r->integer : 0;
        freeReplyObject(r);
        /* the window starts with the first CONNECT (Redis 6 has no PEXPIRE NX) */
        if (*count == 1 && (rc = store_cmd(s, 3, exp, NULL, &r)) == 0)
            freeReplyObject(r);
    }
    free(k);
    return rc;
}

int store_flap_reset(store_t *s, const char *client_id)
{
    store_err_reset(s);
    char *k = flap_key(s, client_id ? client_id : "");
    if (!k)
        return -ENOMEM;
    const char *del[] = {"DEL", k};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, del, NULL, &r);
    if (rc == 0)
        freeReplyObject(r);
    free(k);
    return rc;
}

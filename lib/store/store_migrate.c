/* store_migrate: schema 1 (keys without hash tags) -> schema 2 (the
 * hash-tagged layout of store/keys.h), in place on a single Redis.
 *
 *   P <session name><cid>  -> P <session name>{c:<cid>}
 *       (session names: sess: subs: q: qm: rx2: rel: lease: leasecred:)
 *   P <anything else>      -> P {g}:<anything else>
 *
 * SCAN MATCH P* and RENAMENX per key (TTLs travel with RENAME); keys that
 * already hold a '{' after P are schema 2 and left alone, a key another
 * process renamed first is skipped. Then P {g}:schema is set to 2. */
#include "store/store_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const char *const SESSION_NAMES[] = {"sess:", "subs:", "qm:", "q:", "rx2:", "rel:", "leasecred:", "lease:"};

/* The schema-2 name of key k (schema 1, starting with P) into out. Its
 * length, 0 when k is schema 2 already or out is too small. */
static size_t new_name(const char *p, size_t pl, const char *k, size_t kl, char *out, size_t cap)
{
    const char *rest = k + pl;
    size_t rl = kl - pl;
    if (memchr(rest, '{', rl))
        return 0;
    for (size_t i = 0; i < sizeof(SESSION_NAMES) / sizeof(SESSION_NAMES[0]); i++) {
        size_t nl = strlen(SESSION_NAMES[i]);
        if (rl > nl && !memcmp(rest, SESSION_NAMES[i], nl)) {
            size_t total = pl + nl + 3 + (rl - nl) + 1;
            if (total > cap)
                return 0;
            char *o = out;
            memcpy(o, p, pl), o += pl;
            memcpy(o, rest, nl), o += nl;
            memcpy(o, STORE_KEYS_CTAG_OPEN, 3), o += 3;
            memcpy(o, rest + nl, rl - nl), o += rl - nl;
            *o++ = '}';
            return total;
        }
    }
    if (pl + STORE_KEYS_GTAG_LEN + rl > cap)
        return 0;
    memcpy(out, p, pl);
    memcpy(out + pl, STORE_KEYS_GTAG, STORE_KEYS_GTAG_LEN);
    memcpy(out + pl + STORE_KEYS_GTAG_LEN, rest, rl);
    return pl + STORE_KEYS_GTAG_LEN + rl;
}

static int rename_batch(store_t *s, const redisReply *keys, const char *p, size_t pl)
{
    char *to = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING || k->len < pl)
            continue;
        if (cap < k->len + 64) {
            cap = k->len + 64;
            char *t = realloc(to, cap);
            if (!t) {
                free(to);
                return store_fail(s, -ENOMEM, NULL, NULL);
            }
            to = t;
        }
        size_t tl = new_name(p, pl, k->str, k->len, to, cap);
        if (!tl)
            continue;
        const char *argv[] = {"RENAMENX", k->str, to};
        const size_t lens[] = {8, k->len, tl};
        redisReply *r = NULL;
        int rc = store_raw_cmd(s, 3, argv, lens, &r);
        if (rc == ROOST_ESTORE && strstr(store_last_error(s)->reason, "no such key"))
            rc = 0; /* renamed by another process meanwhile */
        if (r)
            freeReplyObject(r);
        if (rc < 0) {
            free(to);
            return rc;
        }
    }
    free(to);
    return 0;
}

/* EXISTS key: 1, 0, or < 0 as store_raw_cmd. */
static int exists(store_t *s, const char *key)
{
    const char *argv[] = {"EXISTS", key};
    redisReply *r = NULL;
    int rc = store_raw_cmd(s, 2, argv, NULL, &r);
    if (rc == 0)
        rc = r->type == REDIS_REPLY_INTEGER ? r->integer > 0
                                            : store_fail(s, ROOST_ESTORE, NULL, "EXISTS: not an integer");
    if (r)
        freeReplyObject(r);
    return rc;
}

int store_migrate_v1(store_t *s)
{
    if (*store_cluster_slot(s))
        return 0; /* a schema-1 store never ran on a Redis Cluster */
    const char *p = store_base_prefix(s);
    size_t pl = strlen(p);
    char old[STORE_PREFIX_MAX + 16], neu[STORE_PREFIX_MAX + 16], pat[2 * STORE_PREFIX_MAX + 4];
    snprintf(old, sizeof(old), "%sschema", p);
    snprintf(neu, sizeof(neu), "%sschema", store_prefix(s));
    int has_new = exists(s, neu), has_old = has_new ? 0 : exists(s, old);
    if (has_new < 0 || has_old <= 0)
        return has_new < 0 ? has_new : has_old;
    /* SCAN's MATCH is a glob: escape its special characters in P. */
    size_t o = 0;
    for (size_t i = 0; i < pl; i++) {
        if (strchr("*?[]\\", p[i]))
            pat[o++] = '\\';
        pat[o++] = p[i];
    }
    pat[o++] = '*';
    pat[o] = '\0';
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pat, "COUNT", "1000"};
        redisReply *r = NULL;
        int rc = store_raw_cmd(s, 6, argv, NULL, &r);
        if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                        r->element[0]->type != REDIS_REPLY_STRING ||
                        r->element[1]->type != REDIS_REPLY_ARRAY))
            rc = store_fail(s, ROOST_ESTORE, NULL, "migration: unexpected SCAN reply");
        if (rc == 0) {
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            rc = rename_batch(s, r->element[1], p, pl);
        }
        if (r)
            freeReplyObject(r);
        if (rc < 0)
            return rc;
    } while (strcmp(cursor, "0") != 0);
    char ver[16];
    snprintf(ver, sizeof(ver), "%d", STORE_SCHEMA_VERSION);
    const char *set[] = {"SET", neu, ver};
    redisReply *r = NULL;
    int rc = store_raw_cmd(s, 3, set, NULL, &r);
    if (r)
        freeReplyObject(r);
    return rc;
}

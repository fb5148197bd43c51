/* store_client: clients (store.h "clients"). Passwords are hashed here with
 * crypto_pwhash_str before anything reaches Redis; the hash string is only
 * read back by store_auth_lookup (store.c).
 */
#include <errno.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

static const char *const CLIENT_FIELDS[STORE_N_FIELDS] = {"id",       "name",       "auth_type",
                                                          "username", "created_at", "updated_at"};

static void client_fini(store_client_t *c)
{
    free(c->name);
    free(c->auth_type);
    free(c->username);
    memset(c, 0, sizeof(*c));
}

void store_client_free(store_client_t **cp)
{
    if (!cp || !*cp)
        return;
    client_fini(*cp);
    free(*cp);
    *cp = NULL;
}

void store_client_page_free(store_client_page_t **pp)
{
    if (!pp || !*pp)
        return;
    store_client_page_t *p = *pp;
    for (size_t i = 0; i < p->n; i++)
        client_fini(&p->items[i]);
    free(p->items);
    free(p->next_cursor);
    free(p);
    *pp = NULL;
}

/* Fills c from an HMGET array in CLIENT_FIELDS order. */
static int client_from(store_t *s, const redisReply *r, store_client_t *c)
{
    memset(c, 0, sizeof(*c));
    const char *id = r && r->type == REDIS_REPLY_ARRAY && r->elements == STORE_N_FIELDS
                         ? store_rstr(r->element[0])
                         : NULL;
    if (!id || !store_id_ok(id))
        return store_fail(s, ROOST_ESTORE, NULL, "malformed client record");
    memcpy(c->id, id, STORE_ID_LEN + 1);
    int rc;
    if ((rc = store_rdup(r->element[1], &c->name)) < 0 ||
        (rc = store_rdup(r->element[2], &c->auth_type)) < 0 ||
        (rc = store_rdup(r->element[3], &c->username)) < 0 ||
        (rc = store_ri64(r->element[4], &c->created_at)) < 0 ||
        (rc = store_ri64(r->element[5], &c->updated_at)) < 0) {
        client_fini(c);
        return rc == -ENOMEM ? rc : store_fail(s, ROOST_ESTORE, NULL, "malformed client record");
    }
    /* Every client with credentials has a password (create requires one
     * and nothing removes it); the hash is deliberately not read here. */
    c->has_password = strcmp(c->auth_type, "certificate") != 0;
    return 0;
}

/* Heap copy of a client record, or a code. */
static int client_out(store_t *s, const redisReply *r, store_client_t **out)
{
    store_client_t *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = client_from(s, r, c);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int hash_password(store_t *s, const char *pw, const store_cost_t *cost,
                         char out[crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str(out, pw, strlen(pw), cost->opslimit, cost->memlimit) != 0)
        return store_fail(s, -ENOMEM, "password", "hashing failed (memory limit)");
    return 0;
}

/* A certificate's facts as script arguments ("" for no certificate). */
typedef struct cert_args {
    const char *v[4]; /* fingerprint subject issuer serial */
    char nb[24], na[24];
} cert_args_t;

static void cert_args(const store_cert_t *c, cert_args_t *out)
{
    out->v[0] = c ? c->fingerprint : "";
    out->v[1] = c && c->subject ? c->subject : "";
    out->v[2] = c && c->issuer ? c->issuer : "";
    out->v[3] = c && c->serial ? c->serial : "";
    snprintf(out->nb, sizeof(out->nb), "%lld", c ? (long long)c->not_before : 0LL);
    snprintf(out->na, sizeof(out->na), "%lld", c ? (long long)c->not_after : 0LL);
}

/* "SHA256:" + 64 lowercase hex (the form lib/tls writes and the broker sends). */
static int check_cert(store_t *s, const store_cert_t *c)
{
    const char *fp = c->fingerprint;
    bool ok = fp && strlen(fp) == 71 && !strncmp(fp, "SHA256:", 7);
    for (size_t i = 7; ok && i < 71; i++)
        ok = (fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f');
    if (!ok)
        return store_fail(s, ROOST_EINVAL, "certificate", "fingerprint must be SHA256: and 64 lowercase hex digits");
    return 0;
}

static const char *const CERT_FIELDS[STORE_N_FIELDS] = {"cert_fingerprint", "cert_subject", "cert_issuer",
                                                        "cert_serial",      "cert_not_before", "cert_not_after"};

void store_cert_fini(store_cert_t *c)
{
    free((char *)c->fingerprint);
    free((char *)c->subject);
    free((char *)c->issuer);
    free((char *)c->serial);
    memset(c, 0, sizeof(*c));
}

int store_client_get_cert(store_t *s, const char *id, store_cert_t *out)
{
    store_err_reset(s);
    memset(out, 0, sizeof(*out));
    store_client_t *c = NULL;
    int rc = store_client_get(s, id, &c); /* ROOST_ENOTFOUND for no such client */
    store_client_free(&c);
    if (rc < 0)
        return rc;
    redisReply *r = NULL;
    if ((rc = store_get_record(s, "client", id, CERT_FIELDS, STORE_N_FIELDS, &r)) < 0)
        return rc == ROOST_ENOTFOUND ? 1 : rc; /* no fingerprint: no certificate */
    char *f[4] = {0};
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = store_rdup(r->element[i], &f[i]);
    if (rc == 0 && ((rc = store_ri64(r->element[4], &out->not_before)) < 0 ||
                    (rc = store_ri64(r->element[5], &out->not_after)) < 0))
        rc = rc == -ENOMEM ? rc : store_fail(s, ROOST_ESTORE, NULL, "malformed client certificate");
    out->fingerprint = f[0];
    out->subject = f[1];
    out->issuer = f[2];
    out->serial = f[3];
    freeReplyObject(r);
    if (rc < 0)
        store_cert_fini(out);
    return rc;
}

/* Shared tail of the scripts that answer {'OK', record} or a status. */
static int finish_write(store_t *s, redisReply *r, store_sr_t sr, store_client_t **out)
{
    int rc = 0;
    if (sr == SR_NOTFOUND)
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    else if (sr == SR_CONFLICT && r->elements == 2 && store_rstr(r->element[1]) &&
             !strcmp(store_rstr(r->element[1]), "certificate"))
        rc = store_fail(s, ROOST_ECONFLICT, "certificate", "another client holds this certificate");
    else if (sr == SR_CONFLICT)
        rc = store_fail(s, ROOST_ECONFLICT, "username", "already taken");
    else if (sr != SR_OK || r->elements != 2)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    else if (out)
        rc = client_out(s, r->element[1], out);
    freeReplyObject(r);
    return rc;
}

int store_client_create(store_t *s, const store_client_spec_t *spec, store_client_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    int rc;
    /* a certificate client may hold no credentials; credentials are a pair */
    bool creds = !spec->cert || spec->username || spec->password;
    if ((rc = store_check_name(s, "name", spec->name)) < 0 ||
        (creds && (rc = store_check_username(s, spec->username)) < 0) ||
        (creds && (rc = store_check_password(s, spec->password)) < 0) ||
        (spec->cert && (rc = check_cert(s, spec->cert)) < 0) ||
        (spec->client_ids && (rc = store_check_client_ids(s, spec->client_ids)) < 0))        return rc;
    char hash[crypto_pwhash_STRBYTES] = "";
    if (creds && (rc = hash_password(s, spec->password, store_cost(s), hash)) < 0)
        return rc;
    store_stamp_t st;
    store_stamp_new(&st);
    cert_args_t ca;
    cert_args(spec->cert, &ca);
    const char *argv[] = {st.id, st.now, st.member, spec->name, creds ? spec->username : "", hash,
                          ca.v[0], ca.v[1], ca.v[2], ca.v[3], ca.nb, ca.na,
                          creds && spec->cert ? "both" : spec->cert ? "certificate" : "username_password",
                          spec->client_ids ? spec->client_ids : ""};
    redisReply *r = NULL;
    store_sr_t sr;
    rc = store_eval(s, SC_CLIENT_CREATE, 14, argv, NULL, &r, &sr);    sodium_memzero(hash, sizeof(hash));
    if (rc < 0)
        return rc;
    return finish_write(s, r, sr, out);
}

int store_client_get(store_t *s, const char *id, store_client_t **out)
{
    store_err_reset(s);
    *out = NULL;
    redisReply *r = NULL;
    int rc = store_get_record(s, "client", id, CLIENT_FIELDS, STORE_N_FIELDS, &r);
    if (rc < 0)
        return rc;
    rc = client_out(s, r, out);
    freeReplyObject(r);
    return rc;
}

int store_client_ids_get(store_t *s, const char *id, char **out)
{
    store_err_reset(s);
    *out = NULL;
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    char key[STORE_PREFIX_MAX + 16 + STORE_ID_LEN];
    snprintf(key, sizeof(key), "%sclient:%s", store_prefix(s), id);
    const char *argv[] = {"HMGET", key, "id", "client_ids"};
    redisReply *r = NULL;
    int rc = store_cmd(s, 4, argv, NULL, &r);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !store_rstr(r->element[0]))
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    else if (!(*out = strdup(store_rstr(r->element[1]) ? store_rstr(r->element[1]) : "")))
        rc = -ENOMEM;
    freeReplyObject(r);
    return rc;
}

int store_client_get_by_username(store_t *s, const char *username, store_client_t **out)
{
    store_err_reset(s);
    *out = NULL;
    if (!username || !*username)
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    const char *argv[] = {username};
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, SC_CLIENT_BY_USERNAME, 1, argv, NULL, &r, &sr);
    if (rc < 0)
        return rc;
    return finish_write(s, r, sr, out);
}

int store_client_update(store_t *s, const char *id, const store_client_spec_t *spec,
                        store_client_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    int rc = 0;
    if ((spec->name && (rc = store_check_name(s, "name", spec->name)) < 0) ||
        (spec->username && (rc = store_check_username(s, spec->username)) < 0) ||
        (spec->password && (rc = store_check_password(s, spec->password)) < 0) ||
        (spec->cert && (rc = check_cert(s, spec->cert)) < 0) ||
        (spec->client_ids && (rc = store_check_client_ids(s, spec->client_ids)) < 0))        return rc;
    char hash[crypto_pwhash_STRBYTES] = "";
    if (spec->password && (rc = hash_password(s, spec->password, store_cost(s), hash)) < 0)
        return rc;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    cert_args_t ca;
    cert_args(spec->cert, &ca);
    char *ids = NULL; /* "=" + the new patterns, or "" = unchanged */
    if (spec->client_ids && !(ids = malloc(strlen(spec->client_ids) + 2)))
        return -ENOMEM;
    if (ids)
        strcat(strcpy(ids, "="), spec->client_ids);
    const char *argv[] = {id, now, spec->name ? spec->name : "",
                          spec->username ? spec->username : "", hash,
                          ca.v[0], ca.v[1], ca.v[2], ca.v[3], ca.nb, ca.na, ids ? ids : ""};
    redisReply *r = NULL;
    store_sr_t sr;
    rc = store_eval(s, SC_CLIENT_UPDATE, 12, argv, NULL, &r, &sr);    sodium_memzero(hash, sizeof(hash));
    free(ids);
    if (rc < 0)
        return rc;
    return finish_write(s, r, sr, out);
}

int store_client_delete(store_t *s, const char *id)
{
    return store_delete_id(s, SC_CLIENT_DELETE, id);
}

int store_client_list(store_t *s, const char *cursor, size_t limit, const char *search,
                      store_client_page_t **out)
{
    store_err_reset(s);
    *out = NULL;
    int rc = store_check_page(s, cursor, limit);
    if (rc < 0)
        return rc;
    /* Search fields first: name, username. */
    static const char *const fields[STORE_N_FIELDS] = {"name",      "username",   "id",
                                                       "auth_type", "created_at", "updated_at"};
    redisReply *r = NULL;
    rc = store_list_raw(s, "clients", "client", cursor, limit, search, 2, fields,
                        STORE_N_FIELDS, &r);
    if (rc < 0)
        return rc;
    store_client_page_t *p = calloc(1, sizeof(*p));
    size_t n = r->elements - 3;
    if (!p || (n && !(p->items = calloc(n, sizeof(*p->items))))) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = store_list_head(s, r, &p->next_cursor, &p->total)) < 0)
        goto fail;
    for (; p->n < n; p->n++) {
        /* Reorder to CLIENT_FIELDS order: id name auth_type username ... */
        redisReply *v = r->element[3 + p->n];
        if (v->type != REDIS_REPLY_ARRAY || v->elements != STORE_N_FIELDS) {
            rc = store_fail(s, ROOST_ESTORE, NULL, "bad list reply");
            goto fail;
        }
        redisReply *name = v->element[0], *user = v->element[1];
        v->element[0] = v->element[2];
        v->element[1] = name;
        v->element[2] = v->element[3];
        v->element[3] = user;
        if ((rc = client_from(s, v, &p->items[p->n])) < 0)
            goto fail;
    }
    freeReplyObject(r);
    *out = p;
    return 0;
fail:
    freeReplyObject(r);
    store_client_page_free(&p);
    return rc;
}

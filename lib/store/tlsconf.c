/* tlsconf: the brokers' TLS settings in Redis (tlsconf.h). */
#include "store/tlsconf.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/seal.h"
#include "store/store_priv.h"

void store_tls_free(store_tls_t **p)
{
    store_tls_t *t = p ? *p : NULL;
    if (!t)
        return;
    if (t->key_pem) {
        sodium_memzero(t->key_pem, strlen(t->key_pem));
        free(t->key_pem);
    }
    free(t->ca_pem);
    free(t->cert_pem);
    free(t->client_cert);
    free(t);
    *p = NULL;
}

static int dup_or(const redisReply *r, const char *dflt, char **out)
{
    const char *v = store_rstr(r);
    *out = strdup(v ? v : dflt);
    return *out ? 0 : -ENOMEM;
}

/* The stored key in clear into t->key_pem: opened when sealed. */
static int key_from(const redisReply *r, const uint8_t *seal, store_tls_t *t)
{
    const char *v = store_rstr(r);
    if (!seal_is_sealed(v))
        return dup_or(r, "", &t->key_pem);
    int rc = seal ? seal_open(seal, v, &t->key_pem) : ROOST_EINVAL;
    if (rc == ROOST_EINVAL) {
        t->key_unreadable = true;
        t->key_pem = strdup("");
        return t->key_pem ? 0 : -ENOMEM;
    }
    return rc;
}

int store_tls_get(store_t *s, const uint8_t *seal, store_tls_t **out)
{
    store_err_reset(s);
    *out = NULL;
    char key[STORE_PREFIX_MAX + 8];
    snprintf(key, sizeof(key), "%stls", store_prefix(s));
    const char *argv[] = {"HMGET", key, "enabled", "ca", "cert", "key", "client_cert", "updated_at", "version"};
    redisReply *r = NULL;
    int rc = store_cmd(s, 9, argv, NULL, &r);
    if (rc < 0)
        return rc;
    store_tls_t *t = calloc(1, sizeof(*t));
    if (!t)
        rc = -ENOMEM;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 7)
        rc = store_fail(s, ROOST_ESTORE, NULL, "bad tls reply");
    if (!rc) {
        const char *en = store_rstr(r->element[0]);
        t->enabled = en && !strcmp(en, "1");
        if ((rc = dup_or(r->element[1], "", &t->ca_pem)) == 0 && (rc = dup_or(r->element[2], "", &t->cert_pem)) == 0 &&
            (rc = key_from(r->element[3], seal, t)) == 0)
            rc = dup_or(r->element[4], "none", &t->client_cert);
        if (!rc && store_rstr(r->element[5]))
            rc = store_ri64(r->element[5], &t->updated_at);
        if (!rc && store_rstr(r->element[6]))
            rc = store_ri64(r->element[6], &t->version);
    }
    freeReplyObject(r);
    if (rc < 0) {
        store_tls_free(&t);
        return rc;
    }
    *out = t;
    return 0;
}

int store_tls_put(store_t *s, const uint8_t *seal, const store_tls_t *in, int64_t *version)
{
    store_err_reset(s);
    char key[STORE_PREFIX_MAX + 8], now[24];
    snprintf(key, sizeof(key), "%stls", store_prefix(s));
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    const char *plain = in->key_pem ? in->key_pem : "";
    char *sealed = seal && plain[0] ? seal_box(seal, plain) : NULL;
    if (seal && plain[0] && !sealed)
        return -ENOMEM;
    const char *argv[] = {"HSET", key, "enabled", in->enabled ? "1" : "0", "ca", in->ca_pem ? in->ca_pem : "",
                          "cert", in->cert_pem ? in->cert_pem : "", "key", sealed ? sealed : plain,
                          "client_cert", in->client_cert ? in->client_cert : "none", "updated_at", now};
    redisReply *r = NULL;
    int rc = store_cmd(s, 14, argv, NULL, &r);
    free(sealed);
    if (rc < 0)
        return rc;
    freeReplyObject(r);
    /* the version last: a reader that sees it sees the fields written above */
    const char *inc[] = {"HINCRBY", key, "version", "1"};
    if ((rc = store_cmd(s, 4, inc, NULL, &r)) < 0)
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER ? 0 : store_fail(s, ROOST_ESTORE, NULL, "bad tls version reply");
    if (!rc && version)
        *version = r->integer;
    freeReplyObject(r);
    return rc;
}

/* certs: the brokers' TLS certificates, one document (the console's
 * Certificates page; TagoDeploy's Enable Custom Certificate, CA Certificate,
 * Server Certificate, Server Key, Enable MTLS).
 *
 *   GET /api/v1/certificates -> {enabled, mtls, ca_certificate,
 *        server_certificate, server_key_set, certificate (the server
 *        certificate's facts) or null, updated_at}
 *   PUT /api/v1/certificates  {enabled?, mtls?, ca_certificate?,
 *        server_certificate?, server_key?}: members left out keep their
 *        stored value; the result is validated as a whole (lib/tls
 *        tlsctx_validate: PEM parses, key matches, chain verifies against
 *        the CA, not expired) and refused with a 400 naming the field;
 *        {"enabled": false} alone is not validated (an expired certificate
 *        can be switched off).
 *
 * The private key is write-only: no answer carries it, the audit entry only
 * says it changed, and it is never logged. A write publishes a ChangeEvent
 * CERTIFICATES; brokers load the new settings for new handshakes.
 */
#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doc.h"
#include "ops.h"
#include "store/tlsconf.h"
#include "tls/tlscert.h"
#include "tls/tlsctx.h"

static const doc_field_t FIELDS[] = {
    {"enabled", DOC_BOOL, false},
    {"mtls", DOC_STRING, false},
    {"ca_certificate", DOC_STRING, false},
    {"server_certificate", DOC_STRING, false},
    {"server_key", DOC_STRING, false},
};

static void wipe_key(json_t *body)
{
    json_t *k = json_object_get(body, "server_key");
    if (json_is_string(k))
        sodium_memzero((char *)json_string_value(k), json_string_length(k));
}

static json_t *doc_tls(const store_tls_t *t)
{
    json_t *facts = json_null();
    tlscert_facts_t f = {0};
    char why[128];
    /* the facts are shown whether or not the certificate is still valid */
    if (t->cert_pem[0] && tlscert_from_pem(t->cert_pem, (int64_t)time(NULL), &f, why, sizeof(why)) != -ENOMEM &&
        f.fingerprint[0]) {
        store_cert_t c = {f.fingerprint, f.subject, f.issuer, f.serial, f.not_before, f.not_after};
        facts = doc_cert(&c);
    }
    return json_pack("{s:b, s:s, s:s, s:s, s:b, s:o, s:o}", "enabled", t->enabled, "mtls", t->client_cert,
                     "ca_certificate", t->ca_pem, "server_certificate", t->cert_pem, "server_key_set",
                     t->key_pem[0] != 0 || t->key_unreadable, "certificate", facts, "updated_at", doc_time_json(t->updated_at));
}

/* Replaces *slot with the body's string member `name` when present. */
static int take(json_t *body, const char *name, char **slot)
{
    const char *v = doc_str(body, name);
    if (!v)
        return 0;
    char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    if (*slot) {
        sodium_memzero(*slot, strlen(*slot));
        free(*slot);
    }
    *slot = copy;
    return 0;
}

static void put(ops_call_t *c, store_tls_t *t)
{
    json_t *err = NULL;
    if (doc_check(c->body, FIELDS, 5, "", &err)) {
        c->res->status = 400;
        c->res->doc = err;
        return;
    }
    tls_client_cert_t mode;
    const char *m = doc_str(c->body, "mtls");
    if (m && tlsctx_parse_client_cert(m, &mode) < 0) {
        ops_bad_field(c, "mtls", "must be \"none\", \"optional\" or \"required\"");
        return;
    }
    if (t->key_unreadable && !doc_str(c->body, "server_key")) {
        /* writing it back would lose it: the operator uploads it again */
        ops_bad_field(c, "server_key", "the stored key was sealed with another --tls-key-secret (or admin "
                      "has none): upload the key again");
        return;
    }
    json_t *en = json_object_get(c->body, "enabled");
    if (en)
        t->enabled = json_is_true(en);
    if (take(c->body, "mtls", &t->client_cert) < 0 || take(c->body, "ca_certificate", &t->ca_pem) < 0 ||
        take(c->body, "server_certificate", &t->cert_pem) < 0 || take(c->body, "server_key", &t->key_pem) < 0) {
        ops_error(c->res, 500, "out of memory");
        return;
    }
    /* What brokers load must be loadable as it stands, and new material must
     * be valid when it is stored; switching off what is stored needs neither
     * (a certificate that has expired since it was stored can be disabled). */
    bool brings = doc_str(c->body, "server_certificate") || doc_str(c->body, "server_key") ||
                  doc_str(c->body, "ca_certificate") || m;
    if ((t->enabled || brings) && (t->enabled || t->cert_pem[0] || t->key_pem[0])) {
        if (!t->cert_pem[0] || !t->key_pem[0]) {
            ops_bad_field(c, !t->cert_pem[0] ? "server_certificate" : "server_key",
                          "a server certificate and its key are both needed");
            return;
        }
        tlsctx_source_t src = {t->cert_pem, t->key_pem, t->ca_pem, TLS_CLIENT_CERT_NONE,
                               "server_certificate", "server_key", "ca_certificate", "mtls"};
        tlsctx_parse_client_cert(t->client_cert, &src.client_cert);
        char why[512];
        const char *field = tlsctx_validate(&src, why, sizeof(why));
        if (field) {
            ops_bad_field(c, field, why);
            return;
        }
    }
    int64_t version = 0;
    int rc = store_tls_put(c->store, ops_tls_seal(c->ops), t, &version);
    if (rc < 0) {
        ops_store_fail(c, rc);
        return;
    }
    char fields[128], summary[OPS_SUMMARY_MAX];
    doc_changed_fields(c->body, fields, sizeof(fields)); /* names only: never the key */
    snprintf(summary, sizeof(summary), "enabled=%d mtls=%s changed=%s version=%lld", t->enabled,
             t->client_cert, fields[0] ? fields : "nothing", (long long)version);
    ops_committed(c, RPC_CHANGE_CERTIFICATES, RPC_CHANGE_UPDATE, "tls", NULL, summary);
    store_tls_t *now = NULL;
    if ((rc = store_tls_get(c->store, ops_tls_seal(c->ops), &now)) < 0) {
        ops_store_fail(c, rc);
        return;
    }
    c->res->status = 200;
    c->res->doc = doc_tls(now);
    store_tls_free(&now);
}

void certs_ops(ops_call_t *c)
{
    store_tls_t *t = NULL;
    int rc = store_tls_get(c->store, ops_tls_seal(c->ops), &t);
    if (rc < 0) {
        ops_store_fail(c, rc);
    } else if (c->req->op == RPC_ADMIN_CERTIFICATES_PUT) {
        put(c, t);
    } else {
        c->res->status = 200;
        c->res->doc = doc_tls(t);
    }
    store_tls_free(&t);
    wipe_key(c->body);
}

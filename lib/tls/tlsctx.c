#include "tlsctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. */
#define TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"  \
                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* TLS 1.3 suites in the same order of preference: AES-128-GCM first, as for
 * 1.2 (and as Mozilla's server guidelines order them). OpenSSL's default puts
 * AES-256-GCM-SHA384 first, whose SHA-384 key schedule (a dozen HKDF steps
 * per handshake) costs more than SHA-256's for no gain in strength over the
 * X25519/P-256 key exchange the handshake rests on. */
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

static const unsigned char SID_CTX[] = "roost-mqtt";

int tlsctx_parse_client_cert(const char *s, tls_client_cert_t *out)
{
    static const char *names[] = {"none", "optional", "required"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (tls_client_cert_t)i;
            return 0;
        }
    return -1;
}

const char *tlsctx_client_cert_name(tls_client_cert_t m)
{
    return m == TLS_CLIENT_CERT_REQUIRED ? "required"
           : m == TLS_CLIENT_CERT_OPTIONAL ? "optional" : "none";
}

/* "<what>: <OpenSSL's reason>" into err; clears the error queue. */
static void ossl_reason(char *err, size_t cap, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(err, cap, "%s%s%s", what, r ? ": " : "", r ? r : "");
    ERR_clear_error();
}

char *tlsctx_read_file(const char *path, const char *name, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    if (!f) {
        snprintf(err, errcap, "%s: %s: %s", name, path, strerror(errno));
        return NULL;
    }
    enum { MAX = 1 << 20 };
    s = malloc(MAX + 1);
    size_t n = s ? fread(s, 1, MAX + 1, f) : 0;
    if (!s || ferror(f) || n > MAX) {
        snprintf(err, errcap, "%s: %s: %s", name, path,
                 !s ? "out of memory" : n > MAX ? "larger than 1 MiB" : strerror(errno));
        free(s);
        s = NULL;
    } else {
        s[n] = '\0';
    }
    fclose(f);
    return s;
}

static BIO *pem_bio(const char *pem)
{
    return BIO_new_mem_buf(pem, -1);
}

/* The leaf certificate and the intermediates after it. */
static int load_cert_chain(SSL_CTX *ctx, const tlsctx_source_t *src, char *err, size_t cap)
{
    BIO *bio = pem_bio(src->cert_pem);
    X509 *leaf = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int rc = -1;
    if (!leaf) {
        snprintf(err, cap, "%s: no PEM certificate found", src->cert_name);
        ERR_clear_error();
        goto out;
    }
    if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
        char what[128];
        snprintf(what, sizeof(what), "%s: certificate refused", src->cert_name);
        ossl_reason(err, cap, what);
        goto out;
    }
    X509 *extra;
    while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            snprintf(err, cap, "%s: intermediate certificate refused", src->cert_name);
            ERR_clear_error();
            goto out;
        }
    }
    ERR_clear_error(); /* the end of the PEM stream reads as an error */
    rc = 0;
out:
    X509_free(leaf);
    BIO_free(bio);
    return rc;
}

static int load_key(SSL_CTX *ctx, const tlsctx_source_t *src, char *err, size_t cap)
{
    BIO *bio = pem_bio(src->key_pem);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    int rc = -1;
    if (!key) {
        snprintf(err, cap, "%s: no readable PEM private key found (encrypted keys are not supported)",
                 src->key_name);
        ERR_clear_error();
    } else if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, cap, "%s does not match %s", src->key_name, src->cert_name);
        ERR_clear_error();
    } else {
        rc = 0;
    }
    EVP_PKEY_free(key);
    BIO_free(bio);
    return rc;
}

/* Trusts every certificate of the CA bundle for client verification and
 * names them in the CertificateRequest. */
static int load_ca(SSL_CTX *ctx, const tlsctx_source_t *src, char *err, size_t cap)
{
    BIO *bio = pem_bio(src->ca_pem);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    int n = 0, rc = -1;
    X509 *x;
    while (bio && names && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_NAME *nm = X509_NAME_dup(X509_get_subject_name(x));
        int ok = X509_STORE_add_cert(store, x) == 1 && nm && sk_X509_NAME_push(names, nm) > 0;
        X509_free(x);
        if (!ok) {
            X509_NAME_free(nm);
            ossl_reason(err, cap, src->ca_name);
            goto out;
        }
        n++;
    }
    ERR_clear_error();
    if (n == 0) {
        snprintf(err, cap, "%s: no PEM certificate found", src->ca_name);
        goto out;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    names = NULL;
    rc = 0;
out:
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    BIO_free(bio);
    return rc;
}

/* With no intermediates in the certificate PEM, OpenSSL would build the
 * chain it sends from the verify store (the client CA bundle) in every
 * handshake: an X509_verify_cert, signature checks included, a quarter of a
 * handshake's CPU when --tls-ca is set. The same chain is built here once,
 * from the same store and ignoring the same errors (a server certificate the
 * client CA did not sign is sent alone, as before); the handshakes then send
 * it as given. Should the build fail (a CA certificate below OpenSSL's
 * security level), nothing changes: the handshakes build it as before. */
static void build_chain_once(SSL_CTX *ctx)
{
    STACK_OF(X509) *given = NULL;
    SSL_CTX_get0_chain_certs(ctx, &given);
    if (sk_X509_num(given) <= 0 &&
        SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR | SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR) == 0)
        ERR_clear_error();
}

static void fill_info(SSL_CTX *ctx, tlsctx_info_t *info)
{
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    memset(info, 0, sizeof(*info));
    X509_NAME_oneline(X509_get_subject_name(leaf), info->subject, sizeof(info->subject));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(info->serial, sizeof(info->serial), "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1)
        info->not_after = timegm(&tm);
    info->expired = X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0;
}

SSL_CTX *tlsctx_new(const tlsctx_source_t *src, tlsctx_info_t *info, char *err, size_t errcap)
{
    bool want_ca = src->client_cert != TLS_CLIENT_CERT_NONE;
    if (want_ca && !(src->ca_pem && src->ca_pem[0])) {
        snprintf(err, errcap, "%s %s needs %s (the CA that signs client certificates)",
                 src->client_cert_name, tlsctx_client_cert_name(src->client_cert), src->ca_name);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ossl_reason(err, errcap, "cannot create a TLS context");
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 || SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
        SSL_CTX_set_session_id_context(ctx, SID_CTX, sizeof(SID_CTX) - 1) != 1) {
        ossl_reason(err, errcap, "cannot configure the TLS context");
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* no SSL_MODE_RELEASE_BUFFERS here: during a handshake it would free and
     * reallocate the record buffers between flights; the caller turns it on
     * per connection once the handshake is done (tlsctx_established) */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    /* one TLS 1.3 ticket per handshake: a device reconnects with one */
    SSL_CTX_set_num_tickets(ctx, 1);
    /* resumption is by tickets only (their keys are the cluster's, so they
     * open on any broker behind the balancer): no per-process cache of TLS
     * 1.2 sessions by id, which would only grow and hold memory */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (load_cert_chain(ctx, src, err, errcap) < 0 || load_key(ctx, src, err, errcap) < 0)
        goto fail;
    if (src->ca_pem && src->ca_pem[0] && load_ca(ctx, src, err, errcap) < 0)
        goto fail;
    build_chain_once(ctx);
    int mode = SSL_VERIFY_NONE;
    if (src->client_cert == TLS_CLIENT_CERT_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    else if (src->client_cert == TLS_CLIENT_CERT_REQUIRED)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    if (info)
        fill_info(ctx, info);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* Which piece an error text of tlsctx_new is about: they all start with its
 * name (the longest match wins: "--tls-ca" vs "--tls-cert" share a prefix). */
static const char *piece_of(const tlsctx_source_t *src, const char *err)
{
    const char *names[] = {src->cert_name, src->key_name, src->ca_name, src->client_cert_name};
    const char *best = src->cert_name;
    size_t best_len = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = names[i] ? strlen(names[i]) : 0;
        if (n > best_len && !strncmp(err, names[i], n)) {
            best = names[i];
            best_len = n;
        }
    }
    return best;
}

const char *tlsctx_validate(const tlsctx_source_t *src, char *err, size_t errcap)
{
    tlsctx_info_t info;
    SSL_CTX *ctx = tlsctx_new(src, &info, err, errcap);
    if (!ctx)
        return piece_of(src, err);
    const char *bad = NULL;
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (info.expired) {
        snprintf(err, errcap, "%s: the certificate has expired", src->cert_name);
        bad = src->cert_name;
    } else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        snprintf(err, errcap, "%s: the certificate is not valid yet", src->cert_name);
        bad = src->cert_name;
    } else if (src->ca_pem && src->ca_pem[0]) {
        STACK_OF(X509) *chain = NULL;
        SSL_CTX_get0_chain_certs(ctx, &chain);
        X509_STORE_CTX *vc = X509_STORE_CTX_new();
        int ok = vc && X509_STORE_CTX_init(vc, SSL_CTX_get_cert_store(ctx), leaf, chain) == 1 &&
                 X509_verify_cert(vc) == 1;
        if (!ok) {
            int e = vc ? X509_STORE_CTX_get_error(vc) : X509_V_ERR_OUT_OF_MEM;
            snprintf(err, errcap, "%s: does not verify against %s: %s", src->cert_name, src->ca_name,
                     X509_verify_cert_error_string(e));
            bad = src->cert_name;
        }
        X509_STORE_CTX_free(vc);
        ERR_clear_error();
    }
    SSL_CTX_free(ctx);
    return bad;
}

#include "tlscert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

static int name_text(const X509_NAME *n, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -ENOMEM;
    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
    char *p = NULL;
    long len = BIO_get_mem_data(b, &p);
    size_t k = len > 0 ? (size_t)len : 0;
    if (k >= cap)
        k = cap - 1;
    memcpy(out, p, k);
    out[k] = '\0';
    BIO_free(b);
    return 0;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) == 1 ? (int64_t)timegm(&tm) : 0;
}

int tlscert_facts(X509 *x, tlscert_facts_t *out)
{
    static const char hexd[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    memset(out, 0, sizeof(*out));
    if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
        return -ENOMEM;
    memcpy(out->fingerprint, "SHA256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        out->fingerprint[7 + 2 * i] = hexd[md[i] >> 4];
        out->fingerprint[8 + 2 * i] = hexd[md[i] & 15];
    }
    if (name_text(X509_get_subject_name(x), out->subject, sizeof(out->subject)) < 0 ||
        name_text(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer)) < 0)
        return -ENOMEM;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (!hex) {
        BN_free(bn);
        return -ENOMEM;
    }
    snprintf(out->serial, sizeof(out->serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    out->not_before = asn1_unix(X509_get0_notBefore(x));
    out->not_after = asn1_unix(X509_get0_notAfter(x));
    return 0;
}

int tlscert_from_pem(const char *pem, int64_t now, tlscert_facts_t *out, char *err, size_t errcap)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int rc = 0;
    ERR_clear_error();
    if (!b) {
        rc = -ENOMEM;
    } else if (!x) {
        snprintf(err, errcap, "no PEM certificate found");
        rc = ROOST_EINVAL;
    } else if ((rc = tlscert_facts(x, out)) == 0) {
        if (out->not_after < now) {
            snprintf(err, errcap, "the certificate has expired");
            rc = ROOST_EINVAL;
        } else if (out->not_before > now) {
            snprintf(err, errcap, "the certificate is not valid yet");
            rc = ROOST_EINVAL;
        }
    }
    X509_free(x);
    BIO_free(b);
    return rc;
}

/* tlscert: what a certificate says about its holder, in the forms Roost
 * shows and matches: the SHA-256 fingerprint of the DER encoding written
 * "SHA256:" + 64 lowercase hex digits (as TagoDeploy shows it, and as group
 * rules `certificate_fingerprint` hold it), subject and issuer as RFC 2253
 * text, the serial in uppercase hex, and the validity in unix seconds.
 * Pure: no I/O, no logging.
 */
#ifndef ROOST_TLS_TLSCERT_H
#define ROOST_TLS_TLSCERT_H

#include <stddef.h>
#include <stdint.h>

typedef struct x509_st X509;

#define TLSCERT_FINGERPRINT_LEN (7 + 64) /* "SHA256:" + hex */

typedef struct tlscert_facts {
    char fingerprint[TLSCERT_FINGERPRINT_LEN + 1];
    char subject[256];   /* RFC 2253; longer names are cut at 255 bytes */
    char issuer[256];
    char serial[80];     /* uppercase hex, no separators */
    int64_t not_before;  /* unix seconds */
    int64_t not_after;
} tlscert_facts_t;

/* Fills *out from x (borrowed). 0, or -ENOMEM. */
int tlscert_facts(X509 *x, tlscert_facts_t *out);

/* Facts of the first certificate in PEM text (what an operator uploads for
 * a certificate client). 0; ROOST_EINVAL with a reason in err ("no PEM
 * certificate found", "the certificate has expired", "the certificate is
 * not valid yet"); or -ENOMEM. now: unix seconds to judge validity by. */
int tlscert_from_pem(const char *pem, int64_t now, tlscert_facts_t *out, char *err, size_t errcap);

#endif

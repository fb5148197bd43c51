/* tlsticket: session ticket keys shared by every broker of a cluster, so a
 * device that resumes its TLS session on another broker behind the load
 * balancer skips the full handshake there too (RFC 5077 / TLS 1.3 tickets
 * are stateless: what a broker needs is the key that sealed the ticket).
 *
 * A ring holds up to TLSTICKET_MAX keys: the first issues new tickets, the
 * others still open tickets issued before a rotation (their sessions are
 * resumed and given a ticket under the current key). A key is 80 bytes:
 * name (16, sent in the clear in the ticket) | AES-256-CBC key (32) |
 * HMAC-SHA256 key (32), as OpenSSL's ticket callback wants them. Where the
 * keys come from (Redis, rotated) is the caller's business. Single-threaded
 * use (the broker's loop), no logging.
 */
#ifndef ROOST_TLS_TLSTICKET_H
#define ROOST_TLS_TLSTICKET_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssl_ctx_st SSL_CTX;

#define TLSTICKET_KEY_LEN 80
#define TLSTICKET_MAX 3

typedef struct tlsticket_ring tlsticket_ring_t;

/* Caller owns the result; NULL on OOM. Empty: no ticket is issued and
 * none is accepted until keys are set. */
tlsticket_ring_t *tlsticket_ring_new(void);
/* Wipes the keys and frees; nulls *r. NULL-safe. Contexts it was installed
 * on must be gone first. */
void tlsticket_ring_destroy(tlsticket_ring_t **r);
/* Replaces the keys (copied): keys[0] issues; n 0..TLSTICKET_MAX. */
void tlsticket_ring_set(tlsticket_ring_t *r, const uint8_t keys[][TLSTICKET_KEY_LEN], size_t n);
/* ctx seals and opens tickets with r's keys from now on (r must outlive
 * ctx's use). 0, or -1 when OpenSSL refused. */
int tlsticket_install(SSL_CTX *ctx, tlsticket_ring_t *r);

#endif

/* tlsctx: a server TLS context (OpenSSL 3 SSL_CTX) built from PEM text.
 *
 * One code path whatever the source (files named by flags, a Kubernetes
 * Secret's tls.crt/tls.key/ca.crt, or PEM uploaded through admin): the
 * caller reads the text and says what each piece is called in its world
 * (`--tls-key`, `key`), and every refusal names that piece.
 *
 * The context it builds: TLS 1.2 and 1.3 only, forward-secret AEAD cipher
 * suites for 1.2 (1.3's are all AEAD; AES-128-GCM preferred in both), server
 * preference, no compression, session tickets and a session id context (so
 * resumption also works when clients present certificates), no server-side
 * session cache (tickets only), SSL_MODE_RELEASE_BUFFERS left to the caller
 * to set on each connection once its handshake is done (set on the context,
 * it would churn the buffers mid-handshake), partial writes with a moving write buffer (the
 * caller's output buffer may grow between retries), read-ahead (one read()
 * per socket wake, not two per record). Client certificates: none, optional
 * (verified against the CA when sent) or required.
 *
 * Nothing here logs, touches a socket, or keeps global state.
 */
#ifndef ROOST_TLS_TLSCTX_H
#define ROOST_TLS_TLSCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct ssl_ctx_st SSL_CTX;

typedef enum {
    TLS_CLIENT_CERT_NONE = 0,     /* never asked for */
    TLS_CLIENT_CERT_OPTIONAL = 1, /* asked for; verified against the CA when sent */
    TLS_CLIENT_CERT_REQUIRED = 2, /* the handshake fails without a valid one */
} tls_client_cert_t;

/* "none", "optional", "required" -> *out. 0, or -1 for anything else. */
int tlsctx_parse_client_cert(const char *s, tls_client_cert_t *out);
const char *tlsctx_client_cert_name(tls_client_cert_t m);

typedef struct tlsctx_source {
    const char *cert_pem;  /* server certificate, then any intermediates (PEM) */
    const char *key_pem;   /* its private key (PEM, unencrypted) */
    const char *ca_pem;    /* CA bundle client certificates are verified against; NULL or "" */
    tls_client_cert_t client_cert;
    /* what the caller calls each piece, used in error texts */
    const char *cert_name, *key_name, *ca_name, *client_cert_name;
} tlsctx_source_t;

/* What the built context serves, for logs. */
typedef struct tlsctx_info {
    char subject[256];
    char serial[80];        /* hex */
    time_t not_after;
    bool expired;           /* not_after is in the past (the context is built anyway) */
} tlsctx_info_t;

/* Builds a server context from src. Returns the context (caller owns it:
 * SSL_CTX_free) and fills *info when info is not NULL; or NULL with a one-line
 * reason in err naming the piece at fault ("--tls-key does not match
 * --tls-cert"). Never blocks beyond CPU work. */
SSL_CTX *tlsctx_new(const tlsctx_source_t *src, tlsctx_info_t *info, char *err, size_t errcap);

/* What admin checks before storing uploaded certificates: the context builds
 * (PEM parses, key matches), the server certificate is within its validity
 * now, and when a CA is given the server certificate's chain verifies
 * against it. Returns NULL when all is well, or the name (one of src's
 * *_name) of the piece at fault with a one-line reason in err. */
const char *tlsctx_validate(const tlsctx_source_t *src, char *err, size_t errcap);

/* Reads a whole (small) file into a NUL-terminated heap string (caller owns
 * it: free). NULL with "<name>: <path>: <strerror>" in err. Files over 1 MiB
 * are refused. */
char *tlsctx_read_file(const char *path, const char *name, char *err, size_t errcap);

#endif

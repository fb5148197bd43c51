/* tlsconf: the brokers' TLS settings managed through admin (the console's
 * Certificates page): whether they are in use, the CA certificate client
 * certificates are verified against, the server certificate (with any
 * intermediates), its private key, and the client-certificate mode.
 *
 * (G is the global family's prefix "P{g}:" of store/keys.h: one slot.)
 *   G tls   hash  enabled ("1"/"0") ca cert key client_cert updated_at version
 *
 * `version` is incremented by every write, so a broker polling it (the
 * async read in sstore.h, sstore_tls_load) reloads only on change. The key
 * is stored sealed (seal.h) when a seal key is given (admin's
 * --tls-key-secret; brokers hold the same), in clear otherwise (Redis is
 * behind AUTH and the network policy; admin never returns it). Admin
 * validates before writing (lib/tls). Sync, blocking; same rules as store.h.
 */
#ifndef ROOST_STORE_TLSCONF_H
#define ROOST_STORE_TLSCONF_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_tls {
    bool enabled;
    char *ca_pem, *cert_pem, *key_pem; /* "" when unset */
    char *client_cert;                 /* "none", "optional" or "required" */
    bool key_unreadable;               /* a sealed key this seal key cannot open: key_pem "" */
    int64_t updated_at;                /* ms; 0 never written */
    int64_t version;
} store_tls_t;

/* The settings (all fields empty, client_cert "none", when never written);
 * a sealed key is opened with seal (NULL: none; key_unreadable then).
 * 0 and *out (caller owns: store_tls_free), -ENOMEM or ROOST_EUNAVAILABLE. */
int store_tls_get(store_t *s, const uint8_t *seal, store_tls_t **out);
/* Writes every field of in (updated_at and version are set here), the key
 * sealed when seal (SEAL_KEY_LEN bytes) is not NULL, and returns the new
 * version in *version. 0 or as store_tls_get. */
int store_tls_put(store_t *s, const uint8_t *seal, const store_tls_t *in, int64_t *version);
/* Wipes the key and frees; nulls *p. NULL-safe. */
void store_tls_free(store_tls_t **p);

#endif

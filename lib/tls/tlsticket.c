/* tlsticket: shared session ticket keys through OpenSSL's ticket callback
 * (tlsticket.h). */
#include "tls/tlsticket.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

struct tlsticket_ring {
    uint8_t keys[TLSTICKET_MAX][TLSTICKET_KEY_LEN];
    size_t n;
};

#define NAME_LEN 16
#define AES_OFF 16
#define HMAC_OFF 48

static int ring_index = -1; /* the SSL_CTX ex_data slot, made once */

tlsticket_ring_t *tlsticket_ring_new(void)
{
    return calloc(1, sizeof(tlsticket_ring_t));
}

void tlsticket_ring_destroy(tlsticket_ring_t **rp)
{
    if (!rp || !*rp)
        return;
    OPENSSL_cleanse(*rp, sizeof(**rp));
    free(*rp);
    *rp = NULL;
}

void tlsticket_ring_set(tlsticket_ring_t *r, const uint8_t keys[][TLSTICKET_KEY_LEN], size_t n)
{
    OPENSSL_cleanse(r->keys, sizeof(r->keys));
    r->n = n > TLSTICKET_MAX ? TLSTICKET_MAX : n;
    memcpy(r->keys, keys, r->n * TLSTICKET_KEY_LEN);
}

static int set_mac(EVP_MAC_CTX *hctx, const uint8_t *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, 32),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params);
}

/* enc: issue a ticket under keys[0] (1; 0: none issued while the ring is
 * empty). !enc: open one whose name is in the ring (1 under the current key,
 * 2 under an older one: renew it; 0: unknown, full handshake). */
static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    const tlsticket_ring_t *r = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ring_index);
    if (!r || !r->n)
        return 0;
    if (enc) {
        const uint8_t *k = r->keys[0];
        if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1)
            return -1;
        memcpy(name, k, NAME_LEN);
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k + AES_OFF, iv) != 1 || set_mac(hctx, k + HMAC_OFF) != 1)
            return -1;
        return 1;
    }
    for (size_t i = 0; i < r->n; i++) {
        const uint8_t *k = r->keys[i];
        if (CRYPTO_memcmp(name, k, NAME_LEN) != 0)
            continue;
        if (set_mac(hctx, k + HMAC_OFF) != 1 || EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k + AES_OFF, iv) != 1)
            return -1;
        return i == 0 ? 1 : 2;
    }
    return 0;
}

int tlsticket_install(SSL_CTX *ctx, tlsticket_ring_t *r)
{
    if (ring_index < 0 && (ring_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0)
        return -1;
    if (SSL_CTX_set_ex_data(ctx, ring_index, r) != 1 || SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1)
        return -1;
    return 0;
}

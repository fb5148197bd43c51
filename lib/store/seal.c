/* seal: secretbox at rest (seal.h). */
#include "store/seal.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* A key from its text (trimmed): 64 hex or 43 base64url characters. */
static int key_from_text(const char *txt, size_t n, uint8_t key[SEAL_KEY_LEN])
{
    size_t got = 0;
    if (n == 2 * SEAL_KEY_LEN)
        return sodium_hex2bin(key, SEAL_KEY_LEN, txt, n, NULL, &got, NULL) == 0 && got == SEAL_KEY_LEN
                   ? 0 : ROOST_EINVAL;
    if (n == 43)
        return sodium_base642bin(key, SEAL_KEY_LEN, txt, n, NULL, &got, NULL,
                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 && got == SEAL_KEY_LEN
                   ? 0 : ROOST_EINVAL;
    return ROOST_EINVAL;
}

static void trim(const char **p, size_t *n)
{
    while (*n && isspace((unsigned char)**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

int seal_key_parse(const char *spec, uint8_t key[SEAL_KEY_LEN])
{
    const char *p = spec;
    size_t n = strlen(spec);
    trim(&p, &n);
    if (key_from_text(p, n, key) == 0)
        return 0;
    FILE *f = fopen(spec, "r");
    if (!f)
        return errno == ENOENT ? ROOST_EINVAL : -errno;
    char buf[256];
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    p = buf;
    n = len;
    trim(&p, &n);
    int rc = key_from_text(p, n, key);
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

bool seal_is_sealed(const char *text)
{
    return text && !strncmp(text, SEAL_PREFIX, strlen(SEAL_PREFIX));
}

char *seal_box(const uint8_t key[SEAL_KEY_LEN], const char *plain)
{
    size_t n = strlen(plain), raw_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    uint8_t *raw = malloc(raw_len);
    size_t b64 = sodium_base64_encoded_len(raw_len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(strlen(SEAL_PREFIX) + b64);
    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, (const uint8_t *)plain, n, raw, key);
    strcpy(out, SEAL_PREFIX);
    sodium_bin2base64(out + strlen(SEAL_PREFIX), b64, raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
    free(raw);
    return out;
}

int seal_open(const uint8_t key[SEAL_KEY_LEN], const char *text, char **plain)
{
    *plain = NULL;
    if (!seal_is_sealed(text))
        return ROOST_EINVAL;
    const char *b64 = text + strlen(SEAL_PREFIX);
    size_t cap = strlen(b64), raw_len = 0;
    uint8_t *raw = malloc(cap ? cap : 1);
    if (!raw)
        return -ENOMEM;
    int rc = ROOST_EINVAL;
    if (sodium_base642bin(raw, cap, b64, strlen(b64), NULL, &raw_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
        raw_len >= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        size_t n = raw_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
        char *out = malloc(n + 1);
        if (!out) {
            rc = -ENOMEM;
        } else if (crypto_secretbox_open_easy((uint8_t *)out, raw + crypto_secretbox_NONCEBYTES,
                                              raw_len - crypto_secretbox_NONCEBYTES, raw, key) == 0) {
            out[n] = '\0';
            *plain = out;
            rc = 0;
        } else {
            free(out);
        }
    }
    sodium_memzero(raw, cap ? cap : 1);
    free(raw);
    return rc;
}

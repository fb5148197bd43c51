/* seal: a secret kept at rest in Redis encrypted (the TLS private key admin
 * stores for the brokers, tlsconf.h), with libsodium's crypto_secretbox
 * (XSalsa20-Poly1305) under a 32-byte key that the writer (admin) and the
 * readers (brokers) are each given (--tls-key-secret), never Redis.
 *
 * Stored form: "sealed:v1:" + base64 (standard, padded) of nonce (24 random
 * bytes) || box (MAC 16 || ciphertext). Anything else is a value written in
 * clear (before sealing, or by an admin without a key). Pure apart from the
 * random nonce and reading a key file.
 */
#ifndef ROOST_STORE_SEAL_H
#define ROOST_STORE_SEAL_H

#include <stdbool.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
#define SEAL_PREFIX "sealed:v1:"

/* spec: the key as 64 hex digits or 43 base64url characters (32 random
 * bytes, as roost-keys writes them), or the path of a file holding one
 * (surrounding whitespace ignored). 0, ROOST_EINVAL (not a key), or -errno
 * reading the file. */
int seal_key_parse(const char *spec, uint8_t key[SEAL_KEY_LEN]);
bool seal_is_sealed(const char *text);
/* The sealed form of plain; caller owns the result. NULL on OOM. */
char *seal_box(const uint8_t key[SEAL_KEY_LEN], const char *plain);
/* plain from a sealed text: 0 and *plain (caller owns; wipe before free),
 * ROOST_EINVAL when it is malformed or was sealed under another key, or
 * -ENOMEM. */
int seal_open(const uint8_t key[SEAL_KEY_LEN], const char *text, char **plain);

#endif

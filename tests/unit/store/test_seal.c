/* Unit tests for lib/store/seal.c: a sealed text opens with its key and only
 * with it, carries a fresh nonce each time, refuses tampering and malformed
 * input, and keys parse from hex, base64url or a file, nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "base/err.h"
#include "store/seal.h"

static const char HEX[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_round_trip_and_wrong_key(void **state)
{
    (void)state;
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN];
    assert_int_equal(seal_key_parse(HEX, k1), 0);
    for (int i = 0; i < SEAL_KEY_LEN; i++)
        assert_int_equal(k1[i], i);
    memcpy(k2, k1, sizeof(k2));
    k2[31] ^= 1;
    const char *pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----\n";
    char *a = seal_box(k1, pem), *b = seal_box(k1, pem);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(seal_is_sealed(a));
    assert_false(seal_is_sealed(pem));
    assert_null(strstr(a, "PRIVATE"));
    assert_string_not_equal(a, b); /* a fresh nonce each time */
    char *out = NULL;
    assert_int_equal(seal_open(k1, a, &out), 0);
    assert_string_equal(out, pem);
    free(out);
    assert_int_equal(seal_open(k2, a, &out), ROOST_EINVAL);
    assert_null(out);
    /* one flipped character of the box: refused */
    size_t at = strlen(SEAL_PREFIX) + 40;
    a[at] = a[at] == 'A' ? 'B' : 'A';
    assert_int_equal(seal_open(k1, a, &out), ROOST_EINVAL);
    free(a);
    free(b);
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t k[SEAL_KEY_LEN] = {0};
    char *out = NULL;
    const char *bad[] = {"", "plain text", SEAL_PREFIX, SEAL_PREFIX "!!!!", SEAL_PREFIX "AAAA",
                         SEAL_PREFIX "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(seal_open(k, bad[i], &out), ROOST_EINVAL);
        assert_null(out);
    }
    char *empty = seal_box(k, "");
    assert_int_equal(seal_open(k, empty, &out), 0);
    assert_string_equal(out, "");
    free(out);
    free(empty);
}

static void test_key_forms(void **state)
{
    (void)state;
    uint8_t a[SEAL_KEY_LEN], b[SEAL_KEY_LEN];
    assert_int_equal(seal_key_parse(HEX, a), 0);
    char b64[64];
    sodium_bin2base64(b64, sizeof(b64), a, sizeof(a), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(strlen(b64), 43);
    assert_int_equal(seal_key_parse(b64, b), 0);
    assert_memory_equal(a, b, sizeof(a));
    char path[] = "/tmp/roost-seal-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "  %s\n", b64);
    fclose(f);
    memset(b, 0, sizeof(b));
    assert_int_equal(seal_key_parse(path, b), 0);
    assert_memory_equal(a, b, sizeof(a));
    unlink(path);
    const char *bad[] = {"", "short", "0001020304", "/nonexistent/roost-key",
                         "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_true(seal_key_parse(bad[i], b) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_wrong_key),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_key_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/tls/tlscert.c: the facts of a fixed certificate, checked
 * against what `openssl x509 -fingerprint -sha256 -serial -dates -nameopt
 * RFC2253` printed for it when it was made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls/tlscert.h"

static const char PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmjCCAUCgAwIBAgIDGis8MAoGCCqGSM49BAMCMCsxEzARBgNVBAoMClJvb3N0\n"
    "IFRlc3QxFDASBgNVBAMMC3VuaXQtZGV2aWNlMB4XDTI2MTIwNDIwNDE1NFoXDTM2\n"
    "MTIwMTIwNDE1NFowKzETMBEGA1UECgwKUm9vc3QgVGVzdDEUMBIGA1UEAwwLdW5p\n"
    "dC1kZXZpY2UwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATzC5v9Xh2herEdqEHO\n"
    "/BGhlpiNl5QbIRQ9mOvxOaQ0WtB/wMxhZ5wm9akM2IkmxNuQd2Nt7/KlexDHb4gq\n"
    "kwyno1MwUTAdBgNVHQ4EFgQUx3+9piPibMZun6gbVrDnuxUUA+wwHwYDVR0jBBgw\n"
    "FoAUx3+9piPibMZun6gbVrDnuxUUA+wwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjO\n"
    "PQQDAgNIADBFAiB14WYj89G+lmhbTnjmC6LA7fpPttk2VohuaK2vJzcgoAIhAJNw\n"
    "gBdXZY8Xx2zIp6zbgsSUzdI4bhOXbZJIPiU+kj15\n"
    "-----END CERTIFICATE-----\n";

static void test_facts_of_a_known_certificate(void **state)
{
    BIO *b = BIO_new_mem_buf(PEM, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    tlscert_facts_t f;
    assert_int_equal(tlscert_facts(x, &f), 0);
    assert_string_equal(f.fingerprint,
                        "SHA256:932e50d1c0170388b2258081699741f8aa3f4d859826a2ffa33feaf930c5c4a2");
    assert_int_equal(strlen(f.fingerprint), TLSCERT_FINGERPRINT_LEN);
    assert_string_equal(f.subject, "CN=unit-device,O=Roost Test");
    assert_string_equal(f.issuer, "CN=unit-device,O=Roost Test");
    assert_string_equal(f.serial, "1A2B3C");
    assert_int_equal(f.not_before, 1796416914); /* Dec  4 20:41:54 2026 GMT */
    assert_int_equal(f.not_after, 2111776914);  /* Dec  1 20:41:54 2036 GMT */
    X509_free(x);
    BIO_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facts_of_a_known_certificate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/store/ss_dns.c with the machine's real resolver:
 * addresses pass through at once; a name answers -EAGAIN while its lookup
 * runs, then its address, and past the TTL still its address (a refresh
 * runs beside it); a name that does not resolve answers why, is not looked
 * up again within the retry delay, and is after it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/err.h"
#include "store/ss_dns.h"

/* Calls until the answer is not -EAGAIN (at most 10 s), at clock now. */
static int settle(const char *host, uint64_t now, char out[SS_DNS_ADDR_MAX], char *why, size_t n)
{
    for (int i = 0; i < 10000; i++) {
        int rc = ss_dns_addr(host, now, out, why, n);
        if (rc != -EAGAIN)
            return rc;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return -EAGAIN;
}

static void test_addresses_pass_through(void **state)
{
    (void)state;
    char out[SS_DNS_ADDR_MAX], why[200];
    assert_int_equal(ss_dns_addr("127.0.0.1", 1, out, why, sizeof(why)), 0);
    assert_string_equal(out, "127.0.0.1");
    assert_int_equal(ss_dns_addr("::1", 1, out, why, sizeof(why)), 0);
    assert_string_equal(out, "::1");
}

static void test_a_name_is_looked_up_beside_the_caller(void **state)
{
    (void)state;
    char out[SS_DNS_ADDR_MAX], why[200];
    assert_int_equal(ss_dns_addr("localhost", 1000, out, why, sizeof(why)), -EAGAIN);
    assert_string_equal(why, "");
    assert_int_equal(settle("localhost", 1000, out, why, sizeof(why)), 0);
    assert_true(strcmp(out, "127.0.0.1") == 0 || strcmp(out, "::1") == 0);
    /* known: at once, also past the TTL (the refresh runs beside it) */
    char again[SS_DNS_ADDR_MAX];
    assert_int_equal(ss_dns_addr("localhost", 1000 + SS_DNS_TTL_MS + 1, again, why, sizeof(why)), 0);
    assert_string_equal(again, out);
    assert_int_equal(settle("localhost", 1000 + SS_DNS_TTL_MS + 2, again, why, sizeof(why)), 0);
    assert_string_equal(again, out);
}

static void test_an_unknown_name_says_why_and_is_retried_later(void **state)
{
    (void)state;
    char out[SS_DNS_ADDR_MAX], why[200];
    const char *host = "roost-no-such-host.invalid"; /* RFC 6761: never resolves */
    assert_int_equal(settle(host, 5000, out, why, sizeof(why)), ROOST_EUNAVAILABLE);
    assert_non_null(strstr(why, host));
    assert_true(strlen(why) > strlen(host) + 2); /* and the resolver's reason */
    /* within the retry delay: the same answer, no new lookup */
    assert_int_equal(ss_dns_addr(host, 5000 + SS_DNS_RETRY_MS - 1, out, why, sizeof(why)), ROOST_EUNAVAILABLE);
    /* after it: looked up again */
    assert_int_equal(ss_dns_addr(host, 5000 + SS_DNS_RETRY_MS + 1, out, why, sizeof(why)), -EAGAIN);
    assert_int_equal(settle(host, 5000 + SS_DNS_RETRY_MS + 1, out, why, sizeof(why)), ROOST_EUNAVAILABLE);
}

static void test_a_name_too_long(void **state)
{
    (void)state;
    char out[SS_DNS_ADDR_MAX], why[200], host[400];
    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    assert_int_equal(ss_dns_addr(host, 1, out, why, sizeof(why)), ROOST_EUNAVAILABLE);
    assert_string_equal(why, "host name too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_pass_through),
        cmocka_unit_test(test_a_name_is_looked_up_beside_the_caller),
        cmocka_unit_test(test_an_unknown_name_says_why_and_is_retried_later),
        cmocka_unit_test(test_a_name_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

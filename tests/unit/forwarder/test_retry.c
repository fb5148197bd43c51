/* Unit tests of services/forwarder/retry.c: Retry-After as libcurl hands
 * header lines over (RFC 9110 section 10.2.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "retry.h"

static int parse(const char *line, time_t now, long *secs)
{
    return retry_after_parse(line, strlen(line), now, secs);
}

static void delay_seconds(void **state)
{
    (void)state;
    long s = -1;
    assert_int_equal(parse("Retry-After: 5\r\n", 0, &s), 1);
    assert_int_equal(s, 5);
    assert_int_equal(parse("retry-after:120", 0, &s), 1);
    assert_int_equal(s, 120);
    assert_int_equal(parse("RETRY-AFTER:\t0 \r\n", 0, &s), 1);
    assert_int_equal(s, 0);
}

static void http_date(void **state)
{
    (void)state;
    long s = -1;
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    assert_int_equal(parse("Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 784111777 - 30, &s), 1);
    assert_int_equal(s, 30);
    assert_int_equal(parse("Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 784111777 + 30, &s), 1);
    assert_int_equal(s, 0); /* in the past: now */
}

static void refused(void **state)
{
    (void)state;
    long s = 77;
    const char *bad[] = {"Content-Length: 5\r\n", "Retry-After:\r\n", "Retry-After: -5\r\n", "Retry-After: 5s\r\n",
                         "Retry-After: 99999999999999999999\r\n", "Retry-After: tomorrow\r\n",
                         "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT trailing\r\n", "Retry-After", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], 0, &s), 0);
    assert_int_equal(s, 77); /* untouched */
    /* the length bounds the read: "Retry-After: 5" cut before the digit */
    assert_int_equal(retry_after_parse("Retry-After: 5", 13, 0, &s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delay_seconds),
        cmocka_unit_test(http_date),
        cmocka_unit_test(refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

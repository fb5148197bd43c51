/* Unit tests for lib/base/log.c's safety for values from outside: a field
 * holding newlines or other control bytes still makes one line (\xNN),
 * log_quote quotes and escapes and cuts to its buffer, and a quoted value
 * cannot forge another field; log_limit logs a burst per window and
 * reports the count it held back. stderr is captured through a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Runs one log_write with stderr captured; returns what was written. */
static char captured[4096];

static const char *capture_begin(int fds[2], int *saved)
{
    assert_int_equal(pipe(fds), 0);
    *saved = dup(STDERR_FILENO);
    assert_true(*saved >= 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    return NULL;
}

static const char *capture_end(int fds[2], int saved)
{
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof(captured) - 1);
    close(fds[0]);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_control_bytes_stay_on_one_line(void **state)
{
    (void)state;
    log_setup("test", LOG_INFO);
    int fds[2], saved;
    capture_begin(fds, &saved);
    log_info("publish_denied", "client_id=%s topic=%s", "dev\r\n2026 level=error event=forged",
             "a\x01\x7f" "b");
    const char *out = capture_end(fds, saved);
    assert_int_equal(lines(out), 1);
    assert_non_null(strstr(out, "client_id=dev\\x0d\\x0a2026 level=error"));
    assert_non_null(strstr(out, "topic=a\\x01\\x7fb\n"));
}

static void test_quote(void **state)
{
    (void)state;
    char q[LOG_QUOTE_CAP];
    assert_string_equal(log_quote(q, sizeof(q), "a/b c", 5), "\"a/b c\"");
    assert_string_equal(log_quote(q, sizeof(q), "x\" y=\\z", 7), "\"x\\\" y=\\\\z\"");
    assert_string_equal(log_quote(q, sizeof(q), "\n\0t", 3), "\"\\x0a\\x00t\"");
    assert_string_equal(log_quote(q, sizeof(q), "", 0), "\"\"");
    assert_string_equal(log_quote(q, sizeof(q), "dev/1:ok", 8), "dev/1:ok"); /* nothing to quote */
    char small[12]; /* 11 bytes plain, 6 bytes of a quoted value */
    assert_string_equal(log_quote(small, sizeof(small), "abcdefghijk", 11), "abcdefghijk");
    assert_string_equal(log_quote(small, sizeof(small), "abcdefghijkl", 12), "\"abcdef...\"");
    assert_string_equal(log_quote(small, sizeof(small), "abc f", 5), "\"abc f\"");
    assert_string_equal(log_quote(small, sizeof(small), "abcd\n", 5), "\"abcd...\""); /* \x0a does not fit */
    char big[70000];
    memset(big, '/', sizeof(big));
    assert_int_equal(strlen(log_quote(q, sizeof(q), big, sizeof(big))), sizeof(q) - 1);
}

/* A quoted value with a quote and a space in it stays one field. */
static void test_quoted_field_cannot_forge(void **state)
{
    (void)state;
    char q[LOG_QUOTE_CAP];
    int fds[2], saved;
    capture_begin(fds, &saved);
    log_info("subscribe_denied", "client_id=%s filter=x",
             log_quote(q, sizeof(q), "a\" filter=\"#", 12));
    const char *out = capture_end(fds, saved);
    assert_int_equal(lines(out), 1);
    assert_non_null(strstr(out, "client_id=\"a\\\" filter=\\\"#\" filter=x\n"));
}

static void test_limit(void **state)
{
    (void)state;
    log_limit_t l = {0};
    uint32_t report = 99;
    uint32_t t0 = UINT32_MAX - 1000; /* the window crosses the clock's wrap */
    for (int i = 0; i < 3; i++) {
        assert_true(log_limit_allow(&l, t0 + (uint32_t)i, 3, 10000, &report));
        assert_int_equal(report, 0);
    }
    for (int i = 0; i < 50; i++)
        assert_false(log_limit_allow(&l, t0 + 100 + (uint32_t)i, 3, 10000, &report));
    assert_int_equal(report, 0);
    assert_false(log_limit_allow(&l, t0 + 9999, 3, 10000, &report));
    /* a new window: logged again, with the count of the last one */
    assert_true(log_limit_allow(&l, t0 + 10000, 3, 10000, &report));
    assert_int_equal(report, 51);
    assert_true(log_limit_allow(&l, t0 + 10001, 3, 10000, &report));
    assert_int_equal(report, 0);
    /* a quiet window reports nothing */
    assert_true(log_limit_allow(&l, t0 + 30000, 3, 10000, &report));
    assert_int_equal(report, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_bytes_stay_on_one_line),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quoted_field_cannot_forge),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

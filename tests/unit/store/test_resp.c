/* Unit tests of lib/store/resp.c: the wire form is byte for byte what
 * hiredis's redisFormatCommandArgv makes of the same arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "store/resp.h"

static void same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
    char *ref = NULL;
    long long rn = redisFormatCommandArgv(&ref, argc, argv, lens);
    assert_true(rn > 0);
    size_t n = 0;
    char *mine = resp_format(argc, argv, lens, &n);
    assert_non_null(mine);
    assert_int_equal(n, (size_t)rn);
    assert_memory_equal(mine, ref, n);
    assert_int_equal(mine[n], '\0');
    free(mine);
    redisFreeCommand(ref);
}

static void formats_like_hiredis(void **state)
{
    (void)state;
    const char *a1[] = {"PING"};
    size_t l1[] = {4};
    same_as_hiredis(1, a1, l1);
    /* empty, binary (NUL, CR LF) and long arguments; 10+ arguments */
    static char big[123457];
    memset(big, 'x', sizeof(big));
    const char *a2[] = {"EVALSHA", "", "a\0b\r\n", big, "1", "2", "3", "4", "5", "6", "7", "8"};
    size_t l2[] = {7, 0, 5, sizeof(big), 1, 1, 1, 1, 1, 1, 1, 1};
    same_as_hiredis(12, a2, l2);
    /* 1000 arguments of lengths 0..999 */
    const char **a3 = malloc(1000 * sizeof(*a3));
    size_t *l3 = malloc(1000 * sizeof(*l3));
    assert_non_null(a3);
    assert_non_null(l3);
    for (int i = 0; i < 1000; i++) {
        a3[i] = big;
        l3[i] = (size_t)i;
    }
    same_as_hiredis(1000, a3, l3);
    free(a3);
    free(l3);
}

static void u64_digits(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *s;
    } cases[] = {{0, "0"}, {7, "7"}, {10, "10"}, {1796428761707ULL, "1796428761707"},
                 {UINT64_MAX, "18446744073709551615"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[20];
        size_t n = resp_u64(cases[i].v, out);
        assert_int_equal(n, strlen(cases[i].s));
        assert_memory_equal(out, cases[i].s, n);
    }
}

static void refuses_no_arguments(void **state)
{
    (void)state;
    size_t n = 0;
    assert_null(resp_format(0, NULL, NULL, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_like_hiredis),
        cmocka_unit_test(u64_digits),
        cmocka_unit_test(refuses_no_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* coalesce: the first job for a key leads, identical ones wait on it and
 * are handed back once, other keys are independent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coalesce.h"

static void key_of(uint8_t k[CACHE_KEY_LEN], int v)
{
    memset(k, 0, CACHE_KEY_LEN);
    k[0] = (uint8_t)v;
    k[CACHE_KEY_LEN - 1] = (uint8_t)(v * 7);
}

static void test_identical_wait_on_the_leader(void **state)
{
    coalesce_t *c = coalesce_new();
    assert_non_null(c);
    uint8_t a[CACHE_KEY_LEN], b[CACHE_KEY_LEN];
    key_of(a, 1);
    key_of(b, 2);
    int items[20];
    assert_int_equal(coalesce_join(c, a, &items[0]), 0); /* leads */
    assert_int_equal(coalesce_join(c, b, &items[1]), 0); /* another key leads too */
    for (int i = 2; i < 20; i++)                          /* past the first growth */
        assert_int_equal(coalesce_join(c, a, &items[i]), 1);
    void **w;
    assert_int_equal(coalesce_end(c, b, &w), 0);
    assert_null(w);
    assert_int_equal(coalesce_end(c, a, &w), 18);
    for (int i = 0; i < 18; i++)
        assert_ptr_equal(w[i], &items[i + 2]);
    free(w);
    /* ended: the next one leads again, and ending twice hands back nothing */
    assert_int_equal(coalesce_end(c, a, &w), 0);
    assert_int_equal(coalesce_join(c, a, &items[0]), 0);
    assert_int_equal(coalesce_end(c, a, &w), 0);
    coalesce_destroy(&c);
    assert_null(c);
}

static void test_destroy_frees_leaders_left(void **state)
{
    coalesce_t *c = coalesce_new();
    uint8_t a[CACHE_KEY_LEN];
    key_of(a, 3);
    int x;
    assert_int_equal(coalesce_join(c, a, &x), 0);
    assert_int_equal(coalesce_join(c, a, &x), 1);
    coalesce_destroy(&c); /* (leak-checked under the sanitizer build) */
    coalesce_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_wait_on_the_leader),
        cmocka_unit_test(test_destroy_frees_leaders_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

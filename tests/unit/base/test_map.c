/* Unit tests for lib/base/map.c: insert, replace, delete with backward
 * shift, iteration, and a randomized check against a shadow array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/map.h"

static void put_get_replace_delete(void **state)
{
    map_t m;
    map_init(&m);
    int a = 1, b = 2;
    void *old = &a;
    assert_int_equal(map_put(&m, "x", 1, &a, &old), 0);
    assert_null(old);
    assert_ptr_equal(map_get(&m, "x", 1), &a);
    assert_int_equal(map_put(&m, "x", 1, &b, &old), 0);
    assert_ptr_equal(old, &a);
    assert_int_equal(m.count, 1);
    assert_null(map_get(&m, "y", 1));
    assert_null(map_get(&m, "", 0));
    assert_ptr_equal(map_del(&m, "x", 1), &b);
    assert_null(map_get(&m, "x", 1));
    assert_null(map_del(&m, "x", 1));
    assert_int_equal(m.count, 0);
    map_fini(&m);
}

#define N 5000
static void randomized_against_shadow(void **state)
{
    static char keys[N][16];
    static int present[N];
    map_t m;
    map_init(&m);
    srand(7);
    for (int i = 0; i < N; i++)
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
    for (int step = 0; step < 200000; step++) {
        int k = rand() % N;
        size_t len = strlen(keys[k]);
        if (rand() % 3) {
            assert_int_equal(map_put(&m, keys[k], len, keys[k], NULL), 0);
            present[k] = 1;
        } else {
            void *v = map_del(&m, keys[k], len);
            assert_ptr_equal(v, present[k] ? keys[k] : NULL);
            present[k] = 0;
        }
    }
    size_t count = 0;
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(map_get(&m, keys[i], strlen(keys[i])), present[i] ? keys[i] : NULL);
        count += (size_t)present[i];
    }
    assert_int_equal(m.count, count);
    size_t it = 0, seen = 0;
    map_entry_t *e;
    while (map_next(&m, &it, &e))
        seen++;
    assert_int_equal(seen, count);
    map_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_replace_delete),
        cmocka_unit_test(randomized_against_shadow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/base/buf.c: append/consume/compact keep the unread
 * bytes, release frees only an empty buffer, growth past 4 GiB is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void append_consume_compact(void **state)
{
    buf_t b;
    buf_init(&b);
    assert_int_equal(buf_unread(&b), 0);
    assert_int_equal(buf_append(&b, "hello ", 6), 0);
    assert_int_equal(buf_append(&b, "world", 5), 0);
    assert_int_equal(buf_unread(&b), 11);
    assert_memory_equal(buf_head(&b), "hello world", 11);
    buf_consume(&b, 6);
    assert_memory_equal(buf_head(&b), "world", 5);
    buf_compact(&b);
    assert_int_equal(b.pos, 0);
    assert_memory_equal(buf_head(&b), "world", 5);
    buf_release(&b); /* not empty: keeps its storage */
    assert_non_null(b.data);
    buf_consume(&b, 5); /* all read: back to empty */
    assert_int_equal(b.len, 0);
    buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    buf_fini(&b);
}

static void reserve_and_commit(void **state)
{
    buf_t b;
    buf_init(&b);
    assert_int_equal(buf_reserve(&b, 1000), 0);
    assert_true(buf_space(&b) >= 1000);
    memset(buf_tail(&b), 'x', 1000);
    buf_commit(&b, 1000);
    assert_int_equal(buf_unread(&b), 1000);
    /* a large append grows in place and keeps the content */
    static uint8_t big[100000];
    memset(big, 'y', sizeof(big));
    assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(buf_unread(&b), 101000);
    assert_int_equal(buf_head(&b)[999], 'x');
    assert_int_equal(buf_head(&b)[1000], 'y');
    /* the 4 GiB ceiling is refused, and the buffer is unchanged */
    assert_int_equal(buf_reserve(&b, (size_t)UINT32_MAX), -ENOMEM);
    assert_int_equal(buf_unread(&b), 101000);
    buf_fini(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_consume_compact),
        cmocka_unit_test(reserve_and_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

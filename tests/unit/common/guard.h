/* guard.h: input placed against a guard page, for unit tests of code that
 * reads caller buffers (picohttpparser's test.c, STYLE.md 17).
 *
 * A guard is a readable region followed by a PROT_NONE page; guard_put*
 * copy the input so its last byte is the last readable one, so any read
 * past the given length faults. Header-only (static inline), for cmocka
 * test files; one guard per independent input that must stay valid. */
#ifndef ROOST_TEST_GUARD_H
#define ROOST_TEST_GUARD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
    char *page;  /* `size` readable bytes; the next page is PROT_NONE */
    size_t size;
};

/* Maps a guard of cap bytes (a multiple of the page size). 0 or -1; does
 * not assert, so a cmocka group setup can use it. */
static inline int guard_open(struct guard *g, size_t cap)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, cap + ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    *g = (struct guard){p, cap};
    return mprotect(g->page + cap, ps, PROT_NONE);
}

/* A guard of one page; fails the test if it cannot be mapped. */
static inline struct guard guard_new(void)
{
    struct guard g = {NULL, 0}; /* filled by guard_open (gcc -O3 cannot see it through the assert) */
    assert_int_equal(guard_open(&g, (size_t)sysconf(_SC_PAGESIZE)), 0);
    return g;
}

/* Unmaps g. 0 or -1. */
static inline int guard_free(struct guard *g)
{
    int rc = munmap(g->page, g->size + (size_t)sysconf(_SC_PAGESIZE));
    g->page = NULL;
    return rc;
}

/* n bytes of src copied so the last one touches the guard page (src may
 * already lie in the guard). Valid until the next put into g. */
static inline const void *guard_put_bytes(struct guard *g, const void *src, size_t n)
{
    assert_true(n <= g->size);
    char *dst = g->page + g->size - n;
    if (n)
        memmove(dst, src, n);
    return dst;
}

/* The string s (without its NUL) placed as guard_put_bytes does. */
static inline const char *guard_put(struct guard *g, const char *s)
{
    return guard_put_bytes(g, s, strlen(s));
}

#endif

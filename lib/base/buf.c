#include "base/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b) { memset(b, 0, sizeof(*b)); }

void buf_fini(buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int buf_reserve(buf_t *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    if (b->pos > 0) {
        buf_compact(b);
        if (b->cap - b->len >= n)
            return 0;
    }
    if (n > UINT32_MAX - 1 - (size_t)b->len)
        return -ENOMEM;
    size_t need = (size_t)b->len + n;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX - 1)
        cap = UINT32_MAX - 1;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = (uint32_t)cap;
    return 0;
}

int buf_append(buf_t *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += (uint32_t)n;
    return 0;
}

void buf_consume(buf_t *b, size_t n)
{
    b->pos += (uint32_t)n;
    if (b->pos >= b->len)
        b->pos = b->len = 0;
}

void buf_compact(buf_t *b)
{
    if (b->pos == 0)
        return;
    uint32_t n = b->len - b->pos;
    if (n)
        memmove(b->data, b->data + b->pos, n);
    b->pos = 0;
    b->len = n;
}

void buf_release(buf_t *b)
{
    if (buf_unread(b) == 0) {
        free(b->data);
        memset(b, 0, sizeof(*b));
    }
}

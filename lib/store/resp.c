/* resp: commands in RESP wire form (resp.h). */
#include "store/resp.h"

#include <stdlib.h>
#include <string.h>

/* Decimal digits of v written backwards into the end of buf[20]; returns
 * where they start. */
static char *digits(uint64_t v, char buf[20])
{
    char *p = buf + 20;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

size_t resp_u64(uint64_t v, char out[20])
{
    char buf[20], *d = digits(v, buf);
    size_t n = (size_t)(buf + 20 - d);
    memcpy(out, d, n);
    return n;
}

static size_t ndigits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes c, the number, "\r\n" at out; returns the bytes written. */
static size_t header(char *out, char c, size_t v)
{
    char buf[20], *d = digits(v, buf);
    size_t n = (size_t)(buf + 20 - d);
    out[0] = c;
    memcpy(out + 1, d, n);
    out[1 + n] = '\r';
    out[2 + n] = '\n';
    return n + 3;
}

char *resp_format(int argc, const char *const *argv, const size_t *lens, size_t *len)
{
    if (argc < 1)
        return NULL;
    size_t total = 3 + ndigits((size_t)argc);
    for (int i = 0; i < argc; i++)
        total += 5 + ndigits(lens[i]) + lens[i];
    char *out = malloc(total + 1);
    if (!out)
        return NULL;
    size_t at = header(out, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        at += header(out + at, '$', lens[i]);
        if (lens[i])
            memcpy(out + at, argv[i], lens[i]);
        at += lens[i];
        out[at++] = '\r';
        out[at++] = '\n';
    }
    out[at] = '\0';
    *len = at;
    return out;
}

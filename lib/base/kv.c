#include "base/kv.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool bare(unsigned char c)
{
    return c > 0x20 && c < 0x7F && c != '"' && c != '=' && c != '\\';
}

/* Longest prefix of at most max bytes that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *v, size_t max)
{
    size_t n = strnlen(v, max);
    if (n == max && v[n] != '\0')
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    return n;
}

const char *kv_value(char *out, size_t cap, const char *v, size_t max_in)
{
    size_t n = utf8_cut(v ? v : "", max_in);
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = !bare((unsigned char)v[i]);
    if (!quote) {
        snprintf(out, cap, "%.*s", (int)n, v);
        return out;
    }
    size_t o = 0;
    if (cap < 3) {
        out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        char esc[5];
        size_t el;
        if (c == '"' || c == '\\')
            el = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c == '\n' || c == '\r' || c == '\t')
            el = (size_t)snprintf(esc, sizeof(esc), "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (c < 0x20 || c == 0x7F)
            el = (size_t)snprintf(esc, sizeof(esc), "\\x%02X", c);
        else {
            /* a whole UTF-8 sequence at once, so a cut never splits one */
            el = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (i + el > n)
                el = n - i;
            memcpy(esc, v + i, el);
            i += el - 1;
        }
        if (o + el + 2 > cap) /* room for the closing quote and the NUL */
            break;
        memcpy(out + o, esc, el);
        o += el;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

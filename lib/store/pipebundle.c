/* pipebundle: several packed messages in one queue entry (pipebundle.h). */
#include "store/pipebundle.h"

size_t pipebundle_count(const uint8_t *b, size_t n)
{
    return n < PIPEBUNDLE_HEAD ? 1 : (size_t)b[1] << 8 | b[2];
}

void pipebundle_head(uint8_t *out, size_t count)
{
    out[0] = PIPEBUNDLE_VERSION;
    out[1] = (uint8_t)(count >> 8);
    out[2] = (uint8_t)count;
}

void pipebundle_member_head(uint8_t *out, size_t len)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(len >> (8 * (3 - i)));
}

int pipebundle_decode(const uint8_t *b, size_t n, pipebundle_member_t *out, size_t cap)
{
    if (n < PIPEBUNDLE_HEAD || b[0] != PIPEBUNDLE_VERSION)
        return -1;
    size_t count = pipebundle_count(b, n);
    if (count == 0 || count > cap)
        return -1;
    size_t at = PIPEBUNDLE_HEAD;
    for (size_t i = 0; i < count; i++) {
        if (n - at < PIPEBUNDLE_MEMBER_HEAD)
            return -1;
        size_t len = (size_t)b[at] << 24 | (size_t)b[at + 1] << 16 | (size_t)b[at + 2] << 8 | b[at + 3];
        at += PIPEBUNDLE_MEMBER_HEAD;
        if (n - at < len)
            return -1;
        out[i] = (pipebundle_member_t){b + at, len};
        at += len;
    }
    return at == n ? (int)count : -1;
}

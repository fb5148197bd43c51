/* fuzz: roost_mqtt */
/* Fuzzes lib/mqtt/topic.c: the checks, matching and the literal prefix never
 * crash or read past their lengths, and satisfy these invariants:
 *   - a valid name is a valid filter, and is exactly a wildcard-free string;
 *   - a valid name matches itself as a filter;
 *   - "#" matches every valid name not starting with '$';
 *   - a wildcard-free filter matches exactly the equal name;
 *   - every name a filter matches begins with its literal prefix.
 * Input: first byte splits the rest into a filter part and a name part. Each
 * part is copied into its own heap buffer of exact size so ASan catches any
 * read past the length.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/topic.h"

/* Not assert(): release builds define NDEBUG, and these checks are the point. */
#define CHECK(x)                                                                   \
    do {                                                                           \
        if (!(x))                                                                  \
            __builtin_trap();                                                      \
    } while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *s = malloc(n ? n : 1);
    if (s && n)
        memcpy(s, p, n);
    return s;
}

static void check_one(const char *s, size_t len)
{
    bool fvalid = topic_check_filter(s, len) == 0;
    bool nvalid = topic_check_name(s, len) == 0;
    bool wild = topic_has_wildcard(s, len);
    size_t pre = topic_literal_prefix(s, len);
    CHECK(pre <= len);
    CHECK(!nvalid || fvalid);
    CHECK(nvalid == (len > 0 && !wild));
    if (fvalid && !wild)
        CHECK(pre == len);
    if (fvalid && pre < len) /* the prefix stops at a level boundary */
        CHECK(pre == 0 || s[pre] == '/' || s[pre - 1] == '/');
    if (nvalid) {
        CHECK(topic_match(s, len, s, len));
        CHECK(topic_match("#", 1, s, len) == (s[0] != '$'));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t split = data[0] % size;
    const uint8_t *rest = data + 1;
    size_t flen = split, tlen = size - 1 - split;
    char *f = dup_exact(rest, flen), *t = dup_exact(rest + flen, tlen);
    if (f == NULL || t == NULL)
        goto done;
    check_one(f, flen);
    check_one(t, tlen);
    if (topic_check_filter(f, flen) == 0 && topic_check_name(t, tlen) == 0) {
        bool m = topic_match(f, flen, t, tlen);
        if (!topic_has_wildcard(f, flen))
            CHECK(m == (flen == tlen && memcmp(f, t, flen) == 0));
        size_t pre = topic_literal_prefix(f, flen);
        if (m)
            CHECK(tlen >= pre && memcmp(f, t, pre) == 0);
    }
done:
    free(f);
    free(t);
    return 0;
}

/* fuzz: roost_mqtt */
/* Differential fuzzing of lib/mqtt/subtrie.c: the input is a sequence of
 * operations on one trie, mirrored in a shadow list of (filter, sub, options)
 * triples; every match is checked against topic_match over the shadow list,
 * every add/remove result against the shadow's contents.
 *
 * Operation encoding, repeated until the input runs out:
 *   op byte:   op % 4 -> 0 add, 1 remove, 2-3 match; bit 7 maps the string
 *              bytes onto the alphabet "ab/+#$/" (dense collisions), else raw
 *   add/remove: one subscriber byte (% NSUBS), one options byte
 *   all:        one length byte (% 64), then that many string bytes
 * Strings that topic_check_filter / topic_check_name reject are not fed to
 * the trie (its contract requires valid input) but are still checked.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/subtrie.h"
#include "mqtt/topic.h"

/* Not assert(): release builds define NDEBUG, and these checks are the point. */
#define CHECK(x)                                                                   \
    do {                                                                           \
        if (!(x))                                                                  \
            __builtin_trap();                                                      \
    } while (0)

#define NSUBS 8
#define SHADOW_MAX 256
#define STR_MAX 64

struct entry {
    char f[STR_MAX];
    size_t len;
    int sub;
    uint8_t opt;
};

struct pair {
    uintptr_t sub;
    uint8_t opt;
};

struct run {
    struct pair got[SHADOW_MAX];
    size_t n;
    bool overflow;
};

static char subs[NSUBS];

static void collect(void *sub, uint8_t options, void *ctx)
{
    struct run *r = ctx;
    if (r->n == SHADOW_MAX) {
        r->overflow = true;
        return;
    }
    r->got[r->n++] = (struct pair){(uintptr_t)sub, options};
}

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->sub != y->sub)
        return x->sub < y->sub ? -1 : 1;
    return (int)x->opt - (int)y->opt;
}

static size_t find(const struct entry *sh, size_t n, const char *f, size_t len, int sub)
{
    for (size_t i = 0; i < n; i++)
        if (sh[i].sub == sub && sh[i].len == len && memcmp(sh[i].f, f, len) == 0)
            return i;
    return n;
}

static void check_match(const subtrie_t *t, const struct entry *sh, size_t n, const char *s,
                        size_t len)
{
    static struct run r;
    struct pair want[SHADOW_MAX];
    size_t nw = 0;
    r.n = 0;
    r.overflow = false;
    subtrie_match(t, s, len, collect, &r);
    CHECK(!r.overflow);
    for (size_t i = 0; i < n; i++)
        if (topic_match(sh[i].f, sh[i].len, s, len))
            want[nw++] = (struct pair){(uintptr_t)&subs[sh[i].sub], sh[i].opt};
    CHECK(r.n == nw);
    qsort(r.got, r.n, sizeof r.got[0], cmp_pair);
    qsort(want, nw, sizeof want[0], cmp_pair);
    for (size_t i = 0; i < nw; i++) /* field by field: the struct has padding */
        CHECK(r.got[i].sub == want[i].sub && r.got[i].opt == want[i].opt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char alpha[] = "ab/+#$/";
    static struct entry sh[SHADOW_MAX];
    size_t n = 0, i = 0;
    subtrie_t *t = subtrie_new();
    if (t == NULL)
        return 0;
    while (i < size) {
        uint8_t op = data[i++];
        int kind = op % 4, sub = 0;
        uint8_t opt = 0;
        if (kind < 2) {
            if (size - i < 2)
                break;
            sub = data[i++] % NSUBS;
            opt = data[i++];
        }
        if (i >= size)
            break;
        size_t len = data[i++] % STR_MAX;
        if (len > size - i)
            len = size - i;
        char s[STR_MAX];
        for (size_t k = 0; k < len; k++)
            s[k] = (op & 0x80) ? alpha[data[i + k] % (sizeof alpha - 1)] : (char)data[i + k];
        i += len;

        bool fvalid = topic_check_filter(s, len) == 0;
        bool nvalid = topic_check_name(s, len) == 0;
        CHECK(!nvalid || fvalid);                     /* a name is a filter */
        CHECK(nvalid == (len > 0 && !topic_has_wildcard(s, len)));

        if (kind == 0 && fvalid) {
            size_t at = find(sh, n, s, len, sub);
            if (at == n && n == SHADOW_MAX)
                continue;
            bool existed = false;
            int rc = subtrie_add(t, s, len, &subs[sub], opt, &existed);
            if (rc != 0)
                continue; /* -ENOMEM only; the trie is unchanged */
            CHECK(existed == (at < n));
            if (at == n) {
                memcpy(sh[n].f, s, len);
                sh[n].len = len;
                sh[n].sub = sub;
                n++;
            }
            sh[at].opt = opt;
        } else if (kind == 1 && fvalid) {
            size_t at = find(sh, n, s, len, sub);
            int rc = subtrie_remove(t, s, len, &subs[sub]);
            CHECK(rc == 0 ? at < n : at == n);
            if (at < n)
                sh[at] = sh[--n];
        } else if (kind >= 2 && nvalid) {
            check_match(t, sh, n, s, len);
        }
        CHECK(subtrie_count(t) == n);
    }
    /* remove everything: the trie must agree to the last pair */
    while (n > 0) {
        n--;
        CHECK(subtrie_remove(t, sh[n].f, sh[n].len, &subs[sh[n].sub]) == 0);
    }
    CHECK(subtrie_count(t) == 0);
    subtrie_destroy(&t);
    return 0;
}

/* subtrie: subscription trie. See subtrie.h for the contract.
 *
 * Layout. One node per filter level. A node stores its level bytes inline,
 * a parent pointer (so removal and destruction walk up without a stack), two
 * dedicated pointers for its '+' and '#' children, and its literal children
 * either as a short array (up to KIDS_ARRAY_MAX, linear scan on length and
 * bytes) or, above that, as an open-addressing table of node pointers with
 * linear probing keyed by the level hash cached in each node (load <= 3/4,
 * backward-shift deletion, no tombstones). Subscribers of the filter ending
 * at a node live in one block: `cap` pointers followed by `cap` option bytes
 * (9 bytes a slot instead of 16 for an array of structs). Lists of
 * SUBS_INDEX_MIN subscribers or more also get a position index so adding or
 * removing one subscriber among 100k is O(1), not a scan.
 *
 * Matching is an iterative depth-first walk over the nodes the topic can
 * reach, using the parent pointers to come back up: no recursion, no explicit
 * stack, no allocation, so a 65535-level topic cannot overflow anything. Each
 * node is entered at most once per match (a node's depth fixes which topic
 * level it is compared with), so the cost is bounded by the number of
 * reachable nodes plus the subscribers reported.
 *
 * Memory for a filter "dev/<id>/cmd" of one subscriber, beyond shared
 * prefixes: two nodes (56 bytes + level bytes each, before malloc rounding),
 * one subscriber block (24 + 9 bytes), and a parent slot (8-16 bytes).
 */
#include "mqtt/subtrie.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define LEVEL_MAX 65535u      /* a filter is at most 65535 bytes */
#define KIDS_ARRAY_MAX 8u     /* literal children kept in a plain array up to this */
#define KIDS_HASH_MIN 32u     /* first hash table size */
#define SUBS_INDEX_MIN 32u    /* build a subscriber index from this many */
#define SUBS_INDEX_DROP 8u    /* drop it below this many */
#define NOT_FOUND UINT32_MAX

struct sublist {
    uint32_t n, cap;
    uint32_t *idx; /* NULL, or icap slots holding position + 1 (0 = empty) */
    uint32_t icap;
    void *subs[];  /* cap pointers, then cap option bytes */
};

struct node {
    struct node *parent;  /* NULL for the root */
    struct node *plus;    /* the '+' child */
    struct node *hash;    /* the '#' child */
    struct node **kids;   /* literal children: array or hash table, see kcap */
    struct sublist *subs; /* NULL when no filter ends here */
    uint32_t hv;          /* level_hash(level) */
    uint32_t nkids;
    uint32_t kcap;        /* <= KIDS_ARRAY_MAX: array; otherwise a power of 2 table */
    uint16_t len;
    char level[];
};

struct subtrie {
    struct node *root;
    size_t count;
};

/* ---- levels and hashes ---- */

/* (The usual level is short: its first 16 bytes are scanned inline, a
 * longer rest by memchr. Every publish ends one level per topic level.) */
static inline size_t level_end(const char *s, size_t len, size_t pos)
{
    size_t stop = len - pos > 16 ? pos + 16 : len;
    for (size_t i = pos; i < stop; i++)
        if (s[i] == '/')
            return i;
    if (stop == len)
        return len;
    const char *slash = memchr(s + stop, '/', len - stop);
    return slash ? (size_t)(slash - s) : len;
}

static uint32_t mix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static uint32_t level_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a, then a finalizer for the low bits */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return mix32(h);
}

static uint32_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static bool is_wild(const char *s, size_t n, char c)
{
    return n == 1 && s[0] == c;
}

/* ---- literal children ---- */

/* (A level of up to 8 bytes, the usual, is compared inline: a call to
 * memcmp costs more than its bytes. Every publish compares one per level.) */
static inline bool node_is(const struct node *k, const char *s, size_t n)
{
    if (k->len != n)
        return false;
    if (n > 8)
        return memcmp(k->level, s, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (k->level[i] != s[i])
            return false;
    return true;
}

/* (Inline: called once per topic level of every publish.) */
static inline __attribute__((always_inline)) struct node *kid_find(const struct node *n,
                                                                   const char *s, size_t len)
{
    if (n->kcap <= KIDS_ARRAY_MAX) {
        for (uint32_t i = 0; i < n->nkids; i++)
            if (node_is(n->kids[i], s, len))
                return n->kids[i];
        return NULL;
    }
    uint32_t hv = level_hash(s, len), mask = n->kcap - 1;
    for (uint32_t i = hv & mask;; i = (i + 1) & mask) {
        struct node *k = n->kids[i];
        if (k == NULL || (k->hv == hv && node_is(k, s, len)))
            return k;
    }
}

static void table_put(struct node **tab, uint32_t cap, struct node *k)
{
    uint32_t mask = cap - 1, i = k->hv & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = k;
}

/* Moves the children into a new array (cap <= KIDS_ARRAY_MAX) or table. */
static int kids_rebuild(struct node *n, uint32_t cap)
{
    struct node **tab = calloc(cap, sizeof *tab);
    if (tab == NULL)
        return -ENOMEM;
    uint32_t j = 0;
    uint32_t old = n->kcap <= KIDS_ARRAY_MAX ? n->nkids : n->kcap;
    for (uint32_t i = 0; i < old; i++) {
        struct node *k = n->kids[i];
        if (k == NULL)
            continue;
        if (cap <= KIDS_ARRAY_MAX)
            tab[j++] = k;
        else
            table_put(tab, cap, k);
    }
    free(n->kids);
    n->kids = tab;
    n->kcap = cap;
    return 0;
}

static int kid_add(struct node *n, struct node *k)
{
    if (n->kcap <= KIDS_ARRAY_MAX && n->nkids == n->kcap) {
        uint32_t cap = n->kcap ? n->kcap * 2 : 1;
        int rc = kids_rebuild(n, cap <= KIDS_ARRAY_MAX ? cap : KIDS_HASH_MIN);
        if (rc < 0)
            return rc;
    } else if (n->kcap > KIDS_ARRAY_MAX && (n->nkids + 1) * 4 > n->kcap * 3) {
        int rc = kids_rebuild(n, n->kcap * 2);
        if (rc < 0)
            return rc;
    }
    if (n->kcap <= KIDS_ARRAY_MAX)
        n->kids[n->nkids] = k;
    else
        table_put(n->kids, n->kcap, k);
    n->nkids++;
    return 0;
}

/* Never fails: shrinking is best effort. */
static void kid_del(struct node *n, struct node *k)
{
    if (n->kcap <= KIDS_ARRAY_MAX) {
        uint32_t i = 0;
        while (n->kids[i] != k)
            i++;
        n->kids[i] = n->kids[--n->nkids];
        n->kids[n->nkids] = NULL;
        if (n->nkids == 0) {
            free(n->kids);
            n->kids = NULL;
            n->kcap = 0;
        }
        return;
    }
    uint32_t mask = n->kcap - 1, i = k->hv & mask;
    while (n->kids[i] != k)
        i = (i + 1) & mask;
    n->kids[i] = NULL;
    for (uint32_t j = (i + 1) & mask; n->kids[j]; j = (j + 1) & mask) {
        uint32_t home = n->kids[j]->hv & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            n->kids[i] = n->kids[j];
            n->kids[j] = NULL;
            i = j;
        }
    }
    n->nkids--;
    if (n->nkids <= KIDS_ARRAY_MAX / 2)
        (void)kids_rebuild(n, KIDS_ARRAY_MAX);
    else if (n->kcap > KIDS_HASH_MIN && n->nkids * 8 < n->kcap)
        (void)kids_rebuild(n, n->kcap / 2);
}

/* ---- subscriber lists ---- */

static uint8_t *sub_opts(struct sublist *l)
{
    return (uint8_t *)(l->subs + l->cap);
}

static uint32_t sub_find(const struct sublist *l, const void *sub)
{
    if (l->idx) {
        uint32_t mask = l->icap - 1;
        for (uint32_t i = ptr_hash(sub) & mask; l->idx[i]; i = (i + 1) & mask)
            if (l->subs[l->idx[i] - 1] == sub)
                return l->idx[i] - 1;
        return NOT_FOUND;
    }
    for (uint32_t i = 0; i < l->n; i++)
        if (l->subs[i] == sub)
            return i;
    return NOT_FOUND;
}

static void idx_put(struct sublist *l, uint32_t pos)
{
    uint32_t mask = l->icap - 1, i = ptr_hash(l->subs[pos]) & mask;
    while (l->idx[i])
        i = (i + 1) & mask;
    l->idx[i] = pos + 1;
}

/* Index slot holding pos (which must be indexed). */
static uint32_t idx_slot(const struct sublist *l, uint32_t pos)
{
    uint32_t mask = l->icap - 1, i = ptr_hash(l->subs[pos]) & mask;
    while (l->idx[i] != pos + 1)
        i = (i + 1) & mask;
    return i;
}

/* (Re)builds the index sized for l->n; without memory the list simply falls
 * back to scanning, so this cannot fail. */
static void idx_rebuild(struct sublist *l)
{
    free(l->idx);
    l->idx = NULL;
    l->icap = 0;
    if (l->n < SUBS_INDEX_MIN)
        return;
    uint32_t cap = 64;
    while (cap < l->n * 4)
        cap *= 2;
    l->idx = calloc(cap, sizeof *l->idx);
    if (l->idx == NULL)
        return;
    l->icap = cap;
    for (uint32_t i = 0; i < l->n; i++)
        idx_put(l, i);
}

static void idx_del(struct sublist *l, uint32_t pos)
{
    uint32_t mask = l->icap - 1, i = idx_slot(l, pos);
    l->idx[i] = 0;
    for (uint32_t j = (i + 1) & mask; l->idx[j]; j = (j + 1) & mask) {
        uint32_t home = ptr_hash(l->subs[l->idx[j] - 1]) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            l->idx[i] = l->idx[j];
            l->idx[j] = 0;
            i = j;
        }
    }
}

/* Reallocates *lp to cap slots (cap >= n), keeping entries and index. */
static int subs_resize(struct sublist **lp, uint32_t cap)
{
    struct sublist *old = *lp;
    struct sublist *l = malloc(sizeof *l + (size_t)cap * (sizeof(void *) + 1));
    if (l == NULL)
        return -ENOMEM;
    l->n = old ? old->n : 0;
    l->cap = cap;
    l->idx = old ? old->idx : NULL;
    l->icap = old ? old->icap : 0;
    if (old) {
        memcpy(l->subs, old->subs, l->n * sizeof(void *));
        memcpy(sub_opts(l), sub_opts(old), l->n);
        free(old);
    }
    *lp = l;
    return 0;
}

static void subs_free(struct sublist **lp)
{
    if (*lp) {
        free((*lp)->idx);
        free(*lp);
        *lp = NULL;
    }
}

/* Adds or updates; *existed says which. Returns 0 or -ENOMEM. */
static int subs_put(struct node *n, void *sub, uint8_t options, bool *existed)
{
    uint32_t pos = n->subs ? sub_find(n->subs, sub) : NOT_FOUND;
    if (pos != NOT_FOUND) {
        sub_opts(n->subs)[pos] = options;
        *existed = true;
        return 0;
    }
    *existed = false;
    if (n->subs == NULL || n->subs->n == n->subs->cap) {
        if (n->subs && n->subs->n >= UINT32_MAX / 2)
            return -ENOMEM;
        int rc = subs_resize(&n->subs, n->subs ? n->subs->cap * 2 : 1);
        if (rc < 0)
            return rc;
    }
    struct sublist *l = n->subs;
    pos = l->n++;
    l->subs[pos] = sub;
    sub_opts(l)[pos] = options;
    if (l->idx && l->n * 2 <= l->icap)
        idx_put(l, pos);
    else if (l->n >= SUBS_INDEX_MIN)
        idx_rebuild(l);
    return 0;
}

/* Removes the entry at pos by moving the last one into its place. */
static void subs_del(struct node *n, uint32_t pos)
{
    struct sublist *l = n->subs;
    uint32_t last = l->n - 1;
    if (l->idx) {
        idx_del(l, pos);
        if (pos != last)
            l->idx[idx_slot(l, last)] = pos + 1;
    }
    l->subs[pos] = l->subs[last];
    sub_opts(l)[pos] = sub_opts(l)[last];
    l->n--;
    if (l->n == 0) {
        subs_free(&n->subs);
        return;
    }
    if (l->idx && (l->n < SUBS_INDEX_DROP || l->n * 16 < l->icap))
        idx_rebuild(l);
    if (l->cap >= 8 && l->n < l->cap / 4)
        (void)subs_resize(&n->subs, l->cap / 2);
}

/* ---- nodes ---- */

static struct node *node_new(struct node *parent, const char *s, size_t len)
{
    struct node *n = malloc(sizeof *n + len);
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof *n);
    n->parent = parent;
    n->len = (uint16_t)len;
    n->hv = level_hash(s, len);
    memcpy(n->level, s, len);
    return n;
}

static bool node_empty(const struct node *n)
{
    return n->subs == NULL && n->nkids == 0 && n->plus == NULL && n->hash == NULL;
}

/* The child of n for one filter level, created when create is set. */
static struct node *child(struct node *n, const char *s, size_t len, bool create)
{
    struct node **slot = NULL;
    if (is_wild(s, len, '+'))
        slot = &n->plus;
    else if (is_wild(s, len, '#'))
        slot = &n->hash;
    struct node *k = slot ? *slot : kid_find(n, s, len);
    if (k || !create)
        return k;
    k = node_new(n, s, len);
    if (k == NULL)
        return NULL;
    if (slot) {
        *slot = k;
    } else if (kid_add(n, k) < 0) {
        free(k);
        return NULL;
    }
    return k;
}

/* Frees n and its ancestors while they hold nothing. */
static void prune(subtrie_t *t, struct node *n)
{
    while (n != t->root && node_empty(n)) {
        struct node *p = n->parent;
        if (p->plus == n)
            p->plus = NULL;
        else if (p->hash == n)
            p->hash = NULL;
        else
            kid_del(p, n);
        free(n->kids);
        free(n);
        n = p;
    }
}

/* ---- public ---- */

subtrie_t *subtrie_new(void)
{
    subtrie_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->root = node_new(NULL, "", 0);
    if (t->root == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

/* Post-order without recursion: descend into any child, detaching it from
 * its parent first, free leaves, climb by parent pointer. kcap doubles as a
 * downward scan cursor over the children slots, so each slot is read once. */
void subtrie_destroy(subtrie_t **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    struct node *n = (*tp)->root;
    while (n) {
        struct node *c = NULL;
        if (n->plus) {
            c = n->plus;
            n->plus = NULL;
        } else if (n->hash) {
            c = n->hash;
            n->hash = NULL;
        } else if (n->nkids) {
            while (n->kids[n->kcap - 1] == NULL)
                n->kcap--;
            c = n->kids[--n->kcap];
            n->nkids--;
        }
        if (c) {
            n = c;
            continue;
        }
        struct node *p = n->parent;
        subs_free(&n->subs);
        free(n->kids);
        free(n);
        n = p;
    }
    free(*tp);
    *tp = NULL;
}

int subtrie_add(subtrie_t *t, const char *filter, size_t len, void *sub, uint8_t options,
                bool *existed)
{
    bool had = false;
    if (existed)
        *existed = false;
    if (len == 0 || len > LEVEL_MAX)
        return ROOST_EPROTO_TOPIC;
    struct node *n = t->root;
    for (size_t pos = 0;;) {
        size_t end = level_end(filter, len, pos);
        struct node *k = child(n, filter + pos, end - pos, true);
        if (k == NULL) {
            prune(t, n);
            return -ENOMEM;
        }
        n = k;
        if (end == len)
            break;
        pos = end + 1;
    }
    int rc = subs_put(n, sub, options, &had);
    if (rc < 0) {
        prune(t, n);
        return rc;
    }
    if (!had)
        t->count++;
    if (existed)
        *existed = had;
    return 0;
}

int subtrie_remove(subtrie_t *t, const char *filter, size_t len, void *sub)
{
    if (len == 0 || len > LEVEL_MAX)
        return ROOST_ENOTFOUND;
    struct node *n = t->root;
    for (size_t pos = 0; n;) {
        size_t end = level_end(filter, len, pos);
        n = child(n, filter + pos, end - pos, false);
        if (end == len)
            break;
        pos = end + 1;
    }
    uint32_t at = n && n->subs ? sub_find(n->subs, sub) : NOT_FOUND;
    if (at == NOT_FOUND)
        return ROOST_ENOTFOUND;
    subs_del(n, at);
    t->count--;
    prune(t, n);
    return 0;
}

static void report(const struct node *n, subtrie_match_fn fn, void *ctx)
{
    const struct sublist *l = n->subs;
    if (l == NULL)
        return;
    const uint8_t *opts = (const uint8_t *)(l->subs + l->cap);
    for (uint32_t i = 0; i < l->n; i++)
        fn(l->subs[i], opts[i], ctx);
}

/* Depth-first over reachable nodes. State: node n, the start `pos` of the
 * topic level compared against n's children (len + 1 once the topic is used
 * up), and `from`, the child we just climbed back from (NULL on entry). On
 * entry a node reports its '#' child, and its own subscribers if the topic
 * ends there; otherwise it descends into the literal child for the level,
 * then (on the way back) into its '+' child. Climbing back recovers the
 * parent's level start from a literal node's length, or from a '+' node by
 * scanning back to the previous '/'. */
void subtrie_match(const subtrie_t *t, const char *topic, size_t len, subtrie_match_fn fn,
                   void *ctx)
{
    const struct node *root = t->root;
    const bool dollar = len > 0 && topic[0] == '$'; /* [MQTT-4.7.2-1] */
    const struct node *n = root, *from = NULL;
    size_t pos = 0;
    for (;;) {
        const bool wild = !(dollar && n == root);
        const struct node *next = NULL;
        size_t end = 0;
        if (from == NULL) {
            if (wild && n->hash)
                report(n->hash, fn, ctx); /* '#' also matches the parent level */
            if (pos > len) {
                report(n, fn, ctx);
            } else {
                end = level_end(topic, len, pos);
                if (n->nkids)
                    next = kid_find(n, topic + pos, end - pos);
                if (next == NULL && wild)
                    next = n->plus;
            }
        } else if (from != n->plus && wild && n->plus) {
            next = n->plus;
            end = level_end(topic, len, pos);
        }
        if (next) {
            n = next;
            from = NULL;
            pos = end + 1;
            continue;
        }
        if (n == root)
            return;
        /* climb: the parent's level starts where ours did: a literal
         * node's level is as long as the topic's it matched; a '+' node's
         * start is found by scanning back to the previous '/' */
        if (n != n->parent->plus) {
            pos -= (size_t)n->len + 1;
        } else {
            pos--;
            while (pos > 0 && topic[pos - 1] != '/')
                pos--;
        }
        from = n;
        n = n->parent;
    }
}

size_t subtrie_count(const subtrie_t *t)
{
    return t->count;
}

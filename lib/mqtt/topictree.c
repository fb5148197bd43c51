#include "mqtt/topictree.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A node is one topic level. Children sit in an open-addressing table
 * (linear probing, backward-shift deletion) keyed by the level's hash. */
typedef struct tnode {
    struct tnode *parent;
    struct tnode **kids; /* kcap slots, or NULL */
    uint32_t nkids, kcap;
    uint32_t hv;         /* hash of level (reused as a cursor by destroy) */
    uint32_t len;
    void *value;
    char level[];
} tnode_t;

struct topictree {
    tnode_t *root;
    size_t count;
};

static uint32_t level_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static size_t level_end(const char *s, size_t len, size_t pos)
{
    const char *slash = pos < len ? memchr(s + pos, '/', len - pos) : NULL;
    return slash ? (size_t)(slash - s) : len;
}

static tnode_t *kid_find(const tnode_t *n, const char *s, size_t len, uint32_t hv)
{
    if (!n->kcap)
        return NULL;
    uint32_t mask = n->kcap - 1;
    for (uint32_t i = hv & mask;; i = (i + 1) & mask) {
        tnode_t *k = n->kids[i];
        if (!k || (k->hv == hv && k->len == len && memcmp(k->level, s, len) == 0))
            return k;
    }
}

static void table_put(tnode_t **tab, uint32_t cap, tnode_t *k)
{
    uint32_t mask = cap - 1, i = k->hv & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = k;
}

static int kid_add(tnode_t *n, tnode_t *k)
{
    if ((n->nkids + 1) * 4 > n->kcap * 3) {
        uint32_t cap = n->kcap ? n->kcap * 2 : 4;
        tnode_t **tab = calloc(cap, sizeof(*tab));
        if (!tab)
            return -ENOMEM;
        for (uint32_t i = 0; i < n->kcap; i++)
            if (n->kids[i])
                table_put(tab, cap, n->kids[i]);
        free(n->kids);
        n->kids = tab;
        n->kcap = cap;
    }
    table_put(n->kids, n->kcap, k);
    n->nkids++;
    return 0;
}

static void kid_del(tnode_t *n, tnode_t *k)
{
    uint32_t mask = n->kcap - 1, i = k->hv & mask;
    while (n->kids[i] != k)
        i = (i + 1) & mask;
    n->kids[i] = NULL;
    /* backward shift: pull later members of the probe run into the hole */
    for (uint32_t j = (i + 1) & mask; n->kids[j]; j = (j + 1) & mask) {
        uint32_t home = n->kids[j]->hv & mask;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            n->kids[i] = n->kids[j];
            n->kids[j] = NULL;
            i = j;
        }
    }
    if (--n->nkids == 0) {
        free(n->kids);
        n->kids = NULL;
        n->kcap = 0;
    }
}

static tnode_t *node_new(tnode_t *parent, const char *s, size_t len, uint32_t hv)
{
    tnode_t *k = calloc(1, sizeof(*k) + len);
    if (!k)
        return NULL;
    k->parent = parent;
    k->hv = hv;
    k->len = (uint32_t)len;
    memcpy(k->level, s, len);
    return k;
}

/* Frees n and its ancestors while they hold nothing. */
static void prune(topictree_t *t, tnode_t *n)
{
    while (n != t->root && !n->value && !n->nkids) {
        tnode_t *p = n->parent;
        kid_del(p, n);
        free(n);
        n = p;
    }
}

topictree_t *topictree_new(void)
{
    topictree_t *t = calloc(1, sizeof(*t));
    if (t && !(t->root = calloc(1, sizeof(tnode_t)))) {
        free(t);
        return NULL;
    }
    return t;
}

void topictree_destroy(topictree_t **tp, void (*free_value)(void *value))
{
    topictree_t *t = *tp;
    if (!t)
        return;
    *tp = NULL;
    tnode_t *n = t->root;
    n->hv = 0;
    while (n) {
        if (n->nkids) { /* descend into the next remaining child */
            while (!n->kids[n->hv])
                n->hv++;
            tnode_t *k = n->kids[n->hv];
            n->kids[n->hv] = NULL;
            n->nkids--;
            k->hv = 0;
            n = k;
            continue;
        }
        tnode_t *p = n->parent;
        if (n->value && free_value)
            free_value(n->value);
        free(n->kids);
        free(n);
        n = p;
    }
    free(t);
}

/* The node for topic; created along the way when create. NULL when absent
 * (or on OOM, after undoing what it created). */
static tnode_t *walk(topictree_t *t, const char *topic, size_t len, bool create)
{
    tnode_t *n = t->root;
    size_t pos = 0;
    for (;;) {
        size_t end = level_end(topic, len, pos);
        uint32_t hv = level_hash(topic + pos, end - pos);
        tnode_t *k = kid_find(n, topic + pos, end - pos, hv);
        if (!k) {
            if (!create || !(k = node_new(n, topic + pos, end - pos, hv)))
                goto fail;
            if (kid_add(n, k) < 0) {
                free(k);
                goto fail;
            }
        }
        n = k;
        if (end == len)
            return n;
        pos = end + 1;
    }
fail:
    if (create)
        prune(t, n);
    return NULL;
}

int topictree_put(topictree_t *t, const char *topic, size_t len, void *value, void **old)
{
    tnode_t *n = walk(t, topic, len, true);
    if (!n)
        return -ENOMEM;
    if (old)
        *old = n->value;
    if (!n->value)
        t->count++;
    n->value = value;
    return 0;
}

void *topictree_get(const topictree_t *t, const char *topic, size_t len)
{
    tnode_t *n = walk((topictree_t *)t, topic, len, false);
    return n ? n->value : NULL;
}

void *topictree_del(topictree_t *t, const char *topic, size_t len)
{
    tnode_t *n = walk(t, topic, len, false);
    if (!n || !n->value)
        return NULL;
    void *v = n->value;
    n->value = NULL;
    t->count--;
    prune(t, n);
    return v;
}

size_t topictree_count(const topictree_t *t) { return t->count; }

/* ---- matching ------------------------------------------------------------ */

#define WHOLE SIZE_MAX /* frame: report this node and everything below it */

typedef struct frame {
    const tnode_t *n;
    size_t fpos; /* the filter level to match against n's children; > flen:
                    the filter is used up at n; WHOLE: under a '#' */
} frame_t;

typedef struct stack {
    frame_t *f;
    size_t n, cap;
} stack_t_;

static int push(stack_t_ *s, const tnode_t *n, size_t fpos)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        frame_t *f = realloc(s->f, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        s->f = f;
        s->cap = cap;
    }
    s->f[s->n++] = (frame_t){n, fpos};
    return 0;
}

/* Pushes n's children (at the root, not the '$' ones when skip_dollar). */
static int push_kids(stack_t_ *s, const tnode_t *n, size_t fpos, bool skip_dollar)
{
    for (uint32_t i = 0; i < n->kcap; i++) {
        const tnode_t *k = n->kids[i];
        if (k && !(skip_dollar && k->len && k->level[0] == '$') && push(s, k, fpos) < 0)
            return -ENOMEM;
    }
    return 0;
}

int topictree_match(const topictree_t *t, const char *filter, size_t flen, topictree_fn fn,
                    void *ctx)
{
    if (flen == 0)
        return 0;
    stack_t_ s = {0};
    int rc = push(&s, t->root, 0);
    while (rc == 0 && s.n) {
        frame_t f = s.f[--s.n];
        const tnode_t *n = f.n;
        bool at_root = n == t->root;
        if (f.fpos == WHOLE) {
            if (n->value)
                fn(n->value, ctx);
            rc = push_kids(&s, n, WHOLE, false);
            continue;
        }
        if (f.fpos > flen) { /* every filter level matched */
            if (n->value)
                fn(n->value, ctx);
            continue;
        }
        size_t end = level_end(filter, flen, f.fpos), ln = end - f.fpos;
        const char *lvl = filter + f.fpos;
        if (ln == 1 && lvl[0] == '#') {
            if (!at_root && n->value) /* "a/#" matches "a" too */
                fn(n->value, ctx);
            rc = push_kids(&s, n, WHOLE, at_root);
        } else if (ln == 1 && lvl[0] == '+') {
            rc = push_kids(&s, n, end + 1, at_root);
        } else {
            const tnode_t *k = kid_find(n, lvl, ln, level_hash(lvl, ln));
            if (k)
                rc = push(&s, k, end + 1);
        }
    }
    free(s.f);
    return rc;
}

int topictree_each(const topictree_t *t, topictree_fn fn, void *ctx)
{
    stack_t_ s = {0};
    int rc = push(&s, t->root, WHOLE);
    while (rc == 0 && s.n) {
        const tnode_t *n = s.f[--s.n].n;
        if (n->value)
            fn(n->value, ctx);
        rc = push_kids(&s, n, WHOLE, false);
    }
    free(s.f);
    return rc;
}

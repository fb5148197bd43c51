#include "psindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "mqtt/subtrie.h"
#include "mqtt/share.h"
#include "mqtt/topic.h"

/* One persistent session in the index. */
typedef struct pstub {
    char *cid;
    size_t len;
    uint32_t nsubs;
    uint64_t stamp;
    uint32_t idx;
} pstub_t;

struct psindex {
    subtrie_t *trie;
    map_t stubs;               /* cid -> pstub_t */
    uint64_t stamp;            /* one per match: dedupes sessions */
    const char **m_cids;       /* the last match's answer */
    size_t *m_lens;
    uint8_t *m_qos;
    size_t m_n, m_cap;
    /* A load from Redis pending (psindex_load_begin): the updates applied
     * meanwhile, replayed on its snapshot (psindex_load_end). */
    bool journaling;
    bool snapshot;             /* cleared for the snapshot: what follows is it */
    bool journal_lost;         /* an update could not be kept (OOM) */
    struct jop {
        char *cid;             /* cid, then the filter, one allocation */
        size_t cid_len, flen;
        uint8_t qos;
        bool add;
    } *jops;
    size_t jn, jcap;
};

psindex_t *psindex_new(void)
{
    psindex_t *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    map_init(&x->stubs);
    if (!(x->trie = subtrie_new())) {
        free(x);
        return NULL;
    }
    return x;
}

static void stubs_free(psindex_t *x)
{
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&x->stubs, &it, &e)) {
        pstub_t *p = e->value;
        free(p->cid);
        free(p);
    }
    map_fini(&x->stubs);
    map_init(&x->stubs);
}

void psindex_destroy(psindex_t **xp)
{
    psindex_t *x = *xp;
    if (!x)
        return;
    *xp = NULL;
    subtrie_destroy(&x->trie);
    stubs_free(x);
    map_fini(&x->stubs);
    free(x->m_cids);
    free(x->m_lens);
    free(x->m_qos);
    for (size_t i = 0; i < x->jn; i++)
        free(x->jops[i].cid);
    free(x->jops);
    free(x);
}

int psindex_clear(psindex_t *x)
{
    if (x->journaling)
        x->snapshot = true;
    subtrie_destroy(&x->trie);
    stubs_free(x);
    x->trie = subtrie_new();
    return x->trie ? 0 : -ENOMEM;
}

size_t psindex_sessions(const psindex_t *x) { return x->stubs.count; }

static pstub_t *stub_get(psindex_t *x, const char *cid, size_t len, bool create)
{
    pstub_t *p = map_get(&x->stubs, cid, len);
    if (p || !create)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cid = malloc(len + 1);
    if (!p->cid) {
        free(p);
        return NULL;
    }
    memcpy(p->cid, cid, len); /* the key is hashed by map_put: fill it first */
    p->cid[len] = '\0';
    p->len = len;
    if (map_put(&x->stubs, p->cid, len, p, NULL) < 0) {
        free(p->cid);
        free(p);
        return NULL;
    }
    return p;
}

static void stub_drop(psindex_t *x, pstub_t *p)
{
    map_del(&x->stubs, p->cid, p->len);
    free(p->cid);
    free(p);
}

static void journal(psindex_t *x, const char *cid, size_t cid_len, const char *filter,
                    size_t flen, uint8_t qos, bool add)
{
    if (x->jn == x->jcap) {
        size_t n = x->jcap ? x->jcap * 2 : 16;
        struct jop *a = realloc(x->jops, n * sizeof(*a));
        if (!a) {
            x->journal_lost = true;
            return;
        }
        x->jops = a;
        x->jcap = n;
    }
    char *k = malloc(cid_len + flen + 1);
    if (!k) {
        x->journal_lost = true;
        return;
    }
    memcpy(k, cid, cid_len);
    memcpy(k + cid_len, filter, flen);
    x->jops[x->jn++] = (struct jop){k, cid_len, flen, qos, add};
}

void psindex_load_begin(psindex_t *x)
{
    x->journaling = true;
    x->snapshot = false;
}

int psindex_load_end(psindex_t *x)
{
    bool replay = x->snapshot;
    int rc = replay && x->journal_lost ? -ENOMEM : 0;
    x->journaling = x->snapshot = x->journal_lost = false;
    for (size_t i = 0; i < x->jn; i++) {
        const struct jop *j = &x->jops[i];
        if (replay && psindex_apply(x, j->cid, j->cid_len, j->cid + j->cid_len, j->flen, j->qos,
                                    j->add) < 0)
            rc = -ENOMEM;
        free(j->cid);
    }
    x->jn = 0;
    return rc;
}

int psindex_apply(psindex_t *x, const char *cid, size_t cid_len, const char *filter,
                  size_t flen, uint8_t qos, bool add)
{
    if (!x->trie || topic_check_filter(filter, flen) != 0 || share_is(filter, flen))
        return 0; /* a shared subscription's messages are given live (shared.h), not queued */
    if (x->journaling && !x->snapshot)
        journal(x, cid, cid_len, filter, flen, qos, add);
    pstub_t *p = stub_get(x, cid, cid_len, add);
    if (!p)
        return add ? -ENOMEM : 0;
    if (add) {
        bool existed = false;
        if (subtrie_add(x->trie, filter, flen, p, qos, &existed) < 0) {
            if (p->nsubs == 0)
                stub_drop(x, p);
            return -ENOMEM;
        }
        if (!existed)
            p->nsubs++;
        return 0;
    }
    if (subtrie_remove(x->trie, filter, flen, p) == 0 && --p->nsubs == 0)
        stub_drop(x, p);
    return 0;
}

static void collect(void *sub, uint8_t options, void *ctx)
{
    psindex_t *x = ctx;
    pstub_t *p = sub;
    uint8_t qos = options & 3;
    if (p->stamp == x->stamp) {
        if (qos > x->m_qos[p->idx])
            x->m_qos[p->idx] = qos;
        return;
    }
    if (x->m_n == x->m_cap) {
        size_t n = x->m_cap ? x->m_cap * 2 : 32;
        const char **a = realloc(x->m_cids, n * sizeof(*a));
        if (a)
            x->m_cids = a;
        size_t *l = realloc(x->m_lens, n * sizeof(*l));
        if (l)
            x->m_lens = l;
        uint8_t *q = realloc(x->m_qos, n);
        if (q)
            x->m_qos = q;
        if (!a || !l || !q)
            return;
        x->m_cap = n;
    }
    p->stamp = x->stamp;
    p->idx = (uint32_t)x->m_n;
    x->m_cids[x->m_n] = p->cid;
    x->m_lens[x->m_n] = p->len;
    x->m_qos[x->m_n] = qos;
    x->m_n++;
}

size_t psindex_match(psindex_t *x, const char *topic, size_t len, uint8_t max_qos,
                     const char *const **cids, const size_t **cid_lens, const uint8_t **qos)
{
    x->stamp++;
    x->m_n = 0;
    if (x->trie)
        subtrie_match(x->trie, topic, len, collect, x);
    /* cap at the published QoS; QoS 0 is never queued for a session */
    size_t kept = 0;
    for (size_t i = 0; i < x->m_n; i++) {
        uint8_t q = x->m_qos[i] < max_qos ? x->m_qos[i] : max_qos;
        if (q == 0)
            continue;
        x->m_cids[kept] = x->m_cids[i];
        x->m_lens[kept] = x->m_lens[i];
        x->m_qos[kept++] = q;
    }
    x->m_n = kept;
    *cids = x->m_cids;
    *cid_lens = x->m_lens;
    *qos = x->m_qos;
    return x->m_n;
}

/* sstore_args: building a request (sstore_priv.h): ss_req_new and the
 * argument, key and client-key appenders that lay its command out in one
 * buffer, and the hash slot of a client key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/keys.h"
#include "store/resp.h"
#include "store/slot.h"
#include "store/sstore_priv.h"

sstore_req_t *ss_req_new(sstore_t *s, int script, int nkeys, sstore_finish_fn finish, void *arg)
{
    sstore_req_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->s = s;
    q->script = script;
    q->finish = finish;
    q->arg = arg;
    if (script != SS_NONE) {
        ss_arg(q, "", 0); /* EVALSHA | EVAL */
        ss_arg(q, "", 0); /* sha | script text */
        ss_arg_u64(q, (uint64_t)nkeys);
    }
    return q;
}

int ss_issue_since(sstore_t *s, int script, uint64_t known_version, sstore_finish_fn finish, void *arg)
{
    sstore_req_t *q = ss_req_new(s, script, 0, finish, arg);
    if (!q)
        return -ENOMEM;
    ss_arg_str(q, ss_prefix(s));
    ss_arg_u64(q, known_version);
    return ss_issue(q);
}

static bool reserve(sstore_req_t *q, size_t more)
{
    if (q->oom)
        return false;
    if (q->used + more > q->bcap) {
        size_t n = q->bcap ? q->bcap : 256;
        while (n < q->used + more)
            n *= 2;
        char *b = realloc(q->buf, n);
        if (!b) {
            q->oom = true;
            return false;
        }
        q->buf = b;
        q->bcap = n;
    }
    return true;
}

void ss_arg(sstore_req_t *q, const void *p, size_t n)
{
    if (q->oom)
        return;
    if (q->argc == q->cap) {
        int c = q->cap ? q->cap * 2 : 16;
        size_t *o = realloc(q->off, (size_t)c * sizeof(*o));
        if (o)
            q->off = o;
        size_t *l = o ? realloc(q->len, (size_t)c * sizeof(*l)) : NULL;
        if (!l) {
            q->oom = true;
            return;
        }
        q->len = l;
        q->cap = c;
    }
    q->off[q->argc] = q->used;
    q->len[q->argc] = 0;
    q->argc++;
    ss_cat(q, p, n);
}

void ss_cat(sstore_req_t *q, const void *p, size_t n)
{
    if (n == 0 || !reserve(q, n))
        return;
    memcpy(q->buf + q->used, p, n);
    q->used += n;
    q->len[q->argc - 1] += n;
}

void *ss_cat_space(sstore_req_t *q, size_t n)
{
    if (!reserve(q, n))
        return NULL;
    void *at = q->buf + q->used;
    q->used += n;
    q->len[q->argc - 1] += n;
    return at;
}

void *ss_arg_space(sstore_req_t *q, size_t n)
{
    ss_arg(q, NULL, 0);
    if (q->oom || !reserve(q, n))
        return NULL;
    void *at = q->buf + q->used;
    q->used += n;
    q->len[q->argc - 1] = n;
    return at;
}

void ss_arg_str(sstore_req_t *q, const char *str) { ss_arg(q, str, strlen(str)); }

void ss_arg_u64(sstore_req_t *q, uint64_t v)
{
    char t[20];
    ss_arg(q, t, resp_u64(v, t)); /* (snprintf was a tenth of a mapped PUBLISH) */
}

void ss_key(sstore_req_t *q, const char *name, const void *id, size_t id_len)
{
    ss_arg_str(q, ss_prefix(q->s));
    ss_cat(q, name, strlen(name));
    ss_cat(q, id, id_len);
}

void ss_ckey(sstore_req_t *q, const char *name, const void *cid, size_t cid_len)
{
    ss_arg_str(q, ss_base(q->s));
    ss_cat(q, name, strlen(name));
    ss_cat(q, STORE_KEYS_CTAG_OPEN, strlen(STORE_KEYS_CTAG_OPEN));
    ss_cat(q, cid, cid_len);
    ss_cat(q, STORE_KEYS_CTAG_CLOSE, strlen(STORE_KEYS_CTAG_CLOSE));
}

unsigned ss_ckey_slot(const sstore_t *s, const char *name, const char *cid, size_t cid_len)
{
    (void)s;
    (void)name; /* the tag alone decides: "c:" + cid up to its first '}' */
    const char *end = memchr(cid, '}', cid_len);
    size_t n = end ? (size_t)(end - cid) : cid_len;
    char head[2] = {'c', ':'};
    uint16_t crc = slot_crc16_more(slot_crc16(head, 2), cid, n);
    return crc & (SLOT_COUNT - 1);
}

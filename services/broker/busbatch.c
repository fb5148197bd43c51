#include "busbatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "busframe.h"

typedef struct batch {
    uint8_t *buf;              /* the frame being built */
    size_t len, cap;
    size_t label_len;          /* label = buf[1 .. 1 + label_len) */
    uint32_t count;
} batch_t;

struct busbatch {
    busbatch_emit_fn emit;
    void *arg;
    map_t interest;            /* 'm' prefixes some peer subscribed */
    batch_t batches[BUSBATCH_MAX];
    int n;
    char *lt;                  /* last topic label_for answered for, and its answer */
    size_t lt_len, lt_cap;
    long lt_label;
    bool lt_valid;
};

busbatch_t *busbatch_new(busbatch_emit_fn emit, void *arg)
{
    busbatch_t *bb = calloc(1, sizeof(*bb));
    if (!bb)
        return NULL;
    bb->emit = emit;
    bb->arg = arg;
    map_init(&bb->interest);
    return bb;
}

void busbatch_destroy(busbatch_t **bbp)
{
    busbatch_t *bb = *bbp;
    if (!bb)
        return;
    *bbp = NULL;
    for (int i = 0; i < bb->n; i++)
        free(bb->batches[i].buf);
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&bb->interest, &it, &e))
        free(e->value);
    map_fini(&bb->interest);
    free(bb->lt);
    free(bb);
}

/* Hands bt's frame to the callback; bt is spent. */
static void emit(busbatch_t *bb, batch_t *bt)
{
    if (bt->len < bt->cap / 2) {
        /* a queued frame holds its whole buffer: give back what it left
         * empty, so a stalled peer's queue costs what it carries */
        uint8_t *shrunk = realloc(bt->buf, bt->len);
        if (shrunk)
            bt->buf = shrunk;
    }
    bb->emit(bb->arg, bt->buf, bt->len, bt->count);
    bt->buf = NULL;
}

void busbatch_flush(busbatch_t *bb)
{
    for (int i = 0; i < bb->n; i++) /* labels need no order between them */
        emit(bb, &bb->batches[i]);
    bb->n = 0;
}

int busbatch_pending(const busbatch_t *bb) { return bb->n; }
size_t busbatch_interests(const busbatch_t *bb) { return bb->interest.count; }

int busbatch_interest(busbatch_t *bb, const char *prefix, size_t len, bool add)
{
    busbatch_flush(bb); /* labels chosen so far were chosen under the old set */
    bb->lt_valid = false;
    char *have = map_get(&bb->interest, prefix, len);
    if (add && !have) {
        char *k = malloc(len + 1);
        if (!k)
            return -ENOMEM;
        if (len)
            memcpy(k, prefix, len); /* the key is hashed by map_put: fill it first */
        k[len] = '\0';
        if (map_put(&bb->interest, k, len, k, NULL) < 0) {
            free(k);
            return -ENOMEM;
        }
    } else if (!add && have) {
        map_del(&bb->interest, prefix, len);
        free(have);
    }
    return 0;
}

/* Length of the longest prefix of the topic some peer wants, or -1 when no
 * peer wants it. Peers subscribe to literal prefixes that end at a level
 * boundary ("", "a", "a/", "a/b", ..., the whole topic); the answer for the
 * last topic asked is kept until the interest set changes. */
static long label_for(busbatch_t *bb, const char *t, size_t len)
{
    if (bb->interest.count == 0)
        return -1;
    if (bb->lt_valid && bb->lt_len == len && memcmp(bb->lt, t, len) == 0)
        return bb->lt_label;
    long found = -1;
    for (size_t i = len + 1; i-- > 0;) {
        bool edge = i == 0 || i == len || t[i] == '/' || t[i - 1] == '/';
        if (edge && map_get(&bb->interest, t, i)) {
            found = (long)i;
            break;
        }
    }
    if (bb->lt_cap < len) {
        char *n = realloc(bb->lt, len);
        if (!n)
            return found;
        bb->lt = n;
        bb->lt_cap = len;
    }
    if (len)
        memcpy(bb->lt, t, len);
    bb->lt_len = len;
    bb->lt_label = found;
    bb->lt_valid = true;
    return found;
}

/* The batch for this kind and label with room for need bytes, created empty
 * when there is none. */
static batch_t *batch_for(busbatch_t *bb, char kind, const char *label, size_t llen, size_t need)
{
    for (int i = bb->n - 1; i >= 0; i--) {
        batch_t *bt = &bb->batches[i];
        if (bt->buf[0] == kind && bt->label_len == llen && memcmp(bt->buf + 1, label, llen) == 0) {
            if (bt->len + need <= bt->cap)
                return bt;
            emit(bb, bt); /* full: send it, start the next in its place */
            bb->batches[i] = bb->batches[--bb->n];
            break;
        }
    }
    if (bb->n == BUSBATCH_MAX)
        busbatch_flush(bb);
    size_t cap = 1 + llen + 1 + need;
    if (cap < BUSBATCH_BYTES)
        cap = BUSBATCH_BYTES;
    batch_t *bt = &bb->batches[bb->n];
    bt->buf = malloc(cap);
    if (!bt->buf)
        return NULL;
    bt->cap = cap;
    bt->len = busframe_head(bt->buf, kind, label, llen);
    bt->label_len = llen;
    bt->count = 0;
    bb->n++;
    return bt;
}

int busbatch_add(busbatch_t *bb, const msg_parts_t *p, const char *eid, size_t elen)
{
    /* (msg_parts_t's lengths are in the format's range: a topic name is at
     * most 65535 bytes) */
    if (elen > 255)
        return 0;
    const char *t = p->topic;
    size_t tlen = p->topic_len, plen = p->payload_len;
    bool retain = p->retain;
    long label;
    if (retain) {
        busbatch_flush(bb); /* retained ones go to every broker ('r'), in order */
        label = (long)tlen;
    } else if ((label = label_for(bb, t, tlen)) < 0) {
        return 0;
    }
    busframe_ext_t x = {p->props, p->props_len, p->expiry_ms};
    const busframe_ext_t *ext = p->props_len || p->expiry_ms ? &x : NULL;
    size_t rest = tlen - (size_t)label;
    size_t need = busframe_entry_size_ext(elen, rest, plen, ext);
    batch_t *bt = batch_for(bb, retain ? 'r' : 'm', t, (size_t)label, need);
    if (!bt)
        return -ENOMEM;
    bt->len += busframe_put_ext(bt->buf + bt->len, p->qos, retain, eid, elen, t + label, rest,
                                p->payload, plen, ext);
    bt->count++;
    if (retain)
        busbatch_flush(bb);
    return 1;
}

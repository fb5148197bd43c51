#include "shframe.h"

#include "busframe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int reserve(shframe_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t n = b->cap ? b->cap : 256;
    while (n < b->len + more)
        n *= 2;
    uint8_t *p = realloc(b->p, n);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = n;
    return 0;
}

static uint8_t *put16(uint8_t *p, size_t v)
{
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (i * 8));
    return p;
}

static uint8_t *putbytes(uint8_t *p, const void *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

int shframe_begin(shframe_buf_t *b, const char *target, const char *sender)
{
    size_t tl = strlen(target), sl = strlen(sender);
    b->len = 0;
    b->records = 0;
    if (reserve(b, 1 + tl + 1 + sl + 1) < 0)
        return -ENOMEM;
    uint8_t *p = b->p;
    *p++ = 's';
    p = putbytes(p, target, tl);
    *p++ = 0;
    p = putbytes(p, sender, sl);
    *p++ = 0;
    b->len = (size_t)(p - b->p);
    return 0;
}

static uint8_t *put32(uint8_t *p, size_t v)
{
    *p++ = (uint8_t)(v >> 24);
    *p++ = (uint8_t)(v >> 16);
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

int shframe_deliver(shframe_buf_t *b, uint64_t seq, const char *key, size_t klen,
                    const shframe_msg_t *m)
{
    if (klen > 65535 || m->topic_len > 65535 || m->payload_len > UINT32_MAX ||
        m->props_len > UINT32_MAX)
        return -E2BIG;
    if (reserve(b, 1 + 8 + 2 + klen + 1 + 2 + m->topic_len + 4 + m->payload_len + 4 +
                       m->props_len + 8) < 0)
        return -ENOMEM;
    uint8_t *p = b->p + b->len;
    *p++ = 'D';
    p = put64(p, seq);
    p = putbytes(put16(p, klen), key, klen);
    *p++ = m->qos;
    p = putbytes(put16(p, m->topic_len), m->topic, m->topic_len);
    p = putbytes(put32(p, m->payload_len), m->payload, m->payload_len);
    p = putbytes(put32(p, m->props_len), m->props, m->props_len);
    p = put64(p, m->expiry_ms);
    b->len = (size_t)(p - b->p);
    b->records++;
    return 0;
}

int shframe_ack(shframe_buf_t *b, char type, uint64_t seq, uint8_t flags)
{
    if (reserve(b, 1 + 8 + 1) < 0)
        return -ENOMEM;
    uint8_t *p = b->p + b->len;
    *p++ = (uint8_t)type;
    p = put64(p, seq);
    if (type == 'N')
        *p++ = flags;
    b->len = (size_t)(p - b->p);
    b->records++;
    return 0;
}

int shframe_reset(shframe_buf_t *b)
{
    if (reserve(b, 1) < 0)
        return -ENOMEM;
    b->p[b->len++] = 'R';
    b->records++;
    return 0;
}

int shframe_weight(shframe_buf_t *b, const char *key, size_t klen, uint16_t members)
{
    if (klen > 65535)
        return -E2BIG;
    if (reserve(b, 1 + 2 + klen + 2) < 0)
        return -ENOMEM;
    uint8_t *p = b->p + b->len;
    *p++ = 'W';
    p = putbytes(put16(p, klen), key, klen);
    p = put16(p, members);
    b->len = (size_t)(p - b->p);
    b->records++;
    return 0;
}

int shframe_open(shframe_reader_t *r, const uint8_t *f, size_t n)
{
    memset(r, 0, sizeof(*r));
    const uint8_t *end = f + n;
    if (n < 3 || f[0] != 's') {
        r->error = "not a shared frame";
        return -1;
    }
    const uint8_t *t0 = memchr(f + 1, 0, n - 1);
    const uint8_t *s0 = t0 ? memchr(t0 + 1, 0, (size_t)(end - t0 - 1)) : NULL;
    if (!s0) {
        r->error = "no target or sender end";
        return -1;
    }
    r->target = (const char *)f + 1;
    r->sender = (const char *)t0 + 1;
    r->p = s0 + 1;
    r->end = end;
    return 0;
}

static int bad(shframe_reader_t *r, const char *why)
{
    r->error = why;
    r->p = r->end;
    return -1;
}

static bool take(shframe_reader_t *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static bool take16(shframe_reader_t *r, size_t *v)
{
    const uint8_t *p;
    if (!take(r, 2, &p))
        return false;
    *v = ((size_t)p[0] << 8) | p[1];
    return true;
}

static bool take64(shframe_reader_t *r, uint64_t *v)
{
    const uint8_t *p;
    if (!take(r, 8, &p))
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v = *v << 8 | p[i];
    return true;
}

/* A u32-length byte string. */
static bool take32(shframe_reader_t *r, const uint8_t **s, size_t *len)
{
    const uint8_t *p;
    if (!take(r, 4, &p))
        return false;
    *len = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    return take(r, *len, s);
}

/* A u16-length string. */
static bool takestr(shframe_reader_t *r, const char **s, size_t *len)
{
    const uint8_t *p;
    if (!take16(r, len) || !take(r, *len, &p))
        return false;
    *s = (const char *)p;
    return true;
}

int shframe_next(shframe_reader_t *r, shframe_rec_t *rec)
{
    if (r->p == r->end)
        return 0;
    memset(rec, 0, sizeof(*rec));
    const uint8_t *p;
    rec->type = (char)*r->p++;
    switch (rec->type) {
    case 'D': {
        shframe_msg_t *m = &rec->msg;
        if (!take64(r, &rec->seq) || !takestr(r, &rec->key, &rec->key_len) || !take(r, 1, &p))
            return bad(r, "short deliver record");
        m->qos = p[0];
        if (!takestr(r, &m->topic, &m->topic_len) || !take32(r, &m->payload, &m->payload_len))
            return bad(r, "bad topic or payload length");
        if (!take32(r, &m->props, &m->props_len) || !take64(r, &m->expiry_ms))
            return bad(r, "bad properties length");
        if (m->props_len && !busframe_props_ok(m->props, m->props_len))
            return bad(r, "bad properties");
        break;
    }
    case 'A':
        if (!take64(r, &rec->seq))
            return bad(r, "short ack record");
        break;
    case 'N':
        if (!take64(r, &rec->seq) || !take(r, 1, &p))
            return bad(r, "short nack record");
        rec->flags = p[0];
        break;
    case 'R':
        break;
    case 'W': {
        size_t m;
        if (!takestr(r, &rec->key, &rec->key_len) || !take16(r, &m))
            return bad(r, "short weight record");
        rec->members = (uint16_t)m;
        break;
    }
    default:
        return bad(r, "unknown record type");
    }
    r->index++;
    return 1;
}

int shframe_key_split(const char *key, size_t klen, const char **name, size_t *nl,
                      const char **filter, size_t *fl)
{
    const char *z = memchr(key, 0, klen);
    if (!z)
        return -1;
    *name = key;
    *nl = (size_t)(z - key);
    *filter = z + 1;
    *fl = klen - *nl - 1;
    return 0;
}

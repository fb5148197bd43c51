#include "busframe.h"

#include <string.h>

static uint8_t *put16(uint8_t *p, size_t v)
{
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

static size_t get16(const uint8_t *p) { return ((size_t)p[0] << 8) | p[1]; }

size_t busframe_head(uint8_t *out, char kind, const char *label, size_t label_len)
{
    out[0] = (uint8_t)kind;
    if (label_len)
        memcpy(out + 1, label, label_len);
    out[1 + label_len] = '\0';
    return label_len + 2;
}

size_t busframe_put(uint8_t *out, uint8_t qos, bool retain, const char *eid, size_t elen,
                    const char *rest, size_t rest_len, const uint8_t *payload, size_t plen)
{
    uint8_t *p = out;
    *p++ = (uint8_t)(qos | (retain ? 4 : 0));
    *p++ = (uint8_t)elen;
    if (elen)
        memcpy(p, eid, elen);
    p += elen;
    p = put16(p, rest_len);
    if (rest_len)
        memcpy(p, rest, rest_len);
    p += rest_len;
    *p++ = (uint8_t)(plen >> 24);
    *p++ = (uint8_t)(plen >> 16);
    *p++ = (uint8_t)(plen >> 8);
    *p++ = (uint8_t)plen;
    if (plen)
        memcpy(p, payload, plen);
    return (size_t)(p - out) + plen;
}

int busframe_open(busframe_reader_t *r, const uint8_t *f, size_t n)
{
    memset(r, 0, sizeof(*r));
    if (n < 2 || (f[0] != 'm' && f[0] != 'r')) {
        r->error = "not a data frame";
        return -1;
    }
    const uint8_t *nul = memchr(f + 1, '\0', n - 1);
    if (!nul) {
        r->error = "no label end";
        return -1;
    }
    r->kind = (char)f[0];
    r->label = (const char *)f + 1;
    r->label_len = (size_t)(nul - (f + 1));
    r->p = nul + 1;
    r->end = f + n;
    return 0;
}

static int malformed(busframe_reader_t *r, const char *why)
{
    r->error = why;
    r->p = r->end; /* nothing after it can be framed */
    return -1;
}

int busframe_next(busframe_reader_t *r, busframe_entry_t *e)
{
    const uint8_t *p = r->p, *end = r->end;
    if (p == end)
        return 0;
    if ((size_t)(end - p) < BUSFRAME_ENTRY_FIXED)
        return malformed(r, "short entry");
    uint8_t flags = p[0], elen = p[1];
    const uint8_t *eid = p + 2;
    if ((flags & 3) > 2 || flags > 7 || (size_t)(end - eid) < elen + 2u + 4u)
        return malformed(r, "bad entry header");
    const uint8_t *q = eid + elen;
    size_t rest = get16(q);
    const uint8_t *suffix = q + 2;
    if ((size_t)(end - suffix) < rest + 4 || r->label_len + rest > 65535)
        return malformed(r, "bad topic length");
    q = suffix + rest;
    size_t pl = ((size_t)q[0] << 24) | ((size_t)q[1] << 16) | ((size_t)q[2] << 8) | q[3];
    const uint8_t *payload = q + 4;
    if ((size_t)(end - payload) < pl)
        return malformed(r, "bad payload length");
    bool retain = (flags & 4) != 0;
    if (retain != (r->kind == 'r'))
        return malformed(r, "retain flag outside an 'r' frame");
    *e = (busframe_entry_t){
        .rest = (const char *)suffix,
        .rest_len = rest,
        .payload = payload,
        .payload_len = pl,
        .eid = (const char *)eid,
        .eid_len = elen,
        .qos = flags & 3,
        .retain = retain,
    };
    r->p = payload + pl;
    r->index++;
    return 1;
}

size_t busctl_size(const busctl_t *c)
{
    if (c->target_len > 255 || c->cid_len > 65535 || c->filter_len > 65535)
        return 0;
    return 1 + 1 + c->target_len + 2 + c->cid_len + 2 + c->filter_len + 1;
}

size_t busctl_encode(const busctl_t *c, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = c->type;
    *p++ = (uint8_t)c->target_len;
    if (c->target_len)
        memcpy(p, c->target, c->target_len);
    p += c->target_len;
    p = put16(p, c->cid_len);
    if (c->cid_len)
        memcpy(p, c->cid, c->cid_len);
    p += c->cid_len;
    p = put16(p, c->filter_len);
    if (c->filter_len)
        memcpy(p, c->filter, c->filter_len);
    p += c->filter_len;
    *p++ = c->qos;
    return (size_t)(p - out);
}

int busctl_decode(const uint8_t *p, size_t n, busctl_t *c)
{
    const uint8_t *end = p + n;
    if (n < 1 + 1)
        return -1;
    c->type = *p++;
    c->target_len = *p++;
    if ((size_t)(end - p) < c->target_len + 2)
        return -1;
    c->target = (const char *)p;
    p += c->target_len;
    c->cid_len = get16(p);
    p += 2;
    if ((size_t)(end - p) < c->cid_len + 2)
        return -1;
    c->cid = (const char *)p;
    p += c->cid_len;
    c->filter_len = get16(p);
    p += 2;
    if ((size_t)(end - p) < c->filter_len + 1)
        return -1;
    c->filter = (const char *)p;
    c->qos = p[c->filter_len];
    return 0;
}

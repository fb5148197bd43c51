#include "store/sblob.h"

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

void sblob_head(uint8_t out[3], const sstore_msg_t *m)
{
    out[0] = (uint8_t)((m->retain ? SBLOB_RETAIN : 0) | (m->expiry_ms ? SBLOB_EXPIRY : 0) |
                       (m->props_len ? SBLOB_PROPS : 0));
    put_be(out + 1, m->topic_len, 2);
}

size_t sblob_mid(uint8_t out[SBLOB_MID_MAX], const sstore_msg_t *m)
{
    uint8_t *p = out;
    if (m->expiry_ms)
        p = put_be(p, m->expiry_ms, 8);
    if (m->props_len)
        p = put_be(p, m->props_len, 4);
    return (size_t)(p - out);
}

uint64_t sblob_sub_encode(uint8_t options, uint32_t subid)
{
    return options | (uint64_t)subid << 8;
}

int sblob_sub_value(uint64_t v, sstore_sub_t *sub)
{
    if ((v & 3) > 2 || (v & 0xf0) || (v >> 8) > SSTORE_SUBID_MAX)
        return -1;
    sub->qos = (uint8_t)(v & 3);
    sub->options = (uint8_t)(v & 0x0f);
    sub->subid = (uint32_t)(v >> 8);
    return 0;
}

int sblob_parse(const char *b, size_t n, sstore_msg_t *m)
{
    const uint8_t *u = (const uint8_t *)b, *end = u + n;
    if (n < SBLOB_HEAD)
        return -1;
    uint8_t flags = u[1];
    size_t tl = (size_t)get_be(u + 2, 2);
    if (u[0] > 2 || flags > (SBLOB_RETAIN | SBLOB_EXPIRY | SBLOB_PROPS) || tl > n - SBLOB_HEAD)
        return -1;
    const uint8_t *p = u + SBLOB_HEAD + tl;
    uint64_t expiry = 0;
    if (flags & SBLOB_EXPIRY) {
        if ((size_t)(end - p) < 8 || (expiry = get_be(p, 8)) == 0)
            return -1;
        p += 8;
    }
    const uint8_t *props = NULL;
    size_t props_len = 0;
    if (flags & SBLOB_PROPS) {
        if ((size_t)(end - p) < 4)
            return -1;
        props_len = (size_t)get_be(p, 4);
        props = p + 4;
        if (props_len == 0 || (size_t)(end - props) < props_len)
            return -1;
        p = props + props_len;
    }
    m->qos = u[0];
    m->retain = (flags & SBLOB_RETAIN) != 0;
    m->topic = b + SBLOB_HEAD;
    m->topic_len = tl;
    m->expiry_ms = expiry;
    m->props = props;
    m->props_len = props_len;
    m->payload = p;
    m->payload_len = (size_t)(end - p);
    return 0;
}

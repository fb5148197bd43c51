/* pipentry: the packed queue entry (pipentry.h). */
#include "store/pipentry.h"

#include <string.h>

enum { F_QOS = 3, F_RETAIN = 4 };

size_t pipentry_size(const pipentry_t *e)
{
    if (e->topic_len == 0 || e->topic_len > PIPENTRY_STR_MAX || e->client_id_len > PIPENTRY_STR_MAX ||
        e->username_len > PIPENTRY_STR_MAX || e->broker_len > PIPENTRY_STR_MAX || e->qos > 2 ||
        e->received_ms > PIPENTRY_MS_MAX)
        return 0;
    return PIPENTRY_HEAD + e->topic_len + e->client_id_len + e->username_len + e->broker_len + e->payload_len;
}

static uint8_t *put_str(uint8_t *o, const void *s, size_t n)
{
    *o++ = (uint8_t)(n >> 8);
    *o++ = (uint8_t)n;
    if (n)
        memcpy(o, s, n);
    return o + n;
}

size_t pipentry_encode(const pipentry_t *e, uint8_t *out)
{
    uint8_t *o = out;
    *o++ = PIPENTRY_VERSION;
    *o++ = (uint8_t)(e->qos | (e->retain ? F_RETAIN : 0));
    for (int i = 7; i >= 0; i--)
        *o++ = (uint8_t)(e->received_ms >> (8 * i));
    o = put_str(o, e->topic, e->topic_len);
    o = put_str(o, e->client_id, e->client_id_len);
    o = put_str(o, e->username, e->username_len);
    o = put_str(o, e->broker, e->broker_len);
    if (e->payload_len)
        memcpy(o, e->payload, e->payload_len);
    return (size_t)(o - out) + e->payload_len;
}

/* A u16-length-prefixed string at b[*at], within n. */
static int get_str(const uint8_t *b, size_t n, size_t *at, const char **s, size_t *len)
{
    if (n - *at < 2)
        return -1;
    size_t l = (size_t)b[*at] << 8 | b[*at + 1];
    *at += 2;
    if (n - *at < l)
        return -1;
    *s = (const char *)b + *at;
    *len = l;
    *at += l;
    return 0;
}

int pipentry_decode(const uint8_t *b, size_t n, pipentry_t *e)
{
    if (n < PIPENTRY_HEAD || b[0] != PIPENTRY_VERSION || (b[1] & ~(F_QOS | F_RETAIN)) || (b[1] & F_QOS) == 3)
        return -1;
    pipentry_t r = {.qos = b[1] & F_QOS, .retain = (b[1] & F_RETAIN) != 0};
    for (int i = 0; i < 8; i++)
        r.received_ms = r.received_ms << 8 | b[2 + i];
    if (r.received_ms > PIPENTRY_MS_MAX)
        return -1;
    size_t at = 10;
    if (get_str(b, n, &at, &r.topic, &r.topic_len) < 0 || r.topic_len == 0 ||
        get_str(b, n, &at, &r.client_id, &r.client_id_len) < 0 ||
        get_str(b, n, &at, &r.username, &r.username_len) < 0 || get_str(b, n, &at, &r.broker, &r.broker_len) < 0)
        return -1;
    r.payload = b + at;
    r.payload_len = n - at;
    *e = r;
    return 0;
}

#include "busframe.h"

#include <string.h>

#include "mqtt/mqtt.h"


static size_t get16(const uint8_t *p) { return ((size_t)p[0] << 8) | p[1]; }

size_t busframe_head(uint8_t *out, char kind, const char *label, size_t label_len)
{
    out[0] = (uint8_t)kind;
    if (label_len)
        memcpy(out + 1, label, label_len);
    out[1 + label_len] = '\0';
    return label_len + 2;
}


static size_t get32(const uint8_t *p)
{
    return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
}

enum { F_RETAIN = BUSFRAME_F_RETAIN, F_EXPIRY = BUSFRAME_F_EXPIRY, F_PROPS = BUSFRAME_F_PROPS,
       F_ALL = BUSFRAME_F_ALL };

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

bool busframe_props_ok(const uint8_t *p, size_t n)
{
    mqtt_props_t d;
    const uint64_t never = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) |
                           MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) |
                           MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    return mqtt_props_decode(p, n, MQTT_PUBLISH, true, &d) == 0 && (d.present & never) == 0;
}

/* busframe_next past the end test */
int busframe_next_entry(busframe_reader_t *r, busframe_entry_t *e)
{
    const uint8_t *p = r->p, *end = r->end;
    if ((size_t)(end - p) < BUSFRAME_ENTRY_FIXED)
        return malformed(r, "short entry");
    uint8_t flags = p[0], elen = p[1];
    const uint8_t *eid = p + 2;
    if ((flags & 3) > 2 || flags > F_ALL || (size_t)(end - eid) < elen + 2u + 4u)
        return malformed(r, "bad entry header");
    const uint8_t *q = eid + elen;
    size_t rest = get16(q);
    const uint8_t *suffix = q + 2;
    if ((size_t)(end - suffix) < rest + 4 || r->label_len + rest > 65535)
        return malformed(r, "bad topic length");
    q = suffix + rest;
    uint64_t expiry = 0;
    if (flags & F_EXPIRY) {
        if ((size_t)(end - q) < 8 + 4)
            return malformed(r, "bad expiry");
        expiry = (uint64_t)get32(q) << 32 | get32(q + 4);
        if (expiry == 0)
            return malformed(r, "bad expiry"); /* one encoding per entry */
        q += 8;
    }
    const uint8_t *props = NULL;
    size_t props_len = 0;
    if (flags & F_PROPS) {
        if ((size_t)(end - q) < 4)
            return malformed(r, "bad properties length");
        props_len = get32(q);
        props = q + 4;
        if (props_len == 0 || (size_t)(end - props) < props_len + 4)
            return malformed(r, "bad properties length");
        if (!busframe_props_ok(props, props_len))
            return malformed(r, "bad properties");
        q = props + props_len;
    }
    size_t pl = get32(q);
    const uint8_t *payload = q + 4;
    if ((size_t)(end - payload) < pl)
        return malformed(r, "bad payload length");
    bool retain = (flags & F_RETAIN) != 0;
    if (retain != (r->kind == 'r'))
        return malformed(r, "retain flag outside an 'r' frame");
    *e = (busframe_entry_t){
        .rest = (const char *)suffix,
        .rest_len = rest,
        .payload = payload,
        .payload_len = pl,
        .eid = (const char *)eid,
        .props = props,
        .props_len = props_len,
        .expiry_ms = expiry,
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
    p = busframe_put16(p, c->cid_len);
    if (c->cid_len)
        memcpy(p, c->cid, c->cid_len);
    p += c->cid_len;
    p = busframe_put16(p, c->filter_len);
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

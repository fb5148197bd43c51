/* busframe: the cluster bus wire format, pure (bytes in, entries out; no
 * sockets, no allocation, no logging), so the one decoder of bytes that
 * peers send is fuzzed (tests/fuzz/fuzz_busframe.c) and unit-tested.
 *
 * A data frame is a batch: kind ('m', or 'r' for retained), label, NUL,
 * then entries. The label is a prefix of every entry's topic (topic names
 * hold no U+0000, so the NUL ends it); each entry is flags (QoS in bits
 * 0-1, retain in bit 2, expiry in bit 3, properties in bit 4), entry id
 * length (u8) and id, the rest of the topic after the label (u16 length,
 * big-endian, and bytes), when bit 3 is set the message's expiry (u64 unix
 * ms, nonzero), when bit 4 is set its MQTT 5.0 properties (u32 length,
 * nonzero, and the property list's bytes: msg.h says which), then the
 * payload (u32 length and bytes). An entry without expiry or properties
 * (every 3.1.1 message) is byte for byte what it was before bits 3-4 came.
 * The properties must be a valid 5.0 PUBLISH list (mqtt_props_decode) with
 * none of the per-hop or re-computed ones (Topic Alias, Subscription
 * Identifier, Message Expiry Interval): what a peer sends goes out to
 * clients as it is. XPUB filters on the frame's start, so 'm' + a filter's
 * literal prefix selects it. A retained entry travels only in an 'r' frame,
 * and an 'r' frame holds only retained entries.
 *
 * A control message is three ZeroMQ frames: 'c', a body, the sender's
 * broker id. The body is type, target broker id (u8 length and bytes),
 * client id (u16 length), filter (u16 length), QoS.
 */
#ifndef ROOST_BROKER_BUSFRAME_H
#define ROOST_BROKER_BUSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BUSFRAME_ENTRY_FIXED (1 + 1 + 2 + 4) /* flags, eid length, topic rest length, payload length */

/* ---- data frames ------------------------------------------------------ */

/* The 5.0 part of an entry: properties (props_len 0: none) and expiry (0: none). */
typedef struct busframe_ext {
    const uint8_t *props;
    size_t props_len;
    uint64_t expiry_ms;
} busframe_ext_t;

/* Bytes an entry takes: fixed header, entry id, topic rest, the 5.0 part
 * (ext may be NULL), payload. */
static inline size_t busframe_entry_size_ext(size_t eid_len, size_t rest_len, size_t payload_len,
                                             const busframe_ext_t *ext)
{
    size_t n = BUSFRAME_ENTRY_FIXED + eid_len + rest_len + payload_len;
    if (ext && ext->expiry_ms)
        n += 8;
    if (ext && ext->props_len)
        n += 4 + ext->props_len;
    return n;
}
static inline size_t busframe_entry_size(size_t eid_len, size_t rest_len, size_t payload_len)
{
    return busframe_entry_size_ext(eid_len, rest_len, payload_len, NULL);
}

/* Writes the frame head (kind, label, NUL) at out, which holds at least
 * label_len + 2 bytes; returns the bytes written. */
size_t busframe_head(uint8_t *out, char kind, const char *label, size_t label_len);

/* An entry's flags byte: QoS in bits 0-1, then these. */
enum { BUSFRAME_F_RETAIN = 4, BUSFRAME_F_EXPIRY = 8, BUSFRAME_F_PROPS = 16, BUSFRAME_F_ALL = 31 };

/* Big-endian lengths; each returns p past what it wrote. */
static inline uint8_t *busframe_put16(uint8_t *p, size_t v)
{
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *busframe_put32(uint8_t *p, size_t v)
{
    *p++ = (uint8_t)(v >> 24);
    *p++ = (uint8_t)(v >> 16);
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

/* Writes one entry at out, which holds busframe_entry_size_ext(elen,
 * rest_len, plen, ext) bytes; rest is the topic after the frame's label;
 * ext: the 5.0 part (NULL: none; props_len <= UINT32_MAX). The caller keeps
 * the ranges (elen <= 255, rest_len <= 65535, plen <= UINT32_MAX). Returns
 * the bytes written. Inline: it runs for every message a broker forwards,
 * and its commonest caller (no entry id, no 5.0 part) needs only a few of
 * its tests. */
static inline size_t busframe_put_ext(uint8_t *out, uint8_t qos, bool retain, const char *eid,
                                      size_t elen, const char *rest, size_t rest_len,
                                      const uint8_t *payload, size_t plen,
                                      const busframe_ext_t *ext)
{
    uint64_t expiry = ext ? ext->expiry_ms : 0;
    size_t props_len = ext ? ext->props_len : 0;
    uint8_t *p = out;
    *p++ = (uint8_t)(qos | (retain ? BUSFRAME_F_RETAIN : 0) | (expiry ? BUSFRAME_F_EXPIRY : 0) |
                     (props_len ? BUSFRAME_F_PROPS : 0));
    *p++ = (uint8_t)elen;
    if (elen)
        memcpy(p, eid, elen);
    p += elen;
    p = busframe_put16(p, rest_len);
    if (rest_len)
        memcpy(p, rest, rest_len);
    p += rest_len;
    if (expiry) {
        p = busframe_put32(p, (size_t)(expiry >> 32));
        p = busframe_put32(p, (size_t)(expiry & 0xffffffffu));
    }
    if (props_len) {
        p = busframe_put32(p, props_len);
        memcpy(p, ext->props, props_len);
        p += props_len;
    }
    p = busframe_put32(p, plen);
    if (plen)
        memcpy(p, payload, plen);
    return (size_t)(p - out) + plen;
}

/* The same without a 5.0 part. */
static inline size_t busframe_put(uint8_t *out, uint8_t qos, bool retain, const char *eid,
                                  size_t elen, const char *rest, size_t rest_len,
                                  const uint8_t *payload, size_t plen)
{
    return busframe_put_ext(out, qos, retain, eid, elen, rest, rest_len, payload, plen, NULL);
}

/* One entry of a frame, pointing into the frame's bytes. */
typedef struct busframe_entry {
    const char *rest;          /* the topic after the label */
    size_t rest_len;
    const uint8_t *payload;
    size_t payload_len;
    const char *eid;           /* entry id, eid_len bytes (not NUL-terminated) */
    const uint8_t *props;      /* 5.0 properties, props_len bytes (0: none) */
    size_t props_len;
    uint64_t expiry_ms;        /* 0: none */
    uint8_t eid_len;
    uint8_t qos;
    bool retain;
} busframe_entry_t;

typedef struct busframe_reader {
    const uint8_t *p, *end;
    const char *label;
    size_t label_len;
    char kind;                 /* 'm' or 'r' */
    size_t index;              /* of the next entry */
    const char *error;         /* why the last call failed (static string) */
} busframe_reader_t;

/* Opens frame f of n bytes. 0, or -1 with r->error set when it is not a
 * data frame (kind, label end). */
int busframe_open(busframe_reader_t *r, const uint8_t *f, size_t n);
/* The next entry: 1 (e filled), 0 at the end, -1 when the entry at
 * r->index is malformed (r->error says why; nothing after it can be read).
 * The topic is label + e->rest, at most 65535 bytes; it is not checked
 * against the topic-name rules here. (Inline for the end of the frame:
 * no call; an entry is busframe_next_entry's.) */
int busframe_next_entry(busframe_reader_t *r, busframe_entry_t *e);
static inline int busframe_next(busframe_reader_t *r, busframe_entry_t *e)
{
    return r->p == r->end ? 0 : busframe_next_entry(r, e);
}

/* The 5.0 properties a peer may send with a message: a valid PUBLISH list
 * that a server forwards (msg.h), nothing per-hop or re-computed. */
bool busframe_props_ok(const uint8_t *p, size_t n);

/* ---- control messages ------------------------------------------------- */

enum { BUSCTL_KICK = 1, BUSCTL_RELEASED = 2, BUSCTL_PSUB_ADD = 3, BUSCTL_PSUB_DEL = 4 };

typedef struct busctl {
    uint8_t type;
    const char *target;        /* broker id the message is for ("" = all) */
    size_t target_len;
    const char *cid;
    size_t cid_len;
    const char *filter;
    size_t filter_len;
    uint8_t qos;
} busctl_t;

/* Bytes the body of ctl takes, or 0 when a field is over its length range. */
size_t busctl_size(const busctl_t *ctl);
/* Writes the body of ctl at out (busctl_size bytes); returns that size. */
size_t busctl_encode(const busctl_t *ctl, uint8_t *out);
/* Decodes a body (fields point into p). 0, or -1 when it is truncated. */
int busctl_decode(const uint8_t *p, size_t n, busctl_t *ctl);

#endif

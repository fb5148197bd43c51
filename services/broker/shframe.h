/* shframe: the cluster bus frames of shared subscriptions (shared.h), pure
 * (bytes in, records out; no sockets, no logging), so the decoder of bytes
 * peers send is fuzzed (tests/fuzz/fuzz_shframe.c) and unit-tested.
 *
 * A frame is one ZeroMQ message: 's', the target broker id, NUL, the
 * sender's broker id, NUL, then records. Each broker's SUB subscribes to
 * "s" + its own id + NUL and to "s" NUL (target "" = every broker), so
 * XPUB's prefix filter hands a frame to its target alone. Records (integers
 * big-endian):
 *
 *   'D' deliver  seq u64, key (u16 length, bytes), qos u8, topic (u16
 *                length, bytes), payload (u32 length, bytes), 5.0
 *                properties (u32 length, bytes; as busframe.h says), expiry (u64 unix
 *                ms, 0: none): one message for one member of group `key`
 *                on the target broker
 *   'A' ack      seq u64: the member took delivery 'D' seq (PUBACK/PUBREC)
 *   'N' nack     seq u64, flags u8: the target could not keep it (bit 0: it
 *                has no member of the group; else its member went away):
 *                the sender chooses again
 *   'R' reset    (no body): the 'W' records that follow are the sender's
 *                whole membership, replacing what it said before
 *   'W' weight   key (u16 length, bytes), members u16: connected members
 *                of group `key` on the sender
 *
 * A key is the ShareName, NUL, the filter (mqtt/share.h).
 */
#ifndef ROOST_BROKER_SHFRAME_H
#define ROOST_BROKER_SHFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHFRAME_NACK_NO_MEMBER 1

/* A frame being built (malloc'd; the owner frees p or hands it on). */
typedef struct shframe_buf {
    uint8_t *p;
    size_t len, cap;
    uint32_t records;
} shframe_buf_t;

/* Starts a frame in b (empty, p NULL or reused). 0 or -ENOMEM. */
int shframe_begin(shframe_buf_t *b, const char *target, const char *sender);
/* Appends a record; 0, -ENOMEM, or -E2BIG when a length is beyond its
 * field (nothing appended). */
typedef struct shframe_msg {
    uint8_t qos;
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *props;
    size_t props_len;
    uint64_t expiry_ms;
} shframe_msg_t;
int shframe_deliver(shframe_buf_t *b, uint64_t seq, const char *key, size_t klen,
                    const shframe_msg_t *m);
int shframe_ack(shframe_buf_t *b, char type, uint64_t seq, uint8_t flags); /* 'A' or 'N' */
int shframe_reset(shframe_buf_t *b);
int shframe_weight(shframe_buf_t *b, const char *key, size_t klen, uint16_t members);

/* One record, pointing into the frame. */
typedef struct shframe_rec {
    char type;
    uint8_t qos;
    uint8_t flags;
    uint16_t members;
    uint64_t seq;
    const char *key;
    size_t key_len;
    shframe_msg_t msg;         /* 'D' (msg.qos, not qos) */
} shframe_rec_t;

typedef struct shframe_reader {
    const uint8_t *p, *end;
    const char *target, *sender; /* NUL-terminated inside the frame */
    size_t index;                /* of the next record */
    const char *error;           /* why the last call failed (static) */
} shframe_reader_t;

/* 0, or -1 with r->error set when f is not a shared frame. */
int shframe_open(shframe_reader_t *r, const uint8_t *f, size_t n);
/* 1 (rec filled), 0 at the end, -1 when the record is malformed (nothing
 * after it is read). Lengths are checked against the frame; contents (key
 * shape, topic rules, qos range) are the caller's to check. */
int shframe_next(shframe_reader_t *r, shframe_rec_t *rec);

/* Splits a key into ShareName and filter: 0, or -1 when it holds no NUL. */
int shframe_key_split(const char *key, size_t klen, const char **name, size_t *nl,
                      const char **filter, size_t *fl);

#endif

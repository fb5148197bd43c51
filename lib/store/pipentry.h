/* pipentry: one message of a pipeline's queue (pipeq.h) packed into the
 * single field "m" of its stream entry, pure. Written by the broker
 * (sstore_pipe_append), read by roost-forwarder (pipeq_read/claim) and
 * copied as it is into dead-letter entries.
 *
 *   [version u8 = 1][flags u8: qos bits 0-1, retain bit 2, others 0]
 *   [received_ms u64 BE, unix ms]
 *   [topic_len u16 BE][topic]             1-65535 bytes
 *   [client_id_len u16 BE][client_id]
 *   [username_len u16 BE][username]       0: anonymous
 *   [broker_len u16 BE][broker]
 *   [payload]                             the rest
 *
 * One field instead of the eight field pairs written before (t p q r c u b
 * ts): Redis's XADD of eight pairs was most of a mapped PUBLISH's cost
 * (bench/RESULTS.md). Entries in that older layout are still read
 * (pipeq.c); nothing rewrites them. The decoder takes bytes from Redis,
 * i.e. from outside: it checks everything and never reads past len; the
 * text fields' UTF-8 is the forwarder's check (body_ok), not this layer's.
 */
#ifndef ROOST_STORE_PIPENTRY_H
#define ROOST_STORE_PIPENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIPENTRY_FIELD "m"   /* the stream entry's only field */
#define PIPENTRY_VERSION 1
#define PIPENTRY_HEAD 18     /* bytes besides the strings and the payload */
#define PIPENTRY_STR_MAX 65535
#define PIPENTRY_MS_MAX 253402300799999ull /* 9999-12-31T23:59:59.999Z */

/* Views into the caller's bytes (not NUL-terminated). */
typedef struct pipentry {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    const char *client_id, *username, *broker;
    size_t client_id_len, username_len, broker_len;
    uint64_t received_ms;
} pipentry_t;

/* Bytes pipentry_encode writes for e, or 0 when e cannot be packed (a
 * topic of 0 or more than 65535 bytes, a client id, username or broker
 * over 65535, qos > 2, received_ms past PIPENTRY_MS_MAX). */
size_t pipentry_size(const pipentry_t *e);
/* Writes e at out (pipentry_size(e) bytes, which must be nonzero);
 * returns that size. */
size_t pipentry_encode(const pipentry_t *e, uint8_t *out);
/* Parses n bytes at b into *e (views into b). 0, or -1 when they are not
 * an entry: another version, unknown flag bits, qos 3, received_ms past
 * PIPENTRY_MS_MAX, an empty topic or a length past the end. */
int pipentry_decode(const uint8_t *b, size_t n, pipentry_t *e);

#endif

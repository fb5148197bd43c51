/* pipebundle: several messages of a pipeline's queue (pipeq.h) in one
 * stream entry, pure. The broker packs the messages of one append call
 * bound for the same pipeline into one entry (one XADD instead of one per
 * message: Redis's XADD was most of a mapped PUBLISH's cost,
 * bench/RESULTS.md); roost-forwarder reads them back member by member.
 *
 * The entry's only field is "b" (PIPEBUNDLE_FIELD; the eight-field layout
 * of older brokers has a "b" too, the broker id, never alone):
 *
 *   [version u8 = 1][count u16 BE]          count >= 1
 *   count times: [len u32 BE][pipentry]     a message as pipentry.h packs it
 *
 * A one-message append stays an "m" entry (pipentry.h), so queues keep
 * every older layout readable. The count at bytes 1-2 is what the queue's
 * message count (G pq:<id>:stats "queued") adds and subtracts for the
 * entry, read the same way by the Lua scripts (pipebundle_count); a
 * bundle whose framing is wrong (another version, a length past the end,
 * bytes left over, fewer or more members than the count) does not decode
 * and is dead-lettered whole; a member whose pipentry does not decode is
 * dead-lettered alone. The decoder takes bytes from Redis, i.e. from
 * outside: it checks everything and never reads past len.
 */
#ifndef ROOST_STORE_PIPEBUNDLE_H
#define ROOST_STORE_PIPEBUNDLE_H

#include <stddef.h>
#include <stdint.h>

#define PIPEBUNDLE_FIELD "b"
#define PIPEBUNDLE_VERSION 1
#define PIPEBUNDLE_HEAD 3   /* version and count */
#define PIPEBUNDLE_MEMBER_HEAD 4
#define PIPEBUNDLE_MAX 65535 /* members */

/* One member: a view into the bundle's bytes (a pipentry to decode). */
typedef struct pipebundle_member {
    const uint8_t *b;
    size_t len;
} pipebundle_member_t;

/* The messages the queue counts for an entry whose only field is "b",
 * holding these n bytes: the count at bytes 1-2, or 1 when there are fewer than 3
 * bytes. The Lua scripts count the same way (sstore_pipe.c, pipeq.c). */
size_t pipebundle_count(const uint8_t *b, size_t n);
/* Writes the head of a bundle of count members at out (PIPEBUNDLE_HEAD
 * bytes). */
void pipebundle_head(uint8_t *out, size_t count);
/* Writes the head of a member of len bytes at out (PIPEBUNDLE_MEMBER_HEAD
 * bytes); len must fit in 32 bits. */
void pipebundle_member_head(uint8_t *out, size_t len);
/* Parses the n bytes at b: the count (1-65535) with out[0..count-1] filled
 * when cap >= count, or -1 when they are not a bundle (see above) or cap is
 * too small (pipebundle_count gives the room needed). */
int pipebundle_decode(const uint8_t *b, size_t n, pipebundle_member_t *out, size_t cap);

#endif

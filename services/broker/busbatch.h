/* busbatch: which peers a message is for, and the frames that carry it
 * (DESIGN.md "Clustering": batches per label). Pure: frames are built with
 * busframe and handed to an emit callback; no sockets.
 *
 * Which label: the longest prefix of the topic that some peer subscribed
 * (the interest set, from XPUB's notices). Every peer prefix that is a
 * prefix of the topic is a prefix of that one (they are all prefixes of one
 * string), so the frame reaches exactly the peers the topic alone would
 * reach, and messages whose topics share the label travel in one frame: one
 * ZeroMQ message, one wake-up of each I/O thread, for up to BUSBATCH_BYTES
 * of messages. A topic maps to one label until the interest set changes,
 * and every pending batch is emitted before it does (and before a retained
 * frame, and before the caller sends a control message), so messages on
 * one topic keep their order [MQTT-4.6.0-5].
 */
#ifndef ROOST_BROKER_BUSBATCH_H
#define ROOST_BROKER_BUSBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define BUSBATCH_BYTES 65536 /* a frame is emitted once it holds this much */
#define BUSBATCH_MAX 32      /* labels in progress at once; more emits all first */

/* Takes ownership of frame (malloc'd, len bytes, count messages). */
typedef void (*busbatch_emit_fn)(void *arg, uint8_t *frame, size_t len, uint32_t count);

typedef struct busbatch busbatch_t;
struct busframe_ext; /* busframe.h: a 5.0 message's properties and expiry (NULL: none) */

/* Caller owns the result; NULL on OOM. */
busbatch_t *busbatch_new(busbatch_emit_fn emit, void *arg);
/* Frees pending frames without emitting them; sets *bb to NULL; NULL-safe. */
void busbatch_destroy(busbatch_t **bb);

/* A peer subscribed ('m' + prefix: add) or the last one unsubscribed.
 * Emits the pending frames first. 0 or -ENOMEM (the prefix is not added). */
int busbatch_interest(busbatch_t *bb, const char *prefix, size_t len, bool add);
/* Prefixes some peer wants. */
size_t busbatch_interests(const busbatch_t *bb);

/* Adds the message of p (with its 5.0 part; entry id eid of eid_len
 * bytes, NULL/0: none) to the frame of its label: 1 when added, 0 when no
 * peer wants it (or a length is out of the format's range), -ENOMEM. A
 * retained message goes to every broker at once in an 'r' frame of its
 * own. */
int busbatch_add(busbatch_t *bb, const msg_parts_t *p, const char *eid, size_t eid_len);
/* Emits every pending frame. */
void busbatch_flush(busbatch_t *bb);
/* Frames pending. */
int busbatch_pending(const busbatch_t *bb);

#endif

/* pipeq: a pipeline's queue as roost-forwarder sees it (pipelines.h keys
 * G pq:<id>, G pq:<id>:dead, G pq:<id>:stats; G = P{g}:, store/keys.h). A Redis Stream read through
 * the consumer group "forwarders": XREADGROUP hands each entry to one
 * forwarder, which acknowledges it after a 2xx (XACK + XDEL, so the
 * stream's length is the backlog and the broker's max_queue cap counts
 * only undelivered work) or moves it to the dead-letter stream. Entries a
 * dead forwarder held stay pending and are taken over with XAUTOCLAIM.
 *
 * Entry fields (written by the broker, sstore_pipe_append): one, "b", the
 * messages of one append call bundled (store/pipebundle.h), or one, "m",
 * a single message packed (store/pipentry.h). Entries written before that
 * packing have eight fields instead: t topic, p payload (bytes), q qos, r
 * retain 0/1, c MQTT client id, u username, b broker id, ts received-at
 * (unix ms); they are read as they are (a queue may hold every layout
 * across an upgrade; nothing rewrites them). Each message has an id the
 * receiver may de-duplicate on: the entry id for an "m" or older entry,
 * "<entry id>:<index>" (0-based) for a bundle's member. A bundle that does
 * not decode, an entry of no known shape, or an "m" that does not decode is
 * handed over as one malformed message (topic NULL) with the entry's id; a
 * member that does not decode likewise, with its own id.
 *
 * An entry is acknowledged (pipeq_ack) once all its messages were
 * delivered or dead-lettered; the dead-letter stream holds one message per
 * entry: the "m" of a bundle's member (or the fields of a whole entry, as
 * they were) plus eid (the message id), reason and attempts.
 * G pq:<id>:att holds the failed attempts of messages being retried (by
 * message id). G pq:<id>:stats "queued" counts the messages in the queue:
 * the broker's append adds, its max_age trim and pipeq_ack subtract, each
 * by the entry's count (pipebundle_count; 1 for other layouts).
 *
 * Blocking calls on a store_t (store.h rules). Views passed to callbacks
 * are valid during the callback only.
 */
#ifndef ROOST_STORE_PIPEQ_H
#define ROOST_STORE_PIPEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/pipentry.h"
#include "store/store.h"

#define PIPEQ_GROUP "forwarders"
#define PIPEQ_EID_MAX 48
#define PIPEQ_MID_MAX (PIPEQ_EID_MAX + 8) /* "<eid>:<index>" */

typedef struct pipeq_msg {
    const char *eid;              /* stream entry id "<ms>-<seq>" */
    char mid[PIPEQ_MID_MAX];      /* message id: eid, or "<eid>:<index>" for a bundle's member */
    size_t count;                 /* messages the queue counts for the entry (pipeq_ack) */
    size_t parts;                 /* messages handed over for the entry (its members, or 1) */
    pipentry_t msg;               /* topic NULL: malformed (dead-letter it); strings are
                                   * views, not NUL-terminated, "" when absent */
    int attempts;                 /* failed deliveries recorded so far (claims only; else 0) */
} pipeq_msg_t;

typedef void (*pipeq_msg_fn)(const pipeq_msg_t *m, void *arg);

/* An entry whose messages are all done, to acknowledge. */
typedef struct pipeq_done {
    const char *eid;
    size_t count;                 /* pipeq_msg_t count */
    size_t delivered;             /* of its messages, how many were delivered (counted forwarded) */
} pipeq_done_t;

/* Creates the consumer group (and the stream) if missing. 0 or as store. */
int pipeq_ensure(store_t *s, const char *pipeline_id);
/* New entries for consumer (XREADGROUP ... >), at most count entries, not
 * blocking; each of their messages handed to fn, in stream and member
 * order. Returns the number of messages, or a negative code. */
int pipeq_read(store_t *s, const char *pipeline_id, const char *consumer, size_t count,
               pipeq_msg_fn fn, void *arg);
/* Entries pending for over min_idle_ms with any consumer (one that died),
 * now owned by consumer (XAUTOCLAIM from 0-0), each message with the
 * attempts its previous holder recorded (pipeq_note_attempts). Messages
 * handed to fn, or negative. */
int pipeq_claim(store_t *s, const char *pipeline_id, const char *consumer, int64_t min_idle_ms,
                size_t count, pipeq_msg_fn fn, void *arg);
/* Resets the idle time of n entries this consumer holds (XCLAIM JUSTID, min
 * idle 0), so other forwarders do not take over work still being retried. */
int pipeq_touch(store_t *s, const char *pipeline_id, const char *consumer, const char *const *eids,
                size_t n);
/* Acknowledges and deletes n entries (any order); counts their delivered
 * messages as forwarded and subtracts their counts from the queue's. The
 * entries below the group's first pending one go by one trim of the stream
 * (cheaper than deleting each). An entry acknowledged twice (a takeover)
 * is counted once. */
int pipeq_ack(store_t *s, const char *pipeline_id, const pipeq_done_t *done, size_t n);
/* Writes the n messages (ids as pipeq_msg_t mid) to the dead-letter stream
 * with reason (printable text, never a token) and attempts; counts them
 * dead. Their entries stay pending: acknowledge them (pipeq_ack) once all
 * their messages are done. A message whose entry is gone is skipped. */
int pipeq_dead(store_t *s, const char *pipeline_id, const char *const *mids, size_t n,
               const char *reason, int attempts);
/* Records how many deliveries of each message failed so far (G pq:<id>:att,
 * message id -> count; forgotten at ack and dead-letter), so a forwarder
 * that claims them after a takeover goes on counting towards max_attempts. */
int pipeq_note_attempts(store_t *s, const char *pipeline_id, const char *const *mids, const int *attempts,
                        size_t n);
/* Stream entry id order ("<ms>-<seq>"): <0, 0, >0. */
int pipeq_eid_cmp(const char *a, const char *b);
/* Records the last delivery error shown in the console. */
int pipeq_note_error(store_t *s, const char *pipeline_id, const char *reason);
/* Messages waiting plus in flight (the stats' "queued", else XLEN) and the
 * age of the oldest entry in ms (0 when empty), for /metrics. */
/* The messages in queue key q (the stats' "queued", else XLEN: a queue
 * no broker appended to since the count came) and its entries (XLEN). */
int pipeq_length(store_t *s, const char *q, int64_t *messages, int64_t *entries);
int pipeq_depth(store_t *s, const char *pipeline_id, int64_t *len, int64_t *oldest_age_ms);

#endif

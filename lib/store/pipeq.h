/* pipeq: a pipeline's queue as roost-forwarder sees it (pipelines.h keys
 * G pq:<id>, G pq:<id>:dead, G pq:<id>:stats; G = P{g}:, store/keys.h). A Redis Stream read through
 * the consumer group "forwarders": XREADGROUP hands each entry to one
 * forwarder, which acknowledges it after a 2xx (XACK + XDEL, so the
 * stream's length is the backlog and the broker's max_queue cap counts
 * only undelivered work) or moves it to the dead-letter stream. Entries a
 * dead forwarder held stay pending and are taken over with XAUTOCLAIM.
 *
 * Entry fields (written by the broker, sstore_pipe_append): one, "m", the
 * message packed (store/pipentry.h). Entries written before that packing
 * have eight fields instead: t topic, p payload (bytes), q qos, r retain
 * 0/1, c MQTT client id, u username, b broker id, ts received-at (unix
 * ms); they are read as they are (a queue may hold both across an upgrade;
 * nothing rewrites them). An entry of neither shape, or an "m" that does
 * not decode, is handed over as malformed (topic NULL).
 * Dead-letter entries carry the entry's fields as they were plus eid (the
 * queue entry id), reason and attempts. G pq:<id>:att holds the failed attempts of entries
 * being retried.
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

typedef struct pipeq_msg {
    const char *eid;              /* stream entry id "<ms>-<seq>" */
    pipentry_t msg;               /* topic NULL: a malformed entry (dead-letter it); strings are
                                   * views, not NUL-terminated, "" when absent */
    int attempts;                 /* failed deliveries recorded so far (claims only; else 0) */
} pipeq_msg_t;

typedef void (*pipeq_msg_fn)(const pipeq_msg_t *m, void *arg);

/* Creates the consumer group (and the stream) if missing. 0 or as store. */
int pipeq_ensure(store_t *s, const char *pipeline_id);
/* New entries for consumer (XREADGROUP ... >), at most count, not
 * blocking. Returns the number handed to fn, or a negative code. */
int pipeq_read(store_t *s, const char *pipeline_id, const char *consumer, size_t count,
               pipeq_msg_fn fn, void *arg);
/* Entries pending for over min_idle_ms with any consumer (one that died),
 * now owned by consumer (XAUTOCLAIM from 0-0), each with the attempts its
 * previous holder recorded (pipeq_note_attempts). Count or negative. */
int pipeq_claim(store_t *s, const char *pipeline_id, const char *consumer, int64_t min_idle_ms,
                size_t count, pipeq_msg_fn fn, void *arg);
/* Resets the idle time of n entries this consumer holds (XCLAIM JUSTID, min
 * idle 0), so other forwarders do not take over work still being retried. */
int pipeq_touch(store_t *s, const char *pipeline_id, const char *consumer, const char *const *eids,
                size_t n);
/* Acknowledges and deletes n entries (any order); counts them as
 * forwarded. The entries below the group's first pending one go by one
 * trim of the stream (cheaper than deleting each). */
int pipeq_ack(store_t *s, const char *pipeline_id, const char *const *eids, size_t n);
/* Moves n entries to the dead-letter stream with reason (printable text,
 * never a token) and attempts; acknowledges them. */
int pipeq_dead(store_t *s, const char *pipeline_id, const char *const *eids, size_t n,
               const char *reason, int attempts);
/* Records how many deliveries of each entry failed so far (G pq:<id>:att,
 * entry id -> count; forgotten at ack and dead-letter), so a forwarder that
 * claims them after a takeover goes on counting towards max_attempts. */
int pipeq_note_attempts(store_t *s, const char *pipeline_id, const char *const *eids, const int *attempts,
                        size_t n);
/* Stream entry id order ("<ms>-<seq>"): <0, 0, >0. */
int pipeq_eid_cmp(const char *a, const char *b);
/* Records the last delivery error shown in the console. */
int pipeq_note_error(store_t *s, const char *pipeline_id, const char *reason);
/* Entries waiting plus in flight (XLEN) and the age of the oldest in ms
 * (0 when empty), for /metrics. */
int pipeq_depth(store_t *s, const char *pipeline_id, int64_t *len, int64_t *oldest_age_ms);

#endif

/* body: the JSON document a pipeline's API receives for one message, and
 * the request body of a batch. Pure (libsodium's base64 only).
 *
 *   {"id": "<pipeline id>:<message id>", stable across retries and takeovers:
 *                                        the receiver may de-duplicate on it;
 *                                        the message id is the queue entry's
 *                                        id, "<entry id>:<index>" for a
 *                                        member of a bundle (pipeq.h)
 *    "pipeline": "<pipeline id>", "topic": "...",
 *    "payload": "...", "encoding": "utf-8" | "base64",
 *    "qos": 0|1|2, "retain": false, "client_id": "<MQTT client id>",
 *    "username": "...", "broker": "<broker id>",
 *    "received_at": "2026-01-02T03:04:05.678Z", "received_at_ms": 1767...}
 *
 * The payload is sent as text when it is valid UTF-8 without NUL, else as
 * standard base64 with "encoding": "base64".
 */
#ifndef ROOST_FORWARDER_BODY_H
#define ROOST_FORWARDER_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "store/pipeq.h"

/* Whether m can be sent: it has a topic, and its topic, client id,
 * username and broker are UTF-8 (mqtt_utf8_check) as JSON text must be.
 * An entry that is not is dead-lettered as malformed. */
bool body_ok(const pipeq_msg_t *m);
/* The compact JSON text of m (body_ok) for pipeline_id; caller owns (free). NULL on
 * OOM. *len is its length. */
char *body_message(const char *pipeline_id, const pipeq_msg_t *m, size_t *len);
/* "[" parts joined by "," "]" (batch) or parts[0] alone when as_array is
 * false (n must be 1 then). Caller owns; NULL on OOM. */
char *body_join(char *const *parts, const size_t *lens, size_t n, int as_array, size_t *len);

#endif

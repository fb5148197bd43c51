/* sblob: the message blob of persistent-session queues and retained
 * messages in Redis (sstore.h's qm:<cid> and retained values), pure.
 *
 *   [qos u8][flags u8][topic_len u16 BE][topic]
 *   [expiry u64 BE, unix ms]        when flags & SBLOB_EXPIRY
 *   [props_len u32 BE][props]       when flags & SBLOB_PROPS
 *   [payload]                       the rest
 *
 * flags: SBLOB_RETAIN, SBLOB_EXPIRY (the MQTT 5.0 Message Expiry Interval
 * as an absolute deadline, nonzero), SBLOB_PROPS (the 5.0 properties a
 * server forwards, nonzero length; see services/broker/msg.h). A message
 * without either (every 3.1.1 one) is the blob written before 5.0
 * ([qos][retain 0/1][topic_len][topic][payload]), so blobs written then
 * read the same now. The queue script stores one blob per session with that
 * session's QoS as the first byte, so writers build everything after it
 * (the tail).
 */
#ifndef ROOST_STORE_SBLOB_H
#define ROOST_STORE_SBLOB_H

#include <stddef.h>
#include <stdint.h>

#include "store/sstore.h"

enum { SBLOB_RETAIN = 1, SBLOB_EXPIRY = 2, SBLOB_PROPS = 4 };

#define SBLOB_HEAD 4 /* qos, flags, topic length */
#define SBLOB_MID_MAX 12 /* expiry, properties length */

/* The tail's bytes before the topic (flags, topic length): 3 bytes at out. */
void sblob_head(uint8_t out[3], const sstore_msg_t *m);
/* The tail's bytes between the topic and the properties (expiry,
 * properties length) at out (SBLOB_MID_MAX bytes); returns how many. */
size_t sblob_mid(uint8_t out[SBLOB_MID_MAX], const sstore_msg_t *m);
/* A persistent subscription's value in subs:<cid>: the options byte (QoS,
 * No Local, Retain As Published: bits 0-3) plus 256 x its 5.0
 * Subscription Identifier; a value written before 5.0 is the QoS alone,
 * which reads the same. sblob_sub_value fills sub's qos, options and
 * subid: 0, or -1 for QoS 3, other option bits, an identifier above
 * SSTORE_SUBID_MAX. */
uint64_t sblob_sub_encode(uint8_t options, uint32_t subid);
int sblob_sub_value(uint64_t v, sstore_sub_t *sub);

/* Parses a whole blob (n bytes at b) into m, whose views point into b
 * (entry_id is left alone). 0, or -1 when it is not a blob: qos > 2, an
 * unknown flag, a length past the end, a zero expiry or properties length
 * under their flags. */
int sblob_parse(const char *b, size_t n, sstore_msg_t *m);

#endif

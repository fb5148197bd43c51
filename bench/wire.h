/* wire: the handful of MQTT 3.1.1 packets roost-bench speaks (CONNECT,
 * CONNACK, SUBSCRIBE, SUBACK, PUBLISH, PUBACK, PINGREQ/PINGRESP, DISCONNECT),
 * or their MQTT 5.0 forms when wire_mqtt5 is set (--mqtt 5): protocol level
 * 5 and an empty property list in CONNECT, SUBSCRIBE and PUBLISH; the
 * property lists the broker sends are skipped.
 *
 * Deliberately independent of lib/mqtt: the bench measures the broker, and a
 * codec bug shared by both sides could hide a broker bug. Encoders write into
 * a caller buffer that has room (sizes documented per function) and return the
 * bytes written; nothing here allocates, blocks or touches a socket.
 */
#ifndef ROOST_BENCH_WIRE_H
#define ROOST_BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	WIRE_CONNECT = 1, WIRE_CONNACK = 2, WIRE_PUBLISH = 3, WIRE_PUBACK = 4,
	WIRE_SUBSCRIBE = 8, WIRE_SUBACK = 9, WIRE_PINGREQ = 12, WIRE_PINGRESP = 13,
	WIRE_DISCONNECT = 14,
};

/* Largest remaining length we accept from a broker (we never ask for more). */
#define WIRE_MAX_BODY (1u << 20)

/* One framed packet: body is a view into the caller's buffer. */
typedef struct wire_pkt {
	uint8_t type;  /* high nibble of the first byte */
	uint8_t flags; /* low nibble */
	const uint8_t *body;
	size_t body_len;
} wire_pkt_t;

/* A decoded PUBLISH; views into the packet body. */
typedef struct wire_pub {
	uint8_t qos;
	uint16_t pid; /* 0 at QoS 0 */
	const uint8_t *topic;
	size_t topic_len;
	const uint8_t *payload;
	size_t payload_len;
} wire_pub_t;

/* Speak MQTT 5.0 instead of 3.1.1 (set once, before the first packet). */
extern int wire_mqtt5;

/* Frames the next packet in buf. Returns the bytes it spans (> 0), 0 when buf
 * holds only part of it, -1 when the header is malformed or the body is larger
 * than WIRE_MAX_BODY. */
ssize_t wire_next(const uint8_t *buf, size_t len, wire_pkt_t *out);

/* Decodes a PUBLISH body. 0, or -1 if malformed (QoS 3, short body). */
int wire_parse_publish(const wire_pkt_t *p, wire_pub_t *out);
/* The first return code of a SUBACK body (after 5.0's properties), or
 * 0x80 when the body is too short. */
uint8_t wire_suback_code(const wire_pkt_t *p);

/* Encoders. Each writes at most the size noted. */
/* CONNECT, clean session; user/pass may be NULL. Strings < 256 bytes each;
 * writes at most 17 + the three string lengths + 6. */
size_t wire_connect(uint8_t *o, const char *client_id, uint16_t keepalive,
		    const char *user, const char *pass);
/* SUBSCRIBE with one filter (< 256 bytes); at most 13 + strlen(filter). */
size_t wire_subscribe(uint8_t *o, uint16_t pid, const char *filter, uint8_t qos);
/* PUBLISH fixed header + topic (+ packet id slot at QoS > 0) for a payload of
 * payload_len bytes; the caller appends the payload. *pid_off receives the
 * offset of the two packet-id bytes (0 at QoS 0). At most 7 + topic_len + 3. */
size_t wire_publish_head(uint8_t *o, uint8_t qos, const char *topic,
			 size_t topic_len, size_t payload_len, size_t *pid_off);
size_t wire_puback(uint8_t *o, uint16_t pid);  /* 4 bytes */
size_t wire_pingreq(uint8_t *o);               /* 2 bytes */
size_t wire_disconnect(uint8_t *o);            /* 2 bytes */

static inline void wire_put16(uint8_t *o, uint16_t v)
{
	o[0] = (uint8_t)(v >> 8);
	o[1] = (uint8_t)v;
}

static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

#endif

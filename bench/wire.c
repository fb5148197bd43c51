/* wire: see wire.h. MQTT 3.1.1 section numbers in comments. */
#include "wire.h"

#include <string.h>

int wire_mqtt5;

/* 5.0: skips the property list at b[*off] (its varint length and bytes);
 * -1 when it runs past n. */
static int skip_props(const uint8_t *b, size_t n, size_t *off)
{
	size_t len = 0, i = *off;
	unsigned shift = 0;
	for (;;) {
		if (i >= n || shift > 21)
			return -1;
		uint8_t d = b[i++];
		len |= (size_t)(d & 0x7f) << shift;
		shift += 7;
		if (!(d & 0x80))
			break;
	}
	if (len > n - i)
		return -1;
	*off = i + len;
	return 0;
}

ssize_t wire_next(const uint8_t *b, size_t len, wire_pkt_t *out)
{
	size_t rl = 0, i = 1;
	unsigned shift = 0;

	for (;;) { /* 2.2.3: remaining length, at most 4 bytes */
		if (i > 4)
			return -1;
		if (i >= len)
			return 0;
		uint8_t d = b[i++];
		rl |= (size_t)(d & 0x7f) << shift;
		shift += 7;
		if (!(d & 0x80))
			break;
	}
	if (rl > WIRE_MAX_BODY)
		return -1;
	if (len - i < rl)
		return 0;
	out->type = b[0] >> 4;
	out->flags = b[0] & 0x0f;
	out->body = b + i;
	out->body_len = rl;
	return (ssize_t)(i + rl);
}

int wire_parse_publish(const wire_pkt_t *p, wire_pub_t *out)
{
	const uint8_t *b = p->body;
	size_t n = p->body_len, off;

	out->qos = (p->flags >> 1) & 3;
	if (out->qos == 3 || n < 2)
		return -1;
	out->topic_len = wire_get16(b);
	out->topic = b + 2;
	off = 2 + out->topic_len;
	if (off > n)
		return -1;
	out->pid = 0;
	if (out->qos) {
		if (off + 2 > n)
			return -1;
		out->pid = wire_get16(b + off);
		off += 2;
	}
	if (wire_mqtt5 && skip_props(b, n, &off) < 0)
		return -1;
	out->payload = b + off;
	out->payload_len = n - off;
	return 0;
}

uint8_t wire_suback_code(const wire_pkt_t *p)
{
	size_t off = 2;
	if (p->body_len < 3 || (wire_mqtt5 && skip_props(p->body, p->body_len, &off) < 0) ||
	    off >= p->body_len)
		return 0x80;
	return p->body[off];
}

static size_t put_varint(uint8_t *o, size_t v)
{
	size_t i = 0;

	do {
		uint8_t d = v & 0x7f;
		v >>= 7;
		o[i++] = d | (v ? 0x80 : 0);
	} while (v);
	return i;
}

static size_t put_str(uint8_t *o, const char *s, size_t n)
{
	wire_put16(o, (uint16_t)n);
	memcpy(o + 2, s, n);
	return n + 2;
}

size_t wire_connect(uint8_t *o, const char *client_id, uint16_t keepalive,
		    const char *user, const char *pass)
{
	size_t cl = strlen(client_id), ul = user ? strlen(user) : 0;
	size_t pl = pass ? strlen(pass) : 0;
	size_t rl = 10 + (wire_mqtt5 ? 1 : 0) + 2 + cl + (user ? 2 + ul : 0) + (pass ? 2 + pl : 0);
	uint8_t flags = 0x02; /* 3.1.2.4 clean session */
	size_t i = 0;

	if (user)
		flags |= 0x80;
	if (pass)
		flags |= 0x40;
	o[i++] = WIRE_CONNECT << 4;
	i += put_varint(o + i, rl);
	i += put_str(o + i, "MQTT", 4);
	o[i++] = wire_mqtt5 ? 5 : 4; /* 3.1.2.2 protocol level 3.1.1 (5.0: 5) */
	o[i++] = flags;
	wire_put16(o + i, keepalive);
	i += 2;
	if (wire_mqtt5)
		o[i++] = 0; /* 5.0: no CONNECT properties */
	i += put_str(o + i, client_id, cl);
	if (user)
		i += put_str(o + i, user, ul);
	if (pass)
		i += put_str(o + i, pass, pl);
	return i;
}

size_t wire_subscribe(uint8_t *o, uint16_t pid, const char *filter, uint8_t qos)
{
	size_t fl = strlen(filter), i = 0;

	o[i++] = (WIRE_SUBSCRIBE << 4) | 0x02; /* 3.8.1 reserved bits 0010 */
	i += put_varint(o + i, 2 + (wire_mqtt5 ? 1 : 0) + 2 + fl + 1);
	wire_put16(o + i, pid);
	i += 2;
	if (wire_mqtt5)
		o[i++] = 0; /* 5.0: no SUBSCRIBE properties */
	i += put_str(o + i, filter, fl);
	o[i++] = qos;
	return i;
}

size_t wire_publish_head(uint8_t *o, uint8_t qos, const char *topic,
			 size_t topic_len, size_t payload_len, size_t *pid_off)
{
	size_t i = 0;

	o[i++] = (uint8_t)((WIRE_PUBLISH << 4) | (qos << 1));
	i += put_varint(o + i, 2 + topic_len + (qos ? 2 : 0) + (wire_mqtt5 ? 1 : 0) + payload_len);
	i += put_str(o + i, topic, topic_len);
	*pid_off = 0;
	if (qos) {
		*pid_off = i;
		wire_put16(o + i, 0);
		i += 2;
	}
	if (wire_mqtt5)
		o[i++] = 0; /* 5.0: no PUBLISH properties */
	return i;
}

size_t wire_puback(uint8_t *o, uint16_t pid)
{
	o[0] = WIRE_PUBACK << 4;
	o[1] = 2;
	wire_put16(o + 2, pid);
	return 4;
}

size_t wire_pingreq(uint8_t *o)
{
	o[0] = WIRE_PINGREQ << 4;
	o[1] = 0;
	return 2;
}

size_t wire_disconnect(uint8_t *o)
{
	o[0] = WIRE_DISCONNECT << 4;
	o[1] = 0;
	return 2;
}

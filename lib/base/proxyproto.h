/* proxyproto: the PROXY protocol header (HAProxy's "PROXY protocol" spec,
 * versions 1 and 2) that a TCP load balancer puts before a connection's first
 * byte to tell the server who the client really is. Pure: bytes in, address
 * out; no sockets, no allocation.
 *
 * v1: "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n", at most 107 bytes.
 * v2: a 12-byte signature, version/command, family, 16-bit length, addresses
 *     (TLVs after them are skipped). LOCAL (health checks) and UNKNOWN /
 *     unsupported families carry no client address: `has_addr` is false and
 *     the connection's own peer stays.
 */
#ifndef ROOST_BASE_PROXYPROTO_H
#define ROOST_BASE_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Non-error outcome: more bytes are needed. */
enum { PROXY_NEED_MORE = 1 };

typedef struct proxy_info {
    bool has_addr;
    uint8_t addr[16];   /* source address, IPv4 as v4-mapped IPv6 */
    uint16_t port;      /* source port */
} proxy_info_t;

/* Parses a header at buf[0..len). Returns 0 with *consumed (the header's
 * size) and *out filled, PROXY_NEED_MORE, or ROOST_EPROTO_MALFORMED (not a
 * PROXY header, or a malformed one). Never reads past buf + len. */
int proxy_parse(const uint8_t *buf, size_t len, size_t *consumed, proxy_info_t *out);

#endif

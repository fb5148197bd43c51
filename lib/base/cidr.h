/* cidr: lists of address ranges ("10.0.0.0/8,192.0.2.7,2001:db8::/32") and
 * matching an address against them. Addresses are 16 bytes, IPv4 as
 * v4-mapped IPv6 (::ffff:a.b.c.d), as the broker keeps peers; an IPv4 range
 * matches only IPv4 peers. A bare address is a /32 or /128. Pure, no
 * allocation after parsing.
 */
#ifndef ROOST_BASE_CIDR_H
#define ROOST_BASE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_MAX 64 /* ranges in one list */

typedef struct cidr {
    uint8_t addr[16];
    uint8_t bits; /* prefix length over the 16 bytes (IPv4 /n is 96 + n) */
} cidr_t;

typedef struct cidr_list {
    cidr_t items[CIDR_MAX];
    size_t n;
} cidr_list_t;

/* Parses one range. 0, or -1 (not an address, prefix out of range, host
 * bits set beyond the prefix are allowed and ignored). */
int cidr_parse(const char *text, size_t len, cidr_t *out);
/* Parses a comma-separated list (spaces around items allowed; "" is an
 * empty list). 0, or -1 with *bad_at set to the offending item's offset. */
int cidr_list_parse(const char *text, cidr_list_t *out, size_t *bad_at);
bool cidr_match(const cidr_t *c, const uint8_t addr[16]);
/* The host part of a peer as Roost writes it, always with a port ("ip:port",
 * "v6:port", "[v6]:port"): *host points into peer, the length is returned. */
size_t cidr_peer_host(const char *peer, const char **host);
/* The peer's address (cidr_peer_host) as a single-address range. 0 or -1. */
int cidr_parse_peer(const char *peer, cidr_t *out);
bool cidr_list_match(const cidr_list_t *l, const uint8_t addr[16]);

#endif

/* slot: the pure parts of Redis Cluster routing (the Redis Cluster
 * specification, "Key distribution model" and "Redirection and resharding"):
 * which of the 16384 hash slots a key belongs to, which part of a key is
 * hashed (hash tags), and the MOVED / ASK error replies.
 *
 * HASH_SLOT = CRC16(key) mod 16384, CRC16 being the XMODEM variant
 * (polynomial 0x1021, initial value 0, no reflection, no final xor; the
 * spec's check value: "123456789" -> 0x31C3). When the key holds a '{'
 * followed later by a '}' with at least one byte between them, only the
 * bytes between the first '{' and the first '}' after it are hashed; an
 * empty tag ("{}") hashes the whole key.
 *
 * No I/O, no allocation: slot_test unit-tests every function here.
 */
#ifndef ROOST_STORE_SLOT_H
#define ROOST_STORE_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384u

/* CRC16/XMODEM of n bytes. */
uint16_t slot_crc16(const void *p, size_t n);
/* Continues a CRC over n more bytes: crc16(a then b) ==
 * slot_crc16_more(slot_crc16(a), b). */
uint16_t slot_crc16_more(uint16_t crc, const void *p, size_t n);

/* The part of key that is hashed: a pointer into key and its length (the
 * tag, or the whole key). */
const char *slot_hashed(const char *key, size_t len, size_t *out_len);

/* The hash slot of a key (0 .. 16383). */
unsigned slot_of(const char *key, size_t len);

/* A cluster redirection parsed from an error reply. */
typedef enum { SLOT_REDIR_NONE, SLOT_REDIR_MOVED, SLOT_REDIR_ASK } slot_redir_kind_t;
typedef struct slot_redir {
    slot_redir_kind_t kind;
    unsigned slot;
    char host[256]; /* as Redis wrote it: an IPv4/IPv6 address or a name */
    int port;
} slot_redir_t;

/* Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the
 * text of an error reply, n bytes, not NUL-terminated necessarily). The
 * port is after the last ':' so IPv6 addresses work. Returns the kind;
 * SLOT_REDIR_NONE for any other error or a malformed one (a space in the address, a slot past
 * 16383, a port outside 1..65535, an empty or over-long host). */
slot_redir_kind_t slot_redir_parse(const char *err, size_t n, slot_redir_t *out);

/* Whether an error reply (n bytes) says the cluster cannot serve the
 * command just now: "TRYAGAIN" (a multi-key command meeting a slot half
 * migrated) or "CLUSTERDOWN" (a slot not served, e.g. its primary down
 * before its replica is promoted), as a whole first word; or a script
 * stopped at a command "while the cluster is down" (what a script that
 * declares no keys gets instead; its earlier commands, if any, ran). */
bool slot_busy(const char *err, size_t n);

#endif

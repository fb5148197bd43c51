/* wsupgrade: the HTTP/1.1 request that opens a WebSocket (RFC 6455 4.1,
 * 4.2) for MQTT over WebSockets, parsed, judged and answered. Pure: bytes in,
 * a verdict and response bytes out; no socket, no clock, no log, no
 * allocation. Strings in wsup_request_t are views into the caller's buffer.
 *
 * Lines end in CRLF; a line folded onto the next (obs-fold), a control
 * character, a header name that is not a token, a request line that is not
 * "METHOD SP TARGET SP HTTP/1.1" are malformed, found as soon as the bytes
 * that show it arrive (so a device speaking MQTT to the WebSocket port is
 * refused at once, not after --connect-timeout). A head over WSUP_MAX_HEAD
 * bytes or WSUP_MAX_HEADERS lines is refused.
 */
#ifndef ROOST_BROKER_WSUPGRADE_H
#define ROOST_BROKER_WSUPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSUP_MAX_HEAD 8192
#define WSUP_MAX_HEADERS 64

/* Non-error outcome of wsup_parse: more bytes are needed. */
enum { WSUP_NEED_MORE = 1 };

typedef struct wsup_str {
    const char *p;
    size_t n;
} wsup_str_t;

typedef struct wsup_request {
    wsup_str_t method, target;          /* target: origin-form, query included */
    wsup_str_t host, key, version, origin;
    wsup_str_t forwarded_for;           /* the last X-Forwarded-For line's value */
    bool upgrade_websocket;             /* Upgrade lists "websocket" */
    bool connection_upgrade;            /* Connection lists "upgrade" */
    bool protocol_offered;              /* some Sec-WebSocket-Protocol line came */
    const char *subprotocol;            /* "mqtt" or "mqttv3.1" when offered, else NULL */
    const char *error;                  /* with ROOST_EPROTO_MALFORMED: why (static) */
} wsup_request_t;

/* Parses the request head at buf[0..len). 0: complete, *used = its length
 * (through the blank line; what follows is WebSocket frames), *r filled;
 * WSUP_NEED_MORE; or ROOST_EPROTO_MALFORMED with r->error. Never reads past
 * buf + len. */
int wsup_parse(const uint8_t *buf, size_t len, wsup_request_t *r, size_t *used);

/* What the broker accepts. */
typedef struct wsup_policy {
    const char *path;      /* "/mqtt": the target's path must equal it (a query may follow) */
    const char *origins;   /* comma-separated allowed Origin values; "" = any */
} wsup_policy_t;

typedef struct wsup_verdict {
    int status;            /* 101 (accepted), or the HTTP status of the refusal */
    const char *reason;    /* static text for the log line and the refusal body */
} wsup_verdict_t;

/* Judges a parsed request against the policy. A request with no Origin is
 * not refused for it (devices and non-browser clients send none; the check
 * is there against web pages of other sites). */
wsup_verdict_t wsup_check(const wsup_request_t *r, const wsup_policy_t *p);

/* The verdict for a request wsup_parse refused (status 400 or 431). */
wsup_verdict_t wsup_malformed(const wsup_request_t *r, int rc);

/* Writes the response into out (cap bytes): "101 Switching Protocols" with
 * Sec-WebSocket-Accept and the chosen subprotocol, or the refusal with its
 * reason as the body (426 and version refusals name Sec-WebSocket-Version
 * 13). Returns its length, or 0 when cap is too small (512 always fits). */
size_t wsup_response(const wsup_request_t *r, const wsup_verdict_t *v, char *out, size_t cap);

/* The client address a proxy put last in X-Forwarded-For (the address that
 * proxy saw; entries before it are whatever the client claimed): 1 with
 * addr (16 bytes, IPv4 v4-mapped), 0 when the header is absent, -1 when
 * its last entry is not a bare IPv4 or IPv6 address ("[v6]" allowed). */
int wsup_forwarded_for(const wsup_request_t *r, uint8_t addr[16]);

/* The Sec-WebSocket-Accept value for key (RFC 6455 4.2.2: base64 of the
 * SHA-1 of the key and the GUID) into out (29 bytes with the NUL). */
void wsup_accept_key(const char *key, size_t n, char out[29]);

#endif

/* xport_ws: MQTT over WebSockets (RFC 6455; MQTT 3.1.1 and 5.0 section 6)
 * under the connections of the --ws-port and --wss-port listeners, in the
 * broker's one epoll loop. wss is TLS under the WebSocket: this transport's
 * state is followed, in the same allocation, by xport_tls's, and reads and
 * writes through it.
 *
 * Handshake: the HTTP/1.1 Upgrade request (wsupgrade.h) is read into a
 * buffer freed once answered; it counts against --connect-timeout like a TLS
 * handshake (stage "handshake"). A refused request gets its HTTP status
 * (400, 403, 404, 426, 431) and the connection a conn_refused line.
 *
 * Frames (libwslay's frame layer): binary frames carry the MQTT byte stream,
 * split and joined at any boundary both ways; each write of the connection's
 * output is one binary frame. A client's ping gets a pong; a close frame gets
 * its status echoed and ends the connection; the broker closing a connection
 * sends close 1000. Refused, with a close frame and a log line: text frames
 * (1003), unmasked frames, reserved bits, unknown opcodes, a continuation
 * outside a fragmented message or a new message inside one (1002), a message
 * (all its frames) over --max-packet-size + 5 bytes or in more than
 * XWS_MAX_FRAMES frames (1009).
 *
 * Idle: the frame context (libwslay's, with its 4 KiB input buffer) exists
 * only while a read or write is under way, or a frame is half read or half
 * written; an idle WebSocket costs this transport's small state (bench/ws.py
 * measures it against TCP).
 */
#ifndef ROOST_BROKER_XPORT_WS_H
#define ROOST_BROKER_XPORT_WS_H

#include "config.h"
#include "xport.h"

#define XWS_MAX_FRAMES 1024

typedef struct xws_server xws_server_t;

/* The WebSocket listeners' shared settings (--ws-path, --ws-allowed-origins,
 * --max-packet-size). tls: the TLS transport wss puts under the WebSocket,
 * or NULL (no wss). Caller owns the result; NULL on OOM. */
xws_server_t *xws_server_new(const broker_config_t *cfg, const xport_kind_t *tls);
/* NULL-safe; sets *s to NULL. */
void xws_server_destroy(xws_server_t **s);

/* The transport of a ws (secure false) or wss (true) listener's connections. */
xport_kind_t xws_kind(xws_server_t *s, bool secure);

#endif

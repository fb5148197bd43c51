/* wsc: roost-bench's client side of MQTT over WebSockets (--ws PATH): the
 * HTTP Upgrade (subprotocol mqtt) and binary frames, masked as a client must
 * (RFC 6455 5.3). Written for the load generator, independent of the
 * broker's implementation (libwslay), so the bench also cross-checks it.
 * Server frames are read as a byte stream: binary/continuation payload is
 * MQTT, ping/pong payload is skipped, close ends the stream (EOF).
 */
#ifndef ROOST_BENCH_WSC_H
#define ROOST_BENCH_WSC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct wsc wsc_t;

/* Caller owns the result (free with wsc_free); NULL on OOM. */
wsc_t *wsc_new(const char *path);
void wsc_free(wsc_t *w);

/* Drives the Upgrade on a connected socket: 1 upgraded, 0 in progress
 * (wait for readability), -1 failed (errno EPROTO: not a 101). */
int wsc_handshake(wsc_t *w, int fd);

/* write(2)'s contract over frames: the bytes of p are framed once; while
 * the frame cannot be written whole, -1 EAGAIN, and the next call (with the
 * same bytes) returns how many the frame carried once it is out. */
ssize_t wsc_write(wsc_t *w, int fd, const void *p, size_t len);
/* read(2)'s contract: MQTT bytes of the frames read into p; 0 at EOF or a
 * close frame; -1 EAGAIN when only frame headers came. */
ssize_t wsc_read(wsc_t *w, int fd, void *p, size_t len);

#endif

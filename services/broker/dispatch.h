/* dispatch: decodes a connection's input and hands each packet to its
 * handler (handle_*.c); the one place that turns handler error codes into
 * CONNACK return codes and connection closes (STYLE.md 3). */
#ifndef ROOST_BROKER_DISPATCH_H
#define ROOST_BROKER_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* Dispatches the whole packets at the start of buf[0..len). Returns the
 * bytes consumed; stops early when the connection is closed (the rest is
 * irrelevant) or paused for authentication (the rest must be kept). */
size_t dispatch_input(conn_t *c, const uint8_t *buf, size_t len);

/* Refuses or ends the connection for rc: writes the CONNACK the code
 * deserves when the CONNECT is still undecided, logs, and closes. `type` is
 * the packet that failed, for the log. */
void dispatch_fail(conn_t *c, int rc, uint8_t type);

#endif

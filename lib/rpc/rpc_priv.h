/* rpc_priv: what the files of lib/rpc share and nobody else sees.
 *
 * The ZeroMQ framing below (frame.c) is the same for every contract; each
 * public *_send / *_recv adds only its own body codec. None of these block:
 * every socket call uses ZMQ_DONTWAIT. */
#ifndef ROOST_RPC_PRIV_H
#define ROOST_RPC_PRIV_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "rpc/rpc.h"

/* Size limit and the NUL-in-string / nesting scan every decoder runs before
 * protobuf-c unpacks untrusted bytes. 0, ROOST_EPROTO_TOO_LARGE,
 * ROOST_EPROTO_MALFORMED or ROOST_EINVAL. */
int rpc_priv_pre_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len);

/* An rpc_*_encode / rpc_*_decode with the message type erased. */
typedef int (*rpc_priv_encode_fn)(const void *msg, void *buf, size_t cap);
typedef int (*rpc_priv_decode_fn)(const void *buf, size_t len, void *out);

/* Sends one frame (flags | ZMQ_DONTWAIT). 0 or -errno. */
int rpc_priv_send_frame(void *s, const void *p, size_t n, int flags);

/* Encodes `msg` with `enc` and sends it as the last frame, from a heap copy
 * that is wiped when ZeroMQ releases it. 0, an encode error, -ENOMEM or
 * -errno. */
int rpc_priv_send_body(void *s, rpc_priv_encode_fn enc, const void *msg);

/* Receives the body frame that must end the current message and decodes it
 * with `dec`; the body bytes are wiped before they are released. The
 * decoder's result, ROOST_EPROTO_MALFORMED (no body, or frames after it,
 * which are discarded) or -errno. */
int rpc_priv_recv_body(void *s, rpc_priv_decode_fn dec, void *out);

/* Receives the first frame of a message as the routing header and checks
 * that it equals the `n` bytes at `want` (the empty delimiter on a DEALER,
 * the topic on a SUB). 0 (the body follows), -errno from the first frame
 * (-EAGAIN: nothing pending), or ROOST_EPROTO_MALFORMED (the rest of the
 * message is discarded). */
int rpc_priv_recv_header(void *s, const void *want, size_t n);

/* ROUTER side: receives the routing frames up to the empty delimiter into
 * `env`. 0 (the body follows), -errno when nothing could be received, or
 * ROOST_EPROTO_MALFORMED (the rest of the message is discarded, env->n
 * is 0). */
int rpc_priv_recv_envelope(void *router, rpc_envelope_t *env);

/* ROUTER side: sends env's routing frames and the empty delimiter.
 * 0, ROOST_EINVAL (no or too many routing frames) or -errno. */
int rpc_priv_send_envelope(void *router, const rpc_envelope_t *env);

#endif

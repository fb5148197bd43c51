/* rpc_priv: what the files of lib/rpc share and nobody else sees. */
#ifndef ROOST_RPC_PRIV_H
#define ROOST_RPC_PRIV_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Size limit and the NUL-in-string / nesting scan every decoder runs before
 * protobuf-c unpacks untrusted bytes. 0, ROOST_EPROTO_TOO_LARGE,
 * ROOST_EPROTO_MALFORMED or ROOST_EINVAL. */
int rpc_priv_pre_decode(const ProtobufCMessageDescriptor *d, const void *buf, size_t len);

#endif

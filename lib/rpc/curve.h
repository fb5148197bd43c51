/* curve: CurveZMQ setup for Roost's ZeroMQ links (DESIGN.md "Contracts").
 *
 * Keys are Z85 text (40 characters, as zmq_curve_keypair prints them). A key
 * "spec" is either the key itself or a path to a file whose first
 * non-blank line is the key (comments starting with '#' are skipped). A NULL
 * or empty spec means "no key": the socket stays plain, so a deployment turns
 * security on by setting keys, nothing else. Specs usually come from flags or
 * ROOST_*_CURVE_* variables through lib/base/cfg.
 *
 * Secret keys are wiped from the stack after use. No global state; functions
 * are safe from any thread on sockets that thread owns. Nothing here blocks
 * except reading a key file.
 */
#ifndef ROOST_RPC_CURVE_H
#define ROOST_RPC_CURVE_H

#include <stdbool.h>

#define RPC_CURVE_KEY_LEN 40 /* Z85 characters, without the NUL */

/* Resolves a spec into `out` (RPC_CURVE_KEY_LEN + 1 bytes, NUL-terminated).
 * 0, ROOST_ECONFIG (not 40 valid Z85 characters), or -errno reading a file.
 * Does not accept NULL or empty specs (callers check rpc_curve_spec_set). */
int rpc_curve_load_key(const char *spec, char out[RPC_CURVE_KEY_LEN + 1]);

/* True when spec names a key (non-NULL, non-empty). */
bool rpc_curve_spec_set(const char *spec);

/* Makes `sock` a CURVE server with the secret key from secret_spec, before
 * bind. With no secret (NULL/empty) it leaves the socket plain.
 * Returns 1 when CURVE was enabled, 0 when plain, -ENOTSUP when libzmq has
 * no CURVE, ROOST_ECONFIG or -errno otherwise. */
int rpc_curve_server(void *sock, const char *secret_spec);

/* Makes `sock` a CURVE client of the server whose public key is server_spec,
 * before connect. client_secret_spec is this side's secret key; when unset an
 * ephemeral key pair is generated (the server accepts any client key unless
 * a ZAP handler says otherwise). With no server key it leaves the socket
 * plain. Returns 1 (CURVE), 0 (plain), or the errors of rpc_curve_server. */
int rpc_curve_client(void *sock, const char *server_spec, const char *client_secret_spec);

/* Generates a key pair (buffers of RPC_CURVE_KEY_LEN + 1). 0 or -ENOTSUP. */
int rpc_curve_keypair(char public_key[RPC_CURVE_KEY_LEN + 1], char secret_key[RPC_CURVE_KEY_LEN + 1]);

#endif

/* xport_tls: TLS 1.2/1.3 under MQTT connections, non-blocking inside the
 * broker's one epoll loop (no thread per connection).
 *
 * The server holds the current SSL_CTX; each connection gets an SSL of it
 * whose BIO reads and writes the socket directly (and first serves bytes
 * given back with unread: what followed a PROXY header). The handshake is
 * driven by the connection's first reads, so it counts against
 * --connect-timeout like the wait for CONNECT. A renegotiation attempt (TLS
 * 1.2; 1.3 has none) fails that connection. Idle connections hold no record
 * buffers (SSL_MODE_RELEASE_BUFFERS, see lib/tls/tlsctx.h).
 */
#ifndef ROOST_BROKER_XPORT_TLS_H
#define ROOST_BROKER_XPORT_TLS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "tls/tlsticket.h"
#include "xport.h"

typedef struct xtls_server xtls_server_t;

/* Builds the TLS server from cfg's --tls-cert, --tls-key, --tls-ca and
 * --tls-client-cert (files read now). Caller owns the result; NULL with a
 * one-line reason naming the option at fault in err. Logs what it serves.
 * Without --tls-cert (cluster mode, --tls-port given) it serves nothing
 * until admin's certificates arrive (xtls_server_apply_admin): until then
 * accepted TLS sockets are closed at once. */
xtls_server_t *xtls_server_new(const broker_config_t *cfg, char *err, size_t errcap);
/* Frees the server; connections hold their own reference to the context
 * they started with. NULL-safe; sets *s to NULL. */
void xtls_server_destroy(xtls_server_t **s);

/* Called every sweep (250 ms): reloads the context when *hup was set
 * (SIGHUP; cleared here) or, checked once a second, when one of the files
 * changed (mtime, size or inode: cert-manager's symlink swap too). A reload
 * that fails keeps the current context and logs why; a good one serves new
 * handshakes from then on while established connections keep theirs. */
void xtls_server_poll(xtls_server_t *s, volatile sig_atomic_t *hup);

/* admin's certificates (the Certificates page; lib/store/tlsconf.h), as
 * PEM text, with their client-certificate mode. enabled: they replace the
 * files' context for new handshakes (admin wins over --tls-cert while its
 * certificates are enabled; the files are not reloaded meanwhile); not
 * enabled: the files' context comes back (or none without files). A set that
 * does not load keeps the current context and logs why. version: for logs. */
typedef struct xtls_admin {
    bool enabled;
    const char *ca, *cert, *key, *client_cert;
} xtls_admin_t;
void xtls_server_apply_admin(xtls_server_t *s, const xtls_admin_t *a, unsigned long long version);

/* Cluster mode: the shared session ticket keys (lib/tls/tlsticket.h; keys[0]
 * issues), so a session resumes on any broker. Before the first call each
 * context uses OpenSSL's own per-process keys. */
void xtls_server_set_tickets(xtls_server_t *s, const uint8_t keys[][TLSTICKET_KEY_LEN], size_t n);

/* The transport the TLS listener gives each accepted connection. */
xport_kind_t xtls_kind(xtls_server_t *s);

#endif

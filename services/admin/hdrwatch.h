/* hdrwatch: a true header timeout for admin's HTTP server. libmicrohttpd's
 * connection timeout only counts silence, so a client sending one header
 * byte every few seconds keeps a connection (and one of the 512 slots)
 * forever. Here each connection has `timeout_s` from its accept, or from the
 * end of its previous request (keep-alive), to deliver a whole request
 * header; a watcher thread shuts down the sockets that did not (the server
 * then closes them as any failed connection).
 */
#ifndef ROOST_ADMIN_HDRWATCH_H
#define ROOST_ADMIN_HDRWATCH_H

#include <microhttpd.h>

typedef struct hdrwatch hdrwatch_t;

/* Starts the watcher thread. Caller owns the result; NULL on failure. */
hdrwatch_t *hdrwatch_new(int timeout_s);
/* Stops the thread and frees (the server must be stopped first). NULL-safe;
 * nulls *w. */
void hdrwatch_destroy(hdrwatch_t **w);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the watcher). */
void hdrwatch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
/* The request header of c is complete (the access handler's first call). */
void hdrwatch_headers_done(hdrwatch_t *w, struct MHD_Connection *c);
/* c's request ended: the next one's header clock starts now. */
void hdrwatch_request_done(hdrwatch_t *w, struct MHD_Connection *c);

#endif

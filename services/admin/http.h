/* http: admin's HTTP door (libmicrohttpd, its own thread pool).
 *
 *   /api/v1/...   the JSON API of issue 4; every route needs
 *                 "Authorization: Bearer <token>" (401 otherwise), bodies
 *                 over OPS_BODY_MAX get 413, and each call goes through
 *                 ops_call (see ops.h).
 *   /healthz      200 {"status":"ok"} when Redis answers, else 503; no token
 *   /metrics      Prometheus text; no token
 *   /, /<file>    the web console's static files from console_dir (GET/HEAD,
 *                 no token: the console asks the user for one)
 *   /vendor/<file> third-party console files the build fetched (uPlot), from
 *                 vendor_dir
 *
 * Every response carries a Content-Security-Policy (scripts from this origin
 * only, frame-ancestors 'none') and X-Frame-Options DENY. One client address
 * may hold `per_address` of the 512 connections, a connection silent for
 * `timeout_s` is closed, and so is one whose request header is not complete
 * `header_timeout_s` after it began (one byte at a time included).
 *
 * Threads: libmicrohttpd runs `threads` worker threads; each request blocks
 * its worker while it talks to Redis. http_stop joins them.
 */
#ifndef ROOST_ADMIN_HTTP_H
#define ROOST_ADMIN_HTTP_H

#include "metrics.h"
#include "ops.h"

typedef struct http http_t;

typedef struct http_config {
    const char *bind;        /* IPv4 address, e.g. "127.0.0.1" */
    int port;
    const char *console_dir; /* static assets; index.html at "/" */
    const char *vendor_dir;  /* served under /vendor/ */
    int threads;
    int per_address;         /* open connections per client address */
    int timeout_s;           /* a connection silent this long is closed */
    int header_timeout_s;    /* a request header not complete this long after accept (or the
                                previous request) closes the connection (hdrwatch.h) */
} http_config_t;

/* Starts serving. 0 and *out (caller owns; http_stop) or a negative code.
 * ops and metrics are borrowed and must outlive the server. */
int http_start(const http_config_t *cfg, ops_t *ops, metrics_t *metrics, http_t **out);
/* Stops the threads, closes the socket, frees; nulls *hp. NULL-safe. */
void http_stop(http_t **hp);

#endif

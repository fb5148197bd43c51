/* ss_io: a hiredis async context driven by a loop_t (base/loop.h): the
 * adapter hooks hiredis calls to watch its socket for reads and writes,
 * and the fd callback that hands events back to hiredis. Used by every
 * async link in lib/store (sstore.c's Redis link, ssentinel.c's Sentinel
 * links). Private to lib/store.
 *
 * The owner embeds an ss_io_t, calls ss_io_init once and ss_io_connect for
 * each link (or ss_io_attach right after its own redisAsyncConnect, before
 * setting the connect callback, which asks for the first write event). io->ac is the attached context until
 * hiredis frees it (its cleanup hook clears it), so io->ac == NULL after an
 * event means the context is gone.
 */
#ifndef ROOST_STORE_SS_IO_H
#define ROOST_STORE_SS_IO_H

#include <hiredis/async.h>
#include <stdbool.h>

#include "base/loop.h"

typedef struct ss_io {
    loop_t *loop;
    redisAsyncContext *ac; /* attached; NULL once hiredis cleaned it up */
    int fd;                /* ac's socket while watched, else -1 */
    unsigned ev;           /* LOOP_READ|LOOP_WRITE currently watched */
    /* The socket could not be watched (loop_add_fd failed): the owner
     * treats the link as lost, never freeing the context from here. */
    void (*broken)(void *owner);
    void *owner;
    bool connecting;       /* inside ss_io_connect: a failure is its return */
    bool failed;
    char why[200];         /* why ss_io_connect last returned NULL */
} ss_io_t;

void ss_io_init(ss_io_t *io, loop_t *loop, void (*broken)(void *owner), void *owner);
void ss_io_attach(ss_io_t *io, redisAsyncContext *ac);
/* A non-blocking connect to host:port, attached to io, with TCP keepalive,
 * ac->data = data and the two callbacks set; a host name is resolved
 * without blocking (ss_dns.h: while its lookup runs the attempt fails, to
 * be retried). The context, or NULL and io->why when the attempt failed at
 * once (a name being looked up or unknown, a socket that could not be made
 * or watched). */
redisAsyncContext *ss_io_connect(ss_io_t *io, const char *host, int port, void *data,
                                 redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect);

#endif

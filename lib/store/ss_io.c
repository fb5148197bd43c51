/* ss_io: see ss_io.h. */
#include "store/ss_io.h"
#include "store/ss_dns.h"

#include <errno.h>
#include <stdio.h>

static void on_fd(loop_t *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    ss_io_t *io = arg;
    redisAsyncContext *ac = io->ac;
    if (!ac)
        return;
    if (events & LOOP_READ)
        redisAsyncHandleRead(ac);
    /* the read may have dropped the link (and freed ac) */
    if ((events & LOOP_WRITE) && io->ac == ac)
        redisAsyncHandleWrite(ac);
}

static void ev_update(ss_io_t *io, unsigned ev)
{
    if (io->fd < 0 || ev == io->ev)
        return;
    int rc = 0;
    if (ev == 0)
        loop_del_fd(io->loop, io->fd);
    else if (io->ev == 0)
        rc = loop_add_fd(io->loop, io->fd, ev, on_fd, io);
    else
        rc = loop_mod_fd(io->loop, io->fd, ev);
    if (rc < 0) {
        if (io->connecting)
            io->failed = true; /* ss_io_connect gives up on it */
        else
            io->broken(io->owner); /* cannot watch the socket: the link is lost */
        return;
    }
    io->ev = ev;
}

static void ev_add_read(void *p) { ev_update(p, ((ss_io_t *)p)->ev | LOOP_READ); }
static void ev_del_read(void *p) { ev_update(p, ((ss_io_t *)p)->ev & ~(unsigned)LOOP_READ); }
static void ev_add_write(void *p) { ev_update(p, ((ss_io_t *)p)->ev | LOOP_WRITE); }
static void ev_del_write(void *p) { ev_update(p, ((ss_io_t *)p)->ev & ~(unsigned)LOOP_WRITE); }

static void ev_cleanup(void *p)
{
    ss_io_t *io = p;
    ev_update(io, 0);
    io->fd = -1;
    io->ac = NULL;
}

void ss_io_init(ss_io_t *io, loop_t *loop, void (*broken)(void *owner), void *owner)
{
    io->loop = loop;
    io->ac = NULL;
    io->fd = -1;
    io->ev = 0;
    io->broken = broken;
    io->owner = owner;
    io->connecting = io->failed = false;
    io->why[0] = '\0';
}

void ss_io_attach(ss_io_t *io, redisAsyncContext *ac)
{
    io->ac = ac;
    io->fd = ac->c.fd;
    io->ev = 0;
    ac->ev.data = io;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
}

redisAsyncContext *ss_io_connect(ss_io_t *io, const char *host, int port, void *data,
                                 redisConnectCallback *on_connect, redisDisconnectCallback *on_disconnect)
{
    char addr[SS_DNS_ADDR_MAX];
    int rc = ss_dns_addr(host, loop_now(io->loop), addr, io->why, sizeof(io->why));
    if (rc == -EAGAIN)
        snprintf(io->why, sizeof(io->why), "resolving %s", host);
    if (rc < 0)
        return NULL;
    redisAsyncContext *ac = redisAsyncConnect(addr, port);
    if (!ac) {
        snprintf(io->why, sizeof(io->why), "out of memory");
        return NULL;
    }
    if (ac->err) {
        snprintf(io->why, sizeof(io->why), "%s", ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
    ss_io_attach(io, ac);
    redisEnableKeepAlive(&ac->c);
    io->connecting = true;
    io->failed = false;
    /* after attach: setting it asks the adapter for the first write event */
    redisAsyncSetConnectCallback(ac, on_connect);
    io->connecting = false;
    if (io->failed) {
        snprintf(io->why, sizeof(io->why), "the socket could not be watched");
        redisAsyncFree(ac); /* not connected: no callback runs */
        return NULL;
    }
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

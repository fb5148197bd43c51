/* sentinel_watch: see sentinel_watch.h. */
#include "store/sentinel_watch.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct sentinel_watch {
    redisContext *c;
    char host[256]; /* the Sentinel's address, for the log */
    int port;
};

void sentinel_watch_free(sentinel_watch_t **wp)
{
    if (!wp || !*wp)
        return;
    redisFree((*wp)->c);
    free(*wp);
    *wp = NULL;
}

/* The failed step's reason: an error reply's text, else the link's. */
static void say(char *why, size_t cap, const char *step, const redisReply *r, const redisContext *c)
{
    if (why && cap)
        snprintf(why, cap, "%s: %s", step,
                 r && r->type == REDIS_REPLY_ERROR && r->str ? r->str
                 : c && c->errstr[0]                       ? c->errstr
                                                           : "unexpected reply");
}

sentinel_watch_t *sentinel_watch_open(const sentinel_t *s, size_t i, int timeout_ms, char *why, size_t why_cap)
{
    sentinel_watch_t *w = calloc(1, sizeof(*w));
    if (!w) {
        say(why, why_cap, "watch", NULL, NULL);
        return NULL;
    }
    snprintf(w->host, sizeof(w->host), "%s", sentinel_at(s, i, &w->port));
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    w->c = redisConnectWithTimeout(w->host, w->port, tv);
    if (!w->c || w->c->err || redisSetTimeout(w->c, tv) != REDIS_OK) {
        say(why, why_cap, "connect", NULL, w->c);
        sentinel_watch_free(&w);
        return NULL;
    }
    const char *argv[3];
    int argc = sentinel_auth_argv(s, argv);
    redisReply *r = argc ? redisCommandArgv(w->c, argc, argv, NULL) : NULL;
    bool ok = !argc || (r && r->type != REDIS_REPLY_ERROR);
    if (!ok)
        say(why, why_cap, "AUTH", r, w->c);
    freeReplyObject(r);
    if (ok) {
        r = redisCommand(w->c, "SUBSCRIBE +switch-master");
        if (!(ok = sentinel_subscribed(r)))
            say(why, why_cap, "SUBSCRIBE +switch-master", r, w->c);
        freeReplyObject(r);
    }
    if (!ok) {
        sentinel_watch_free(&w);
        return NULL;
    }
    log_debug("sentinel_watching", "sentinel=%s:%d master=%s channel=+switch-master", w->host, w->port,
             sentinel_master(s));
    return w;
}

/* 1 when r is a +switch-master away from host:port. */
static int switch_away(const sentinel_watch_t *w, const redisReply *r, sentinel_t *s, const char *host, int port,
                       uint64_t now_ms)
{
    char to[256];
    int to_port;
    if (sentinel_switch_reply(r, sentinel_master(s), to, sizeof(to), &to_port) < 0)
        return 0;
    log_info("sentinel_switch_master", "sentinel=%s:%d master=%s to=%s:%d", w->host, w->port,
             sentinel_master(s), to, to_port);
    sentinel_note_switch(s, to, to_port, now_ms);
    return to_port != port || strcmp(to, host) != 0;
}

int sentinel_watch_poll(sentinel_watch_t *w, sentinel_t *s, const char *host, int port, uint64_t now_ms)
{
    int away = 0;
    struct pollfd p = {.fd = w->c->fd, .events = POLLIN};
    while (poll(&p, 1, 0) > 0) { /* readable: the read below does not wait */
        if (redisBufferRead(w->c) != REDIS_OK)
            return -1; /* closed or failed */
        void *r = NULL;
        while (redisGetReplyFromReader(w->c, &r) == REDIS_OK && r) {
            away |= switch_away(w, r, s, host, port, now_ms);
            freeReplyObject(r);
            r = NULL;
        }
        if (w->c->err)
            return -1; /* a reply it could not parse */
    }
    return away;
}

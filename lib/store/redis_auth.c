#include "store/redis_auth.h"
#include "store/store.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void wipe(char **p)
{
    if (*p) {
        sodium_memzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

int redis_auth_set(redis_auth_t *a, const char *user, const char *password)
{
    bool has_pass = password && password[0], has_user = has_pass && user && user[0];
    char *p = has_pass ? strdup(password) : NULL;
    char *u = has_user ? strdup(user) : NULL;
    if ((has_pass && !p) || (has_user && !u)) {
        wipe(&p);
        free(u);
        return -ENOMEM;
    }
    redis_auth_clear(a);
    a->user = u;
    a->pass = p;
    return 0;
}

void redis_auth_clear(redis_auth_t *a)
{
    wipe(&a->user);
    wipe(&a->pass);
}

int redis_auth_argv(const redis_auth_t *a, const char *argv[3])
{
    if (!a->pass)
        return 0;
    int argc = 0;
    argv[argc++] = "AUTH";
    if (a->user)
        argv[argc++] = a->user;
    argv[argc++] = a->pass;
    return argc;
}

bool redis_auth_refused(const char *error)
{
    static const char *const words[] = {"NOAUTH", "WRONGPASS", "NOPERM", "ERR invalid password",
                                        "ERR AUTH"};
    if (!error)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strncmp(error, words[i], strlen(words[i])) == 0)
            return true;
    return false;
}

int store_redis_open_to_all(const char *host, int port, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout(host, port, tv);
    if (!ctx || ctx->err) {
        redisFree(ctx);
        return ROOST_EUNAVAILABLE;
    }
    redisSetTimeout(ctx, tv);
    redisReply *r = redisCommand(ctx, "PING");
    int rc = !r ? ROOST_EUNAVAILABLE
             : r->type == REDIS_REPLY_ERROR ? (redis_auth_refused(r->str) ? 0 : ROOST_EUNAVAILABLE)
                                           : 1;
    freeReplyObject(r);
    redisFree(ctx);
    return rc;
}

int store_check_require_auth(const char *host, int port)
{
    int rc = store_redis_open_to_all(host, port, 2000);
    if (rc == 1) {
        log_error("redis_without_auth", "redis=%s:%d detail=\"--redis-require-auth: this Redis answers without "
                  "AUTH, so anyone who reaches it can rewrite clients, passwords and ACLs\"", host, port);
        return -1;
    }
    if (rc < 0)
        log_warn("redis_auth_unchecked", "redis=%s:%d detail=\"--redis-require-auth: Redis not reachable at "
                 "start; not checked\"", host, port);
    return 0;
}

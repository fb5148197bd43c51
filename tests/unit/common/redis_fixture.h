/* redis_fixture.h: a private redis-server for unit tests of lib/store.
 *
 * redis_fixture_init makes a temp dir and picks a free loopback port;
 * redis_fixture_start runs `redis-server --port P --bind 127.0.0.1 --save ''
 * --appendonly no --dir D` (output to /dev/null) and waits until it answers
 * PING; redis_fixture_stop stops it by PID (it can be started again on the
 * same port, with its data gone); redis_fixture_fini stops it and removes
 * the dir (with the dump a replica's full sync left in it);
 * redis_fixture_sentinel runs a redis-sentinel instead. Nothing here
 * asserts, so cmocka group fixtures can use it.
 * Header-only (static inline). */
#ifndef ROOST_TEST_REDIS_FIXTURE_H
#define ROOST_TEST_REDIS_FIXTURE_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct redis_fixture {
    int port;
    pid_t pid; /* 0: not running */
    char dir[64];
} redis_fixture_t;

/* A loopback TCP port nobody listens on right now, or -1. */
static inline int redis_fixture_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline void redis_fixture_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* True when a server on port answers PING with +PONG within a second. */
static inline int redis_fixture_pong(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[8] = "";
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write(fd, "PING\r\n", 6) == 6 &&
             read(fd, buf, 7) >= 5 && !strncmp(buf, "+PONG", 5);
    close(fd);
    return ok;
}

/* Makes the temp dir /tmp/roost-<tag>-XXXXXX and picks a port. 0 or -1. */
static inline int redis_fixture_init(redis_fixture_t *f, const char *tag)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/roost-%s-XXXXXX", tag);
    if (!mkdtemp(f->dir) || (f->port = redis_fixture_free_port()) < 0)
        return -1;
    return 0;
}

/* Runs argv (argv[0] looked up in PATH, output to /dev/null) as f's server
 * and waits up to ~5 s for it to answer PING on f->port. 0 or -1. */
static inline int redis_fixture_exec(redis_fixture_t *f, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    f->pid = pid;
    for (int i = 0; i < 100; i++) {
        if (redis_fixture_pong(f->port))
            return 0;
        redis_fixture_sleep_ms(50);
    }
    return -1;
}

/* Starts the server and waits up to ~5 s for it. 0 or -1. */
static inline int redis_fixture_start(redis_fixture_t *f)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", f->port);
    char *const argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", f->dir, NULL};
    return redis_fixture_exec(f, argv);
}

static inline void redis_fixture_stop(redis_fixture_t *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

static inline void redis_fixture_fini(redis_fixture_t *f)
{
    redis_fixture_stop(f);
    if (!f->dir[0])
        return;
    /* a replica keeps what its full sync sent: the dir must be empty to go */
    char rdb[sizeof(f->dir) + 16];
    snprintf(rdb, sizeof(rdb), "%s/dump.rdb", f->dir);
    unlink(rdb);
    rmdir(f->dir);
}

/* Runs a redis-sentinel as f (after redis_fixture_init) monitoring the
 * Redis on master_port as "m" (quorum 1), its config in f's dir, and waits
 * for it as redis_fixture_exec. 0 or -1. */
static inline int redis_fixture_sentinel(redis_fixture_t *f, int master_port)
{
    char conf[sizeof(f->dir) + 16];
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", f->dir);
    FILE *c = fopen(conf, "w");
    if (!c)
        return -1;
    fprintf(c, "port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m 127.0.0.1 %d 1\n", f->port, f->dir,
            master_port);
    fclose(c);
    char *const argv[] = {"redis-sentinel", conf, NULL};
    return redis_fixture_exec(f, argv);
}

/* Stops a Sentinel of redis_fixture_sentinel (stopped with SIGSTOP or
 * not), removes its config and its dir; nothing for one never inited. */
static inline void redis_fixture_sentinel_fini(redis_fixture_t *f)
{
    if (!f->dir[0])
        return;
    char conf[sizeof(f->dir) + 16];
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", f->dir);
    if (f->pid > 0)
        kill(f->pid, SIGCONT);
    redis_fixture_stop(f);
    unlink(conf);
    redis_fixture_fini(f);
}

#endif

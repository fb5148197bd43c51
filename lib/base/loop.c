#include "base/loop.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

typedef struct fd_slot {
    loop_fd_fn fn;
    void *arg;
    uint32_t gen; /* bumped on del so stale events in a batch are dropped */
    bool used;
} fd_slot_t;

typedef struct timer {
    uint64_t id;
    uint64_t when;
    loop_timer_fn fn;
    void *arg;
} timer_t_;

struct loop {
    int epfd;
    volatile sig_atomic_t stop;
    uint64_t now;
    fd_slot_t *fds;
    int nfds;
    timer_t_ *timers;
    int ntimers, captimers;
    uint64_t next_timer_id;
    loop_hook_fn before_sleep;
    void *before_sleep_arg;
    int last_ready; /* events the last wait returned */
    bool no_sleep;  /* the next wait returns at once */
};

int loop_last_ready(const loop_t *l) { return l->last_ready; }

void loop_no_sleep(loop_t *l) { l->no_sleep = true; }

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

loop_t *loop_new(void)
{
    loop_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->now = loop_clock_ms();
    l->next_timer_id = 1;
    return l;
}

void loop_destroy(loop_t **lp)
{
    loop_t *l = *lp;
    if (!l)
        return;
    close(l->epfd);
    free(l->fds);
    free(l->timers);
    free(l);
    *lp = NULL;
}

static uint32_t to_epoll(unsigned ev)
{
    uint32_t e = 0;
    if (ev & LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (ev & LOOP_WRITE)
        e |= EPOLLOUT;
    if (ev & LOOP_EDGE)
        e |= EPOLLET;
    return e;
}

static int grow_fds(loop_t *l, int fd)
{
    if (fd < l->nfds)
        return 0;
    int n = l->nfds ? l->nfds : 64;
    while (n <= fd)
        n *= 2;
    fd_slot_t *p = realloc(l->fds, (size_t)n * sizeof(*p));
    if (!p)
        return -ENOMEM;
    memset(p + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*p));
    l->fds = p;
    l->nfds = n;
    return 0;
}

int loop_add_fd(loop_t *l, int fd, unsigned events, loop_fd_fn fn, void *arg)
{
    int rc = grow_fds(l, fd);
    if (rc)
        return rc;
    fd_slot_t *s = &l->fds[fd];
    struct epoll_event ev = {.events = to_epoll(events)};
    ev.data.u64 = ((uint64_t)(s->gen + 1) << 32) | (uint32_t)fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    s->gen++;
    s->fn = fn;
    s->arg = arg;
    s->used = true;
    return 0;
}

int loop_mod_fd(loop_t *l, int fd, unsigned events)
{
    if (fd >= l->nfds || !l->fds[fd].used)
        return -EBADF;
    struct epoll_event ev = {.events = to_epoll(events)};
    ev.data.u64 = ((uint64_t)l->fds[fd].gen << 32) | (uint32_t)fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -errno;
    return 0;
}

void loop_del_fd(loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->fds[fd].used = false;
    l->fds[fd].fn = NULL;
    l->fds[fd].gen++;
}

uint64_t loop_add_timer(loop_t *l, uint64_t delay_ms, loop_timer_fn fn, void *arg)
{
    if (l->ntimers == l->captimers) {
        int n = l->captimers ? l->captimers * 2 : 8;
        timer_t_ *p = realloc(l->timers, (size_t)n * sizeof(*p));
        if (!p)
            return 0;
        l->timers = p;
        l->captimers = n;
    }
    timer_t_ *t = &l->timers[l->ntimers++];
    t->id = l->next_timer_id++;
    t->when = loop_clock_ms() + delay_ms;
    t->fn = fn;
    t->arg = arg;
    return t->id;
}

void loop_del_timer(loop_t *l, uint64_t id)
{
    for (int i = 0; i < l->ntimers; i++) {
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->ntimers];
            return;
        }
    }
}

void loop_set_before_sleep(loop_t *l, loop_hook_fn fn, void *arg)
{
    l->before_sleep = fn;
    l->before_sleep_arg = arg;
}

void loop_stop(loop_t *l) { l->stop = 1; }

uint64_t loop_now(const loop_t *l) { return l->now; }

/* Timers are few (periodic housekeeping, per-service deadlines), so a linear
 * scan beats a heap here. */
static int next_timeout(const loop_t *l)
{
    if (l->ntimers == 0)
        return 1000;
    uint64_t soonest = UINT64_MAX;
    for (int i = 0; i < l->ntimers; i++)
        if (l->timers[i].when < soonest)
            soonest = l->timers[i].when;
    uint64_t now = loop_clock_ms();
    if (soonest <= now)
        return 0;
    uint64_t d = soonest - now;
    return d > 1000 ? 1000 : (int)d;
}

static void run_timers(loop_t *l)
{
    for (int i = 0; i < l->ntimers;) {
        timer_t_ *t = &l->timers[i];
        if (t->when > l->now) {
            i++;
            continue;
        }
        uint64_t id = t->id;
        uint64_t again = t->fn(l, t->arg);
        /* the callback may have added or removed timers: find ours again */
        int j;
        for (j = 0; j < l->ntimers && l->timers[j].id != id; j++)
            ;
        if (j == l->ntimers)
            continue; /* removed itself; index i now holds another timer */
        if (again) {
            l->timers[j].when = l->now + again;
            i++;
        } else {
            l->timers[j] = l->timers[--l->ntimers];
        }
    }
}

int loop_run(loop_t *l)
{
    struct epoll_event evs[MAX_EVENTS];
    while (!l->stop) {
        if (l->before_sleep)
            l->before_sleep(l, l->before_sleep_arg);
        if (l->stop)
            break;
        int n = epoll_wait(l->epfd, evs, MAX_EVENTS, l->no_sleep ? 0 : next_timeout(l));
        l->no_sleep = false;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        l->last_ready = n;
        l->now = loop_clock_ms();
        for (int i = 0; i < n; i++) {
            int fd = (int)(uint32_t)evs[i].data.u64;
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
            if (fd >= l->nfds || !l->fds[fd].used || l->fds[fd].gen != gen)
                continue;
            unsigned ev = 0;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                ev |= LOOP_READ;
            if (evs[i].events & EPOLLOUT)
                ev |= LOOP_WRITE;
            l->fds[fd].fn(l, fd, ev, l->fds[fd].arg);
        }
        run_timers(l);
    }
    l->stop = 0; /* consumed: a later loop_run runs again */
    return 0;
}

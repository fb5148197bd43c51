/* Unit tests for lib/store/sstore.c (the broker's async cluster state)
 * against a private redis-server.
 *
 * Each test starts `redis-server --port P --save '' --appendonly no` on a
 * free loopback port in a temp dir, runs a loop_t and drives sstore calls
 * with callbacks (run_until runs the loop until a flag is set, or a
 * timeout). A plain hiredis context checks what landed in Redis. Teardown
 * destroys the handle and the loop and stops Redis by PID.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/loop.h"
#include "store/registry.h"
#include "store/sstore.h"

#define PFX "t:"
#define GPFX PFX "{g}:" /* the global family of store/keys.h */

typedef struct fx {
    int port;
    pid_t pid;
    char dir[64];
    loop_t *loop;
    sstore_t *s;
    bool up;
    int ups, downs;
    redisContext *raw;
} fx_t;

/* ---- redis-server ---------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void redis_start(fx_t *f)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", f->port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", f->dir, (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    for (int i = 0; i < 500; i++) {
        redisContext *c = redisConnect("127.0.0.1", f->port);
        bool ok = c && !c->err;
        redisFree(c);
        if (ok)
            return;
        usleep(10000);
    }
    fail_msg("redis-server did not start on port %d", f->port);
}

static void redis_stop(fx_t *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
}

/* A plain command through the checking context; caller frees. */
static redisReply *raw(fx_t *f, const char *fmt, ...)
{
    if (!f->raw || f->raw->err) {
        redisFree(f->raw);
        f->raw = redisConnect("127.0.0.1", f->port);
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(f->raw, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static long long raw_int(fx_t *f, const char *fmt, const char *a, const char *b)
{
    redisReply *r = raw(f, fmt, a, b);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* ---- loop helpers ------------------------------------------------------------ */

typedef struct waiter {
    const bool *flag;
    uint64_t deadline;
} waiter_t;

static uint64_t wait_tick(loop_t *l, void *arg)
{
    waiter_t *w = arg;
    if (*w->flag || loop_clock_ms() >= w->deadline) {
        loop_stop(l);
        return 0;
    }
    return 2;
}

static bool run_until(fx_t *f, const bool *flag, uint64_t ms)
{
    if (*flag)
        return true;
    waiter_t w = {flag, loop_clock_ms() + ms};
    assert_true(loop_add_timer(f->loop, 1, wait_tick, &w) > 0);
    assert_int_equal(loop_run(f->loop), 0);
    return *flag;
}

static void run_for(fx_t *f, uint64_t ms)
{
    bool never = false;
    run_until(f, &never, ms);
}

static void on_state(bool up, void *arg)
{
    fx_t *f = arg;
    f->up = up;
    if (up)
        f->ups++;
    else
        f->downs++;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/sstore-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->port = free_port();
    redis_start(f);
    f->loop = loop_new();
    assert_non_null(f->loop);
    f->s = sstore_new(f->loop, "127.0.0.1", f->port, PFX);
    assert_non_null(f->s);
    assert_int_equal(sstore_start(f->s, on_state, f), 0);
    assert_true(run_until(f, &f->up, 5000));
    assert_true(sstore_connected(f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sstore_destroy(&f->s);
    assert_null(f->s);
    sstore_destroy(&f->s); /* NULL-safe */
    loop_destroy(&f->loop);
    redisFree(f->raw);
    redis_stop(f);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* ---- callback recorders ---------------------------------------------------------- */

typedef struct res {
    bool done;
    int rc;
    int calls;
    size_t n;
    uint64_t u;
    bool flag;
    char text[256];
    int order[16];
    int n_order;
    int *seq; /* shared order log */
} res_t;

static void done_cb(int rc, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->calls++;
}

/* Issues call (with done_cb, &r), runs the loop until it finishes, checks rc. */
#define DO(f, call_with_r)                                                                         \
    do {                                                                                           \
        res_t r = {0};                                                                             \
        assert_int_equal((call_with_r), 0);                                                        \
        assert_true(run_until((f), &r.done, 3000));                                                \
        assert_int_equal(r.rc, 0);                                                                 \
        assert_int_equal(r.calls, 1);                                                              \
    } while (0)

typedef struct peers_res {
    bool done;
    int rc;
    size_t n;
    char ids[4][32];
    char eps[4][64];
    uint64_t started[4];
} peers_res_t;

static void peers_cb(int rc, const sstore_peer_t *p, size_t n, void *arg)
{
    peers_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(r->ids[i], sizeof(r->ids[i]), "%s", p[i].id);
        snprintf(r->eps[i], sizeof(r->eps[i]), "%s", p[i].endpoint);
        r->started[i] = p[i].started_ms;
    }
}

static peers_res_t list_peers(fx_t *f)
{
    peers_res_t r = {0};
    assert_int_equal(sstore_broker_list(f->s, peers_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

/* ---- membership -------------------------------------------------------------------- */

static void test_membership(void **state)
{
    fx_t *f = *state;
    DO(f, sstore_broker_heartbeat(f->s, "b1", "tcp://10.0.0.1:5555", 1700000000123ull, 10000,
                                  done_cb, &r));
    DO(f, sstore_broker_heartbeat(f->s, "b2", "tcp://10.0.0.2:5555", 42, 150, done_cb, &r));
    peers_res_t p = list_peers(f);
    assert_int_equal(p.n, 2);
    int i1 = strcmp(p.ids[0], "b1") == 0 ? 0 : 1;
    assert_string_equal(p.ids[i1], "b1");
    assert_string_equal(p.eps[i1], "tcp://10.0.0.1:5555");
    assert_int_equal(p.started[i1], 1700000000123ull);
    assert_string_equal(p.ids[1 - i1], "b2");
    assert_int_equal(p.started[1 - i1], 42);

    run_for(f, 300); /* b2's alive key expires */
    p = list_peers(f);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.ids[0], "b1");
    assert_int_equal(raw_int(f, "HEXISTS " GPFX "brokers %s", "b2", NULL), 0);

    DO(f, sstore_broker_leave(f->s, "b1", done_cb, &r));
    assert_int_equal(raw_int(f, "EXISTS " GPFX "broker:%s:alive", "b1", NULL), 0);
    p = list_peers(f);
    assert_int_equal(p.n, 0);
}

/* ---- leases ---------------------------------------------------------------------------- */

typedef struct lease_res {
    bool done;
    int rc;
    char prev[64];
    bool alive;
} lease_res_t;

static void lease_cb(int rc, const char *prev, bool alive, void *arg)
{
    lease_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    snprintf(r->prev, sizeof(r->prev), "%s", prev);
    r->alive = alive;
}

static lease_res_t take(fx_t *f, const char *cid, size_t len, const char *b)
{
    lease_res_t r = {0};
    assert_int_equal(sstore_lease_take(f->s, cid, len, b, NULL, false, lease_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void test_lease(void **state)
{
    fx_t *f = *state;
    static const char cid[] = "dev\0ice";
    size_t n = sizeof(cid) - 1;
    lease_res_t l = take(f, cid, n, "b1");
    assert_string_equal(l.prev, "");
    assert_false(l.alive);

    l = take(f, cid, n, "b2"); /* b1 never heartbeated: dead */
    assert_string_equal(l.prev, "b1");
    assert_false(l.alive);

    DO(f, sstore_broker_heartbeat(f->s, "b2", "tcp://x:1", 1, 10000, done_cb, &r));
    l = take(f, cid, n, "b3");
    assert_string_equal(l.prev, "b2");
    assert_true(l.alive);

    DO(f, sstore_lease_release(f->s, cid, n, "b2", done_cb, &r)); /* not the holder */
    redisReply *g = raw(f, "GET " PFX "lease:{c:%b}", cid, n);
    assert_int_equal(g->type, REDIS_REPLY_STRING);
    assert_string_equal(g->str, "b3");
    freeReplyObject(g);
    DO(f, sstore_lease_release(f->s, cid, n, "b3", done_cb, &r));
    g = raw(f, "EXISTS " PFX "lease:{c:%b}", cid, n);
    assert_int_equal(g->integer, 0);
    freeReplyObject(g);
}

/* ---- sessions and subscriptions -------------------------------------------------------- */

typedef struct sess_res {
    bool done;
    int rc;
    bool exists;
    size_t n_subs, n_msgs, n_rx2, n_rel;
    char filters[4][32];
    uint8_t sub_qos[4];
    char ids[4][32];
    uint8_t qos[4];
    bool retain[4];
    char topic[4][32];
    size_t topic_len[4];
    uint8_t payload[4][32];
    size_t payload_len[4];
    uint16_t rx2[4], rel[4];
} sess_res_t;

static void sess_cb(int rc, const sstore_session_t *s, void *arg)
{
    sess_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    assert_non_null(s);
    r->exists = s->exists;
    r->n_subs = s->n_subs;
    r->n_msgs = s->n_msgs;
    r->n_rx2 = s->n_rx2;
    r->n_rel = s->n_rel;
    for (size_t i = 0; i < s->n_subs && i < 4; i++) {
        assert_true(s->subs[i].filter_len < 32);
        memcpy(r->filters[i], s->subs[i].filter, s->subs[i].filter_len);
        r->sub_qos[i] = s->subs[i].qos;
    }
    for (size_t i = 0; i < s->n_msgs && i < 4; i++) {
        const sstore_msg_t *m = &s->msgs[i];
        snprintf(r->ids[i], sizeof(r->ids[i]), "%s", m->entry_id);
        r->qos[i] = m->qos;
        r->retain[i] = m->retain;
        assert_true(m->topic_len < 32 && m->payload_len < 32);
        memcpy(r->topic[i], m->topic, m->topic_len);
        r->topic_len[i] = m->topic_len;
        memcpy(r->payload[i], m->payload, m->payload_len);
        r->payload_len[i] = m->payload_len;
    }
    for (size_t i = 0; i < s->n_rx2 && i < 4; i++)
        r->rx2[i] = s->rx2[i];
    for (size_t i = 0; i < s->n_rel && i < 4; i++)
        r->rel[i] = s->rel[i];
}

static sess_res_t load(fx_t *f, const char *cid, size_t len)
{
    sess_res_t r = {0};
    assert_int_equal(sstore_session_load(f->s, cid, len, sess_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void test_session_touch_load_clear(void **state)
{
    fx_t *f = *state;
    sess_res_t s = load(f, "c1", 2);
    assert_false(s.exists);
    assert_int_equal(s.n_subs + s.n_msgs + s.n_rx2 + s.n_rel, 0);

    DO(f, sstore_session_touch(f->s, "c1", 2, "b1", NULL, done_cb, &r));
    redisReply *g = raw(f, "HGET " PFX "sess:{c:c1} owner");
    assert_string_equal(g->str, "b1");
    freeReplyObject(g);
    DO(f, sstore_sub_put(f->s, "c1", 2, "a/+", 3, 1, done_cb, &r));
    DO(f, sstore_rx2_add(f->s, "c1", 2, 10, done_cb, &r));
    s = load(f, "c1", 2);
    assert_true(s.exists);
    assert_int_equal(s.n_subs, 1);
    assert_int_equal(s.n_rx2, 1);

    DO(f, sstore_session_clear(f->s, "c1", 2, done_cb, &r));
    s = load(f, "c1", 2);
    assert_false(s.exists);
    assert_int_equal(s.n_subs + s.n_msgs + s.n_rx2 + s.n_rel, 0);
    assert_int_equal(raw_int(f, "HLEN " GPFX "psubs", NULL, NULL), 0);
}

typedef struct psubs_res {
    bool done;
    int rc;
    size_t n;
    uint64_t ver;
    char cid[4][16];
    size_t cid_len[4];
    char filter[4][16];
    uint8_t qos[4];
} psubs_res_t;

static void psubs_cb(int rc, const sstore_sub_t *subs, size_t n, uint64_t ver, void *arg)
{
    psubs_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = n;
    r->ver = ver;
    for (size_t i = 0; i < n && i < 4; i++) {
        assert_true(subs[i].cid_len < 16 && subs[i].filter_len < 16);
        memcpy(r->cid[i], subs[i].cid, subs[i].cid_len);
        r->cid_len[i] = subs[i].cid_len;
        memcpy(r->filter[i], subs[i].filter, subs[i].filter_len);
        r->qos[i] = subs[i].qos;
    }
}

static psubs_res_t psubs(fx_t *f)
{
    psubs_res_t r = {0};
    assert_int_equal(sstore_psubs_load(f->s, psubs_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void version_cb(int rc, uint64_t v, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->u = v;
}

static uint64_t version(fx_t *f)
{
    res_t r = {0};
    assert_int_equal(sstore_psubs_version(f->s, version_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r.u;
}

static void test_subs_psubs_version(void **state)
{
    fx_t *f = *state;
    static const char cid[] = "x\0y"; /* a NUL inside the client id */
    size_t n = 3;
    assert_int_equal(version(f), 0);
    DO(f, sstore_sub_put(f->s, cid, n, "a/+", 3, 1, done_cb, &r));
    DO(f, sstore_sub_put(f->s, cid, n, "b/#", 3, 2, done_cb, &r));
    assert_int_equal(version(f), 2);
    DO(f, sstore_sub_put(f->s, cid, n, "b/#", 3, 2, done_cb, &r)); /* unchanged */
    assert_int_equal(version(f), 2);
    DO(f, sstore_sub_put(f->s, cid, n, "b/#", 3, 0, done_cb, &r)); /* qos change */
    assert_int_equal(version(f), 3);

    psubs_res_t p = psubs(f);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.ver, 3);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(p.cid_len[i], 3);
        assert_memory_equal(p.cid[i], cid, 3);
        if (strcmp(p.filter[i], "a/+") == 0)
            assert_int_equal(p.qos[i], 1);
        else {
            assert_string_equal(p.filter[i], "b/#");
            assert_int_equal(p.qos[i], 0);
        }
    }
    sess_res_t s = load(f, cid, n);
    assert_int_equal(s.n_subs, 2);
    assert_false(s.exists); /* subscriptions alone do not make a session */

    DO(f, sstore_sub_del(f->s, cid, n, "a/+", 3, done_cb, &r));
    assert_int_equal(version(f), 4);
    DO(f, sstore_sub_del(f->s, cid, n, "a/+", 3, done_cb, &r)); /* absent: no bump */
    assert_int_equal(version(f), 4);
    p = psubs(f);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.filter[0], "b/#");
    s = load(f, cid, n);
    assert_int_equal(s.n_subs, 1);
    assert_string_equal(s.filters[0], "b/#");
    assert_int_equal(s.sub_qos[0], 0);

    res_t r = {0};
    assert_int_equal(sstore_sub_put(f->s, cid, n, "q", 1, 3, done_cb, &r), ROOST_EINVAL);
    assert_int_equal(sstore_sub_put(f->s, cid, n, "a\0b", 3, 1, done_cb, &r), ROOST_EINVAL);
    run_for(f, 20);
    assert_int_equal(r.calls, 0);
}

/* ---- queues ------------------------------------------------------------------------------- */

static void push_cb(int rc, size_t dropped, void *arg)
{
    res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = dropped;
    r->calls++;
}

static size_t push(fx_t *f, const sstore_msg_t *m, const char *const *cids, const size_t *lens,
                   const uint8_t *qos, size_t n, size_t max)
{
    res_t r = {0};
    assert_int_equal(sstore_queue_push(f->s, m, cids, lens, qos, n, max, push_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.calls, 1);
    return r.n;
}

static void test_queue(void **state)
{
    fx_t *f = *state;
    static const char topic[] = "t/\0/x";
    static const uint8_t payload[] = {0, 1, 0, 0xff, 0};
    const char *cids[] = {"A", "B\0b", "C"};
    const size_t lens[] = {1, 3, 1};
    const uint8_t qos[] = {1, 2, 0};
    sstore_msg_t m = {.entry_id = "b1:1", .topic = topic, .topic_len = sizeof(topic) - 1,
                      .payload = payload, .payload_len = sizeof(payload), .qos = 2,
                      .retain = true};
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 2), 0);
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 2), 0); /* same id: idempotent */
    m.entry_id = "b1:2";
    m.retain = false;
    m.payload_len = 0;
    assert_int_equal(push(f, &m, cids, lens, qos, 2, 2), 0); /* A and B only */
    m.entry_id = "b1:3";
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 2), 2); /* A, B full */
    m.entry_id = "b1:4";
    assert_int_equal(push(f, &m, cids, lens, qos, 3, 0), 0); /* no limit */

    sess_res_t a = load(f, "A", 1);
    assert_int_equal(a.n_msgs, 3);
    assert_string_equal(a.ids[0], "b1:1");
    assert_string_equal(a.ids[1], "b1:2");
    assert_string_equal(a.ids[2], "b1:4");
    assert_int_equal(a.qos[0], 1);
    assert_true(a.retain[0]);
    assert_false(a.retain[1]);
    assert_int_equal(a.topic_len[0], sizeof(topic) - 1);
    assert_memory_equal(a.topic[0], topic, sizeof(topic) - 1);
    assert_int_equal(a.payload_len[0], sizeof(payload));
    assert_memory_equal(a.payload[0], payload, sizeof(payload));
    assert_int_equal(a.payload_len[1], 0);

    sess_res_t b = load(f, "B\0b", 3);
    assert_int_equal(b.n_msgs, 3);
    assert_int_equal(b.qos[0], 2);
    sess_res_t c = load(f, "C", 1);
    assert_int_equal(c.n_msgs, 3); /* b1:1, b1:3, b1:4 */
    assert_string_equal(c.ids[1], "b1:3");
    assert_int_equal(c.qos[0], 0);

    DO(f, sstore_queue_ack(f->s, "A", 1, "b1:2", done_cb, &r));
    a = load(f, "A", 1);
    assert_int_equal(a.n_msgs, 2);
    assert_string_equal(a.ids[0], "b1:1");
    assert_string_equal(a.ids[1], "b1:4");
    assert_int_equal(raw_int(f, "HLEN " PFX "qm:{c:A}", NULL, NULL), 2);

    res_t r = {0};
    sstore_msg_t bad = m;
    bad.topic_len = 70000;
    assert_int_equal(sstore_queue_push(f->s, &bad, cids, lens, qos, 3, 0, push_cb, &r),
                     ROOST_EINVAL);
    const uint8_t bad_qos[] = {1, 3, 0};
    assert_int_equal(sstore_queue_push(f->s, &m, cids, lens, bad_qos, 3, 0, push_cb, &r),
                     ROOST_EINVAL);
    run_for(f, 20);
    assert_int_equal(r.calls, 0);
}

static void test_qos2_sets(void **state)
{
    fx_t *f = *state;
    const char *cids[] = {"c"};
    const size_t lens[] = {1};
    const uint8_t qos[] = {2};
    sstore_msg_t m = {.entry_id = "b1:7", .topic = "t", .topic_len = 1, .qos = 2};
    assert_int_equal(push(f, &m, cids, lens, qos, 1, 10), 0);
    DO(f, sstore_rx2_add(f->s, "c", 1, 5, done_cb, &r));
    DO(f, sstore_rx2_add(f->s, "c", 1, 65535, done_cb, &r));
    DO(f, sstore_rx2_del(f->s, "c", 1, 5, done_cb, &r));
    DO(f, sstore_rel_add(f->s, "c", 1, "b1:7", 9, done_cb, &r));
    sess_res_t s = load(f, "c", 1);
    assert_int_equal(s.n_msgs, 0); /* PUBREC took the entry out of the queue */
    assert_int_equal(s.n_rx2, 1);
    assert_int_equal(s.rx2[0], 65535);
    assert_int_equal(s.n_rel, 1);
    assert_int_equal(s.rel[0], 9);
    DO(f, sstore_rel_del(f->s, "c", 1, 9, done_cb, &r));
    s = load(f, "c", 1);
    assert_int_equal(s.n_rel, 0);
    res_t r = {0};
    assert_int_equal(sstore_rx2_add(f->s, "c", 1, 0, done_cb, &r), ROOST_EINVAL);
}

/* ---- retained ------------------------------------------------------------------------------ */

typedef struct msgs_res {
    bool done;
    int rc;
    size_t n;
    char topic[4][16];
    size_t payload_len[4];
    uint8_t payload[4][16];
    uint8_t qos[4];
    bool retain[4];
} msgs_res_t;

static void msgs_cb(int rc, const sstore_msg_t *m, size_t n, void *arg)
{
    msgs_res_t *r = arg;
    r->done = true;
    r->rc = rc;
    r->n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        assert_true(m[i].topic_len < 16 && m[i].payload_len < 16);
        memcpy(r->topic[i], m[i].topic, m[i].topic_len);
        memcpy(r->payload[i], m[i].payload, m[i].payload_len);
        r->payload_len[i] = m[i].payload_len;
        r->qos[i] = m[i].qos;
        r->retain[i] = m[i].retain;
    }
}

static msgs_res_t retained(fx_t *f)
{
    msgs_res_t r = {0};
    assert_int_equal(sstore_retain_load(f->s, msgs_cb, &r), 0);
    assert_true(run_until(f, &r.done, 3000));
    assert_int_equal(r.rc, 0);
    return r;
}

static void test_retain(void **state)
{
    fx_t *f = *state;
    static const uint8_t pl[] = {'h', 0, 'i'};
    sstore_msg_t a = {.topic = "r/a", .topic_len = 3, .payload = pl, .payload_len = 3, .qos = 1,
                      .retain = true};
    sstore_msg_t b = {.topic = "r/b", .topic_len = 3, .payload = pl, .payload_len = 1, .qos = 2,
                      .retain = true};
    DO(f, sstore_retain_put(f->s, &a, done_cb, &r));
    DO(f, sstore_retain_put(f->s, &b, done_cb, &r));
    a.qos = 0; /* replaces */
    DO(f, sstore_retain_put(f->s, &a, done_cb, &r));
    msgs_res_t m = retained(f);
    assert_int_equal(m.n, 2);
    int ia = strcmp(m.topic[0], "r/a") == 0 ? 0 : 1;
    assert_string_equal(m.topic[ia], "r/a");
    assert_int_equal(m.qos[ia], 0);
    assert_true(m.retain[ia]);
    assert_int_equal(m.payload_len[ia], 3);
    assert_memory_equal(m.payload[ia], pl, 3);
    assert_int_equal(m.qos[1 - ia], 2);
    assert_int_equal(m.payload_len[1 - ia], 1);
    DO(f, sstore_retain_del(f->s, "r/a", 3, done_cb, &r));
    m = retained(f);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.topic[0], "r/b");
}

/* ---- registry ------------------------------------------------------------------------------- */

static void test_conn_registry(void **state)
{
    fx_t *f = *state;
    DO(f, sstore_conn_refresh(f->s, "b1", 5000, done_cb, &r));
    const char *groups[] = {"g1", "g2"};
    sstore_conn_t c = {.mqtt_client_id = "dev-1", .client_id = "cl1", .username = "u",
                       .peer = "10.0.0.9:4242", .protocol = 4, .keepalive = 60,
                       .connected_at = 1700000000000ull, .groups = groups, .n_groups = 2};
    DO(f, sstore_conn_put(f->s, "b1", &c, done_cb, &r));

    redisReply *g = raw(f, "HGET " GPFX "conns:b1 dev-1");
    assert_int_equal(g->type, REDIS_REPLY_STRING);
    json_t *j = json_loads(g->str, 0, NULL);
    freeReplyObject(g);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "peer")), "10.0.0.9:4242");
    assert_int_equal(json_integer_value(json_object_get(j, "protocol")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "connected_at")), 1700000000000ll);
    assert_int_equal(json_array_size(json_object_get(j, "groups")), 2);
    json_decref(j);
    long long pttl = raw_int(f, "PTTL " GPFX "conns:b1", NULL, NULL);
    assert_true(pttl > 0 && pttl <= 5000);

    /* registry.c, the reader admin uses, finds it */
    store_t *st = store_new("127.0.0.1", f->port, PFX, NULL);
    assert_non_null(st);
    char *broker = NULL;
    assert_int_equal(store_conn_find(st, "dev-1", &broker), 0);
    assert_string_equal(broker, "b1");
    free(broker);
    store_conn_page_t *page = NULL;
    assert_int_equal(store_conn_list(st, NULL, 10, NULL, &page), 0);
    assert_int_equal(page->n, 1);
    assert_string_equal(page->items[0].mqtt_client_id, "dev-1");
    assert_string_equal(page->items[0].broker, "b1");
    assert_string_equal(page->items[0].username, "u");
    assert_int_equal(page->items[0].keepalive, 60);
    assert_int_equal(page->items[0].n_groups, 2);
    assert_string_equal(page->items[0].groups[1], "g2");
    store_conn_page_free(&page);

    DO(f, sstore_conn_del(f->s, "b1", "dev-1", done_cb, &r));
    assert_int_equal(store_conn_find(st, "dev-1", &broker), ROOST_ENOTFOUND);
    DO(f, sstore_conn_put(f->s, "b1", &c, done_cb, &r));
    DO(f, sstore_conn_clear(f->s, "b1", done_cb, &r));
    assert_int_equal(raw_int(f, "EXISTS " GPFX "conns:b1", NULL, NULL), 0);
    assert_int_equal(raw_int(f, "ZCARD " GPFX "conns:brokers", NULL, NULL), 0);
    store_destroy(&st);
}

/* ---- ordering, failures, reconnect ---------------------------------------------------------- */

typedef struct seq_item {
    int *log;
    int *n;
    int id;
} seq_item_t;

static void seq_cb(int rc, void *arg)
{
    seq_item_t *it = arg;
    assert_int_equal(rc, 0);
    it->log[(*it->n)++] = it->id;
}

static void test_barrier_order(void **state)
{
    fx_t *f = *state;
    int log[8], n = 0;
    seq_item_t it[8];
    for (int i = 0; i < 8; i++)
        it[i] = (seq_item_t){log, &n, i};
    res_t b = {0};
    assert_int_equal(sstore_session_touch(f->s, "o", 1, "b1", NULL, seq_cb, &it[0]), 0);
    assert_int_equal(sstore_sub_put(f->s, "o", 1, "a", 1, 1, seq_cb, &it[1]), 0);
    assert_int_equal(sstore_rx2_add(f->s, "o", 1, 3, seq_cb, &it[2]), 0);
    assert_int_equal(sstore_lease_release(f->s, "o", 1, "b1", seq_cb, &it[3]), 0);
    assert_int_equal(sstore_barrier(f->s, done_cb, &b), 0);
    assert_int_equal(n, 0); /* never inside the issuing call */
    assert_false(b.done);
    assert_true(run_until(f, &b.done, 3000));
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(log[i], i);

    /* after SCRIPT FLUSH a script call falls back to EVAL; the barrier still
     * waits for it */
    freeReplyObject(raw(f, "SCRIPT FLUSH"));
    n = 0;
    b = (res_t){0};
    assert_int_equal(sstore_sub_put(f->s, "o", 1, "b", 1, 1, seq_cb, &it[0]), 0);
    assert_int_equal(sstore_barrier(f->s, done_cb, &b), 0);
    assert_true(run_until(f, &b.done, 3000));
    assert_int_equal(n, 1);
    assert_int_equal(raw_int(f, "HLEN " PFX "subs:{c:o}", NULL, NULL), 2);
}

static void test_unavailable_and_reconnect(void **state)
{
    fx_t *f = *state;
    res_t inflight = {0}, refused = {0};
    assert_int_equal(sstore_session_touch(f->s, "z", 1, "b1", NULL, done_cb, &inflight), 0);
    redis_stop(f);
    assert_true(run_until(f, &inflight.done, 3000));
    assert_int_equal(inflight.rc, ROOST_EUNAVAILABLE);
    assert_int_equal(inflight.calls, 1);
    run_for(f, 50);
    assert_false(f->up);
    assert_int_equal(f->downs, 1);
    assert_false(sstore_connected(f->s));

    assert_int_equal(sstore_session_touch(f->s, "z", 1, "b1", NULL, done_cb, &refused),
                     ROOST_EUNAVAILABLE);
    assert_int_equal(sstore_barrier(f->s, done_cb, &refused), ROOST_EUNAVAILABLE);
    assert_int_equal(sstore_broker_list(f->s, peers_cb, &refused), ROOST_EUNAVAILABLE);
    run_for(f, 300); /* a few failed reconnect attempts */
    assert_int_equal(refused.calls, 0);
    assert_false(f->up);

    redis_start(f); /* same port */
    assert_true(run_until(f, &f->up, 5000));
    assert_int_equal(f->ups, 2);
    DO(f, sstore_broker_heartbeat(f->s, "b1", "tcp://a:1", 1, 10000, done_cb, &r));
    peers_res_t p = list_peers(f);
    assert_int_equal(p.n, 1);
}

/* A Redis that stops answering (SIGSTOP) is dropped after the stall limit
 * (10 s): the command in flight fails, and the link comes back with Redis. */
static void test_stalled_redis(void **state)
{
    fx_t *f = *state;
    res_t a = {0};
    assert_int_equal(sstore_session_touch(f->s, "s", 1, "b1", NULL, done_cb, &a), 0);
    kill(f->pid, SIGSTOP);
    bool ok = run_until(f, &a.done, 15000);
    kill(f->pid, SIGCONT);
    assert_true(ok);
    assert_int_equal(a.rc, ROOST_EUNAVAILABLE);
    assert_false(sstore_connected(f->s));
    assert_true(run_until(f, &f->up, 5000));
    DO(f, sstore_session_touch(f->s, "s", 1, "b1", NULL, done_cb, &r));
}

static void test_destroy_fails_pending(void **state)
{
    fx_t *f = *state;
    res_t a = {0}, b = {0};
    assert_int_equal(sstore_session_touch(f->s, "d", 1, "b1", NULL, done_cb, &a), 0);
    assert_int_equal(sstore_barrier(f->s, done_cb, &b), 0);
    sstore_destroy(&f->s);
    assert_true(a.done && b.done);
    assert_int_equal(a.rc, ROOST_EUNAVAILABLE);
    assert_int_equal(b.rc, ROOST_EUNAVAILABLE);
    assert_int_equal(f->downs, 0); /* on_state is not called by destroy */

    /* a handle that never reaches Redis: calls fail at once */
    sstore_t *s = sstore_new(f->loop, "127.0.0.1", free_port(), PFX);
    assert_non_null(s);
    assert_int_equal(sstore_start(s, NULL, NULL), 0);
    run_for(f, 150);
    assert_false(sstore_connected(s));
    assert_int_equal(sstore_barrier(s, done_cb, &a), ROOST_EUNAVAILABLE);
    sstore_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_touch_load_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subs_psubs_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qos2_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_fails_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

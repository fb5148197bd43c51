/* sstore_cluster: the asynchronous handle (sstore.c) on a Redis Cluster.
 *
 * A handle given --redis-cluster seeds (sstore_set_cluster) is a router: it
 * holds no link itself but one child handle per primary (an ordinary
 * sstore_t connected to that node, scripts loaded, reconnecting on its
 * own), and the slot map (slotmap.h). ss_issue hands each request to the
 * child serving the slot of its first key (0-key scripts and PING: the
 * global family's slot, store/keys.h); the request keeps its arguments so
 * a redirection can send it again:
 *   MOVED  the map is updated for that slot, re-read soon, and the request
 *          goes to the new owner (it did not run where it was sent);
 *   ASK    ASKING then the request, on the target, once.
 * The map is re-read (ss_ask.h on the loop, never blocking it: 250 ms per
 * node asked before the next is tried, the known primaries first, then the
 * seeds; one read at a time, another wanted meanwhile follows it) after a MOVED, whenever a child's link drops
 * (a failover promotes a replica), every 250 ms while not every primary is
 * up, and every 5 s otherwise; children of nodes no longer primaries are
 * dropped (their requests finish with ROOST_EUNAVAILABLE).
 *
 * The router is "connected" when it has a map and every child is: while a
 * primary is down (until its replica is promoted) every call fails at once
 * with ROOST_EUNAVAILABLE, as with a single Redis down. Reply order holds
 * per primary; sstore_barrier waits on every child, sstore_wait WAITs on
 * each primary sent something no completed WAIT covered yet, and once more
 * on the primaries a covered write was redirected to meanwhile.
 *
 * Short primaries. With sstore_set_wait(n), a primary is "short" while it
 * is known to have fewer than n replicas: it is new in the map and ROLE on
 * its link lists fewer online (a replica promoted after its primary died
 * has none until that one comes back and is attached), the map stops
 * listing its replicas (the cluster marked them failed), or a WAIT on it
 * came back short. Queue pushes to its slots are refused
 * (ROOST_EUNAVAILABLE) before anything is written: written, their WAIT
 * would fail, the device would send the message again and each attempt
 * would leave one more copy in the subscribers' queues, which fill up to
 * --max-queued with copies and then drop newer messages, acknowledged ones
 * too. A short primary is asked ROLE on every map refresh (every 250 ms
 * while one is short) and when its link comes up; n replicas online and it
 * takes queue writes again. A node whose ROLE is no longer "master" makes
 * the map be read again at once.
 */
#include "store/sstore_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/keys.h"
#include "store/slotmap.h"
#include "store/ss_ask.h"

#define DISCOVER_TIMEOUT_MS 250
#define REFRESH_DOWN_MS 250u
#define REFRESH_UP_MS 5000u

enum {
    SHORT_NO,  /* queue writes go to it */
    SHORT_NEW, /* new in the map, which lists too few replicas for it: until ROLE says */
    SHORT_YES, /* too few replicas (said in the log) */
};

struct ss_cluster {
    slotmap_base_t b; /* first: the map, the seeds, gslot (slot of P{g}:) */
    sstore_t *router;
    sstore_t **child; /* [map.n_nodes], aligned with map.nodes */
    uint64_t *issued; /* [map.n_nodes]: requests sent to that child */
    uint64_t *covered; /* [map.n_nodes]: issued count a completed WAIT covered */
    uint8_t *shortp;  /* [map.n_nodes]: SHORT_* */
    bool *probing;    /* [map.n_nodes]: a ROLE is out on that child */
    uint64_t *redirected; /* [map.n_nodes]: replies on that link that sent a request elsewhere */
    uint64_t timer;
    bool up;          /* last state reported */
    /* the map read in flight (ss_ask over the primaries known when it
     * started, then the seeds) */
    ss_ask_t *asker;
    slotmap_addr_t *ask_nodes; /* [n_ask]: what it asks, in order */
    size_t n_ask;
    slotmap_t *answer;         /* the map the kept reply made */
    const char *auth_argv[3];
    bool again;                /* another read was wanted meanwhile */
};

/* ---- setup ------------------------------------------------------------------ */

int sstore_set_cluster(sstore_t *s, const char *seeds)
{
    if (!seeds || !seeds[0])
        return 0;
    slotmap_base_t *b;
    int rc = slotmap_base_new(sizeof(struct ss_cluster), seeds, ss_prefix(s), &b);
    if (rc < 0)
        return rc;
    struct ss_cluster *c = (struct ss_cluster *)b;
    c->router = s;
    *ss_cluster_slot(s) = c;
    return 0;
}

static bool all_up(const struct ss_cluster *c)
{
    if (c->b.map.n_nodes == 0)
        return false;
    for (size_t i = 0; i < c->b.map.n_nodes; i++)
        if (!c->child[i] || !sstore_connected(c->child[i]))
            return false;
    return true;
}

bool ss_cluster_ready(const sstore_t *s) { return all_up(*ss_cluster_slot((sstore_t *)s)); }

static void arm(struct ss_cluster *c, uint64_t ms);
static void probe(struct ss_cluster *c, size_t i);

static void update_state(struct ss_cluster *c)
{
    bool up = all_up(c);
    if (up != c->up) {
        c->up = up;
        ss_report(c->router, up);
    }
}

static void child_state(bool connected, void *arg)
{
    struct ss_cluster *c = *ss_cluster_slot(arg);
    update_state(c);
    if (!connected)
        arm(c, 0); /* a primary went away: who serves its slots now? */
    for (size_t i = 0; connected && i < c->b.map.n_nodes; i++)
        probe(c, i); /* the short ones just connected: their replicas */
}

static sstore_t *new_child(struct ss_cluster *c, const slotmap_addr_t *a)
{
    sstore_t *r = c->router;
    sstore_t *ch = sstore_new(ss_loop(r), a->host, a->port, ss_base(r));
    if (!ch)
        return NULL;
    ss_child_init(ch, r);
    if (ss_wait_copy(r, ch) < 0 || sstore_start(ch, child_state, r) < 0) {
        sstore_destroy(&ch);
        return NULL;
    }
    return ch;
}

/* ---- short primaries ------------------------------------------------------------ */

static int want_replicas(struct ss_cluster *c) { return ss_wait_replicas(c->router); }

static void set_short(struct ss_cluster *c, size_t i, uint8_t v, const char *why)
{
    uint8_t was = c->shortp[i];
    c->shortp[i] = v;
    const slotmap_addr_t *a = &c->b.map.nodes[i];
    if (v == SHORT_YES && was != SHORT_YES)
        log_warn("redis_primary_short", "host=%s port=%d min_replicas=%d detail=\"%s: queue writes to "
                 "its slots refused until its replicas are back\"", a->host, a->port, want_replicas(c), why);
    else if (v == SHORT_NO && was == SHORT_YES)
        log_info("redis_primary_replicated", "host=%s port=%d", a->host, a->port);
}

typedef struct probe {
    struct ss_cluster *c;
    sstore_t *child;
} probe_t;

static int child_index(const struct ss_cluster *c, const sstore_t *child)
{
    for (size_t i = 0; c && child && i < c->b.map.n_nodes; i++)
        if (c->child[i] == child)
            return (int)i;
    return -1;
}

/* ROLE's answer on a short primary's link: ["master", offset, [[ip, port,
 * offset], ...]] lists the replicas attached and in sync (online). Enough
 * of them: trusted again. "slave": the node is no primary now (an old
 * primary restarted, told by the cluster to follow its promoted replica):
 * the map is stale, read it again. (A child dropped meanwhile finishes the
 * request with an error and is no longer found.) */
static void probe_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    probe_t *p = q->arg;
    struct ss_cluster *c = p->c;
    int i = child_index(c, p->child);
    free(p);
    if (i < 0)
        return;
    c->probing[i] = false;
    if (rc < 0 || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !ss_r_is_str(r->element[0]))
        return;
    if (strcmp(r->element[0]->str, "master") != 0) {
        arm(c, 0);
        return;
    }
    size_t online = r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY ? r->element[2]->elements : 0;
    if (online >= (size_t)want_replicas(c))
        set_short(c, (size_t)i, SHORT_NO, "");
    else
        set_short(c, (size_t)i, SHORT_YES, "ROLE lists too few replicas online");
}

/* Asks a short primary (connected, nothing asked yet) for its replicas. */
static void probe(struct ss_cluster *c, size_t i)
{
    if (!c->shortp[i] || c->probing[i] || !c->child[i] || !sstore_connected(c->child[i]))
        return;
    probe_t *p = malloc(sizeof(*p));
    sstore_req_t *q = p ? ss_req_new(c->child[i], SS_NONE, 0, probe_finish, p) : NULL;
    if (!q) {
        free(p);
        return;
    }
    *p = (probe_t){c, c->child[i]};
    ss_arg_str(q, "ROLE");
    if (ss_issue(q) < 0)
        free(p);
    else
        c->probing[i] = true;
}

/* What the map just read says of node i's replicas, `before` what the
 * previous one listed (-1: the node is new): a new primary (a promoted
 * replica) listed with too few is not written to until ROLE says it has
 * enough (CLUSTER SLOTS leaves out a failed replica, and one that has not
 * replicated anything yet: an idle primary's may be missing, so it is
 * only a hint); a kept one whose replicas the cluster now marks failed is
 * short. A short primary is probed. */
static void check_replicas(struct ss_cluster *c, size_t i, int before)
{
    int want = want_replicas(c), listed = c->b.map.nodes[i].replicas;
    if (want <= 0)
        return;
    if (before < 0 && listed < want)
        c->shortp[i] = SHORT_NEW;
    else if (before >= want && listed < want)
        set_short(c, i, SHORT_YES, "the cluster marks its replicas failed");
    probe(c, i);
}

static bool any_short(const struct ss_cluster *c)
{
    for (size_t i = 0; i < c->b.map.n_nodes; i++)
        if (c->shortp[i])
            return true;
    return false;
}

bool ss_cluster_writable(sstore_t *router, unsigned slot)
{
    struct ss_cluster *c = *ss_cluster_slot(router);
    unsigned node = slot < SLOT_COUNT ? c->b.map.owner[slot] : SLOTMAP_NONE;
    return node < c->b.map.n_nodes && !c->shortp[node];
}

/* Makes the children match the map m just read (taking it): children of
 * nodes still primaries are kept, new primaries get one, the others are
 * dropped once the new map is in place (dropping finishes their requests,
 * whose callbacks may issue new ones). */
static void apply(struct ss_cluster *c, slotmap_t *m)
{
    sstore_t **kids = calloc(m->n_nodes ? m->n_nodes : 1, sizeof(*kids));
    if (!kids) {
        slotmap_clear(m);
        free(m);
        return;
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        int old = slotmap_find(&c->b.map, m->nodes[i].host, m->nodes[i].port);
        if (old >= 0) {
            kids[i] = c->child[old];
            c->child[old] = NULL;
        }
    }
    size_t n = m->n_nodes ? m->n_nodes : 1;
    uint64_t *issued = calloc(n, sizeof(*issued));
    uint64_t *covered = calloc(n, sizeof(*covered));
    uint8_t *shortp = calloc(n, sizeof(*shortp));
    bool *probing = calloc(n, sizeof(*probing));
    uint64_t *redirected = calloc(n, sizeof(*redirected));
    int *before = calloc(n, sizeof(*before));
    if (!issued || !covered || !shortp || !probing || !redirected || !before) {
        free(issued);
        free(covered);
        free(shortp);
        free(probing);
        free(redirected);
        free(before);
        for (size_t i = 0; i < m->n_nodes; i++) /* give the kept children back */
            if (kids[i]) {
                int old = slotmap_find(&c->b.map, m->nodes[i].host, m->nodes[i].port);
                c->child[old] = kids[i];
            }
        free(kids);
        slotmap_clear(m);
        free(m);
        return;
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        issued[i] = 1; /* unknown: WAIT on it next time */
        int old = kids[i] ? slotmap_find(&c->b.map, m->nodes[i].host, m->nodes[i].port) : -1;
        before[i] = -1;
        if (old >= 0) { /* a child kept keeps what is known of its replicas */
            shortp[i] = c->shortp[old];
            probing[i] = c->probing[old];
            redirected[i] = c->redirected[old]; /* WAITs out there compare with it */
            before[i] = c->b.map.nodes[old].replicas;
        }
    }
    free(c->issued);
    free(c->covered);
    free(c->shortp);
    free(c->probing);
    free(c->redirected);
    c->issued = issued;
    c->covered = covered;
    c->shortp = shortp;
    c->probing = probing;
    c->redirected = redirected;
    sstore_t **gone = c->child;
    size_t n_gone = c->b.map.n_nodes;
    slotmap_clear(&c->b.map);
    memcpy(&c->b.map, m, sizeof(*m));
    free(m);
    c->child = kids;
    for (size_t i = 0; i < c->b.map.n_nodes; i++)
        if (!kids[i])
            kids[i] = new_child(c, &c->b.map.nodes[i]);
    for (size_t i = 0; i < n_gone; i++)
        sstore_destroy(&gone[i]);
    free(gone);
    for (size_t i = 0; i < c->b.map.n_nodes; i++)
        check_replicas(c, i, before[i]);
    free(before);
}

/* ---- reading the map (ss_ask.h) --------------------------------------------- */

static const char *ask_node(size_t i, int *port, void *arg)
{
    struct ss_cluster *c = arg;
    if (i >= c->n_ask)
        return NULL;
    *port = c->ask_nodes[i].port;
    return c->ask_nodes[i].host;
}

static int ask_take(const redisReply *r, size_t i, const char **why, void *arg)
{
    struct ss_cluster *c = arg;
    slotmap_t *m = calloc(1, sizeof(*m));
    if (!m) {
        *why = "out of memory";
        return -1;
    }
    if (slotmap_parse(m, r, &c->ask_nodes[i]) < 0) {
        free(m);
        *why = "CLUSTER SLOTS does not cover every slot";
        return -1;
    }
    c->answer = m;
    return 0;
}

static void ask_miss(size_t i, const char *host, int port, const char *why, void *arg)
{
    (void)i;
    (void)arg;
    log_debug("redis_cluster_no_map", "node=%s:%d detail=\"%s\"", host, port, why);
}

static void ask_done(int rc, size_t i, void *arg)
{
    (void)i;
    struct ss_cluster *c = arg;
    free(c->ask_nodes);
    c->ask_nodes = NULL;
    c->n_ask = 0;
    if (rc == 0 && c->answer)
        apply(c, c->answer);
    c->answer = NULL;
    update_state(c);
    bool again = c->again;
    c->again = false;
    arm(c, again ? 0 : c->up && !any_short(c) ? REFRESH_UP_MS : REFRESH_DOWN_MS);
}

/* Starts reading the map: the primaries we know first, then the seeds. */
static void refresh(struct ss_cluster *c)
{
    if (ss_ask_busy(c->asker)) {
        c->again = true;
        return;
    }
    size_t known = c->b.map.n_nodes, n = known + c->b.n_seeds;
    slotmap_addr_t *nodes = calloc(n ? n : 1, sizeof(*nodes));
    if (!nodes) {
        arm(c, REFRESH_DOWN_MS);
        return;
    }
    if (known)
        memcpy(nodes, c->b.map.nodes, known * sizeof(*nodes));
    memcpy(nodes + known, c->b.seeds, c->b.n_seeds * sizeof(*nodes));
    free(c->ask_nodes);
    c->ask_nodes = nodes;
    c->n_ask = n;
    static const char *const slots[] = {"CLUSTER", "SLOTS"};
    ss_ask_spec_t spec = {
        .node = ask_node, .take = ask_take, .miss = ask_miss, .done = ask_done, .arg = c,
        .auth_argv = c->auth_argv, .auth_argc = ss_auth(c->router) ? redis_auth_argv(ss_auth(c->router), c->auth_argv) : 0,
        .argv = slots, .argc = 2, .timeout_ms = DISCOVER_TIMEOUT_MS,
    };
    if (ss_ask_start(c->asker, &spec) < 0)
        arm(c, REFRESH_DOWN_MS);
}

static uint64_t refresh_fire(loop_t *l, void *arg)
{
    (void)l;
    struct ss_cluster *c = arg;
    c->timer = 0; /* this run removes it; the read's end arms the next */
    refresh(c);
    return 0;
}

/* Next refresh within ms (0: at the next timer turn). */
static void arm(struct ss_cluster *c, uint64_t ms)
{
    loop_t *l = ss_loop(c->router);
    if (c->timer)
        loop_del_timer(l, c->timer);
    c->timer = loop_add_timer(l, ms, refresh_fire, c);
}

int ss_cluster_start(sstore_t *s)
{
    struct ss_cluster *c = *ss_cluster_slot(s);
    if (!c->asker && !(c->asker = ss_ask_new(ss_loop(s))))
        return -ENOMEM;
    arm(c, 0);
    return c->timer ? 0 : -ENOMEM;
}

void ss_cluster_fini(sstore_t *s)
{
    struct ss_cluster *c = *ss_cluster_slot(s);
    if (!c)
        return;
    if (c->timer)
        loop_del_timer(ss_loop(s), c->timer);
    ss_ask_free(&c->asker); /* a read in flight ends here, unreported */
    free(c->ask_nodes);
    if (c->answer) {
        slotmap_clear(c->answer);
        free(c->answer);
    }
    for (size_t i = 0; i < c->b.map.n_nodes; i++)
        sstore_destroy(&c->child[i]);
    free(c->child);
    free(c->issued);
    free(c->covered);
    free(c->shortp);
    free(c->probing);
    free(c->redirected);
    slotmap_base_free(&c->b);
    *ss_cluster_slot(s) = NULL;
}

/* ---- routing ---------------------------------------------------------------- */

unsigned ss_req_slot(const sstore_req_t *q)
{
    struct ss_cluster *c = *ss_cluster_slot(q->s);
    int at = -1;
    if (q->script != SS_NONE) {
        /* EVALSHA sha nkeys key...: argument 2 is nkeys */
        if (q->argc > 3 && !(q->len[2] == 1 && q->buf[q->off[2]] == '0'))
            at = 3;
    } else if (q->argc > 1) {
        at = 1;
    }
    return at < 0 ? c->b.gslot : slot_of(q->buf + q->off[at], q->len[at]);
}

int ss_cluster_issue(sstore_req_t *q)
{
    struct ss_cluster *c = *ss_cluster_slot(q->s);
    if (q->oom || !all_up(c)) {
        int rc = q->oom ? -ENOMEM : ROOST_EUNAVAILABLE;
        ss_req_discard(q);
        return rc;
    }
    unsigned node = c->b.map.owner[ss_req_slot(q)];
    q->s = c->child[node];
    c->issued[node]++;
    return ss_issue(q);
}

int ss_cluster_redirect(sstore_req_t *q, const redisReply *r)
{
    sstore_t *router = ss_child_router(q->s);
    if (!router || r->type != REDIS_REPLY_ERROR || !r->str)
        return 0;
    slot_redir_t rd;
    slot_redir_kind_t k = slot_redir_parse(r->str, r->len, &rd);
    struct ss_cluster *c = *ss_cluster_slot(router);
    if (k == SLOT_REDIR_NONE && strstr(r->str, "non local key")) {
        arm(c, 0); /* a script without keys met a moved {g} slot: read the map now */
        return -1;
    }
    if (k == SLOT_REDIR_NONE)
        return 0;
    int node = slotmap_find(&c->b.map, rd.host, rd.port);
    if (k == SLOT_REDIR_MOVED) {
        if (node >= 0)
            c->b.map.owner[rd.slot] = (uint16_t)node;
        arm(c, 0);
    }
    if (node < 0 || !sstore_connected(c->child[node]) || q->redirects++ >= 5)
        return -1;
    int from = child_index(c, q->s);
    if (from >= 0)
        c->redirected[from]++; /* a WAIT behind it there waits again (join_done) */
    q->s = c->child[node];
    c->issued[node]++;
    return ss_resend(q, k == SLOT_REDIR_ASK) == 0 ? 1 : -1;
}

/* ---- barrier ------------------------------------------------------------------ */

/* A redirected write runs on its new node after the WAIT that was to
 * cover it went out on the old one (it was issued, and waited for, where
 * the map said). Its reply came on the old node's link before that WAIT's
 * answer, so a WAIT that sees redirects from its link since it was asked
 * for has the join wait once more on the nodes now holding writes no
 * completed WAIT covers (the redirect counted them in `issued`), where the
 * new WAIT goes out behind the resent writes. */
#define WAIT_ROUNDS_MAX 6

typedef struct join {
    struct ss_cluster *c;
    size_t pending;
    int rc;
    bool wait, again;
    int rounds;
    sstore_done_fn fn;
    void *arg;
} join_t;

static int issue_round(join_t *j);

static void join_done(int rc, void *arg)
{
    join_t *j = arg;
    if (rc < 0 && j->rc == 0)
        j->rc = rc;
    if (--j->pending > 0)
        return;
    if (j->rc == 0 && j->again) { /* a write it covered moved: WAIT where it went */
        j->again = false;
        int r = ++j->rounds < WAIT_ROUNDS_MAX ? issue_round(j) : ROOST_EUNAVAILABLE;
        if (r == 0)
            return;
        j->rc = r;
    }
    j->fn(j->rc, j->arg);
    free(j);
}

/* One child's WAIT: on success, what was issued to it before the call is
 * on a replica. */
typedef struct cwait {
    sstore_t *child;
    uint64_t upto;
    uint64_t redirected; /* c->redirected of that child when asked */
    join_t *j;
} cwait_t;

static void cwait_done(int rc, void *arg)
{
    cwait_t *w = arg;
    struct ss_cluster *c = w->j->c;
    int i = child_index(c, w->child);
    if (i >= 0 && rc == 0 && c->covered[i] < w->upto)
        c->covered[i] = w->upto;
    if (i >= 0 && rc == 0 && c->redirected[i] != w->redirected)
        w->j->again = true;
    if (i >= 0 && rc == ROOST_EUNAVAILABLE && sstore_connected(w->child) && c->shortp[i] != SHORT_YES) {
        set_short(c, (size_t)i, SHORT_YES, "a WAIT came back short");
        arm(c, REFRESH_DOWN_MS); /* the probe goes out from the refresh */
    }
    join_done(rc, w->j);
    free(w);
}

/* A barrier on every child, or (j->wait) a WAIT on each child sent
 * something no completed WAIT covers and a barrier elsewhere: a primary
 * nobody wrote to is not waited for (after a failover one may have no
 * replica yet). 0, or the error when nothing could be issued (no
 * callback then). */
static int issue_round(join_t *j)
{
    struct ss_cluster *c = j->c;
    if (!all_up(c))
        return ROOST_EUNAVAILABLE;
    j->pending = 1; /* held until all are issued */
    for (size_t i = 0; i < c->b.map.n_nodes; i++) {
        j->pending++;
        int rc;
        if (j->wait && c->issued[i] > c->covered[i]) {
            cwait_t *w = malloc(sizeof(*w));
            if (w) {
                *w = (cwait_t){c->child[i], c->issued[i], c->redirected[i], j};
                if ((rc = sstore_wait(c->child[i], cwait_done, w)) < 0)
                    free(w);
            } else {
                rc = -ENOMEM;
            }
        } else {
            rc = sstore_barrier(c->child[i], join_done, j);
        }
        if (rc < 0) {
            j->pending--;
            if (j->rc == 0)
                j->rc = rc;
        }
    }
    if (j->rc < 0 && j->pending == 1) /* nothing issued */
        return j->rc;
    join_done(0, j); /* drops the hold; may finish later */
    return 0;
}

/* fn once every child completed a barrier (wait false), or the WAITs of
 * issue_round, again where a covered write was redirected meanwhile. */
static int on_all(sstore_t *s, bool wait, sstore_done_fn fn, void *arg)
{
    struct ss_cluster *c = *ss_cluster_slot(s);
    join_t *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    *j = (join_t){.c = c, .wait = wait, .fn = fn, .arg = arg};
    int rc = issue_round(j);
    if (rc < 0)
        free(j);
    return rc;
}

int ss_cluster_barrier(sstore_t *s, sstore_done_fn fn, void *arg)
{
    return on_all(s, false, fn, arg);
}

int ss_cluster_wait(sstore_t *s, sstore_done_fn fn, void *arg)
{
    return on_all(s, true, fn, arg);
}

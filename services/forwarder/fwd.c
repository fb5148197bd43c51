/* fwd: loop, routes, reading and claiming queue entries, metrics (fwd.h). */
#include "fwd_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "body.h"

const double FWD_LAT_BOUNDS[FWD_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

#define IDLE_READ_MS 10   /* how often an empty queue is asked again */
#define CLAIM_COUNT 100

int64_t fwd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fwd_redis_result(fwd_t *f, int rc, const char *what)
{
    if (rc >= 0 || rc == -ENOMEM) {
        if (rc >= 0 && !atomic_exchange(&f->redis_ok, true))
            log_info("redis_ok", "detail=\"store reachable\"");
        return;
    }
    const store_error_t *e = store_last_error(f->store);
    if (rc == ROOST_EUNAVAILABLE) {
        if (atomic_exchange(&f->redis_ok, false))
            log_warn("redis_unavailable", "op=%s reason=\"%s\"", what, e->reason ? e->reason : "");
        f->redis_retry_at = fwd_now_ms() + 500;
    } else {
        log_warn("store_failed", "op=%s rc=%d reason=\"%s\"", what, rc, e->reason ? e->reason : "");
    }
}

static bool redis_paused(fwd_t *f, int64_t now)
{
    return !atomic_load(&f->redis_ok) && now < f->redis_retry_at;
}

fwd_t *fwd_new(const fwd_conf_t *conf, const char *consumer)
{
    fwd_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->conf = conf;
    snprintf(f->consumer, sizeof(f->consumer), "%s", consumer);
    pthread_mutex_init(&f->mu, NULL);
    buf_init(&f->snapshot);
    atomic_init(&f->redis_ok, false);
    atomic_init(&f->last_tick, (long long)fwd_now_ms());
    f->store = redis_conf_store(&conf->redis, NULL);
    f->multi = curl_multi_init();
    if (!f->store || !f->multi) {
        fwd_destroy(&f);
        return NULL;
    }
    store_set_timeouts(f->store, (int)conf->redis.timeout_ms, (int)conf->redis.timeout_ms);
    curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    int rc;
    if (conf->admin_events[0] && (rc = changes_open(conf->admin_events, conf->admin_key, &f->changes)) < 0) {
        log_error("admin_events_failed", "endpoint=%s err=\"%s\"", conf->admin_events, roost_strerror(rc));
        fwd_destroy(&f);
        return NULL;
    }
    return f;
}

static void pipe_free(fwd_t *f, pipe_t *p)
{
    while (p->reqs) {
        req_t *r = p->reqs;
        p->reqs = r->next;
        curl_multi_remove_handle(f->multi, r->easy);
        send_abandon(f, r);
    }
    for (size_t i = 0; i < p->n; i++)
        held_free(&p->q[i]);
    for (size_t i = 0; i < p->n_acks; i++)
        free((char *)p->acks[i].eid);
    free(p->acks);
    free(p->q);
    store_pipeline_t *cfg = &p->cfg;
    free(cfg->name);
    free(cfg->description);
    free(cfg->url);
    free(cfg->auth_token);
    free(cfg->network_token);
    free(p);
}

void fwd_destroy(fwd_t **fp)
{
    if (!fp || !*fp)
        return;
    fwd_t *f = *fp;
    while (f->pipes) {
        pipe_t *n = f->pipes->next;
        pipe_free(f, f->pipes);
        f->pipes = n;
    }
    send_fini(f);
    if (f->multi)
        curl_multi_cleanup(f->multi);
    store_destroy(&f->store);
    changes_close(&f->changes);
    buf_fini(&f->snapshot);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *fp = NULL;
}

/* ---- routes --------------------------------------------------------------- */

/* Moves the record's owned strings into p->cfg. */
static void take_cfg(pipe_t *p, store_pipeline_t *src)
{
    store_pipeline_t old = p->cfg;
    p->cfg = *src;
    memset(src, 0, sizeof(*src));
    free(old.name);
    free(old.description);
    free(old.url);
    free(old.auth_token);
    free(old.network_token);
}

static void refresh_routes(fwd_t *f, int64_t now)
{
    f->next_routes = now + f->conf->routes_poll_ms;
    int64_t v = 0;
    int rc = store_routes_version(f->store, &v);
    fwd_redis_result(f, rc, "routes_version");
    if (rc < 0 || (f->routes_loaded && v == f->routes_version))
        return;
    store_routes_t *rt = NULL;
    rc = store_routes_load(f->store, &rt);
    fwd_redis_result(f, rc, "routes_load");
    if (rc < 0)
        return;
    for (pipe_t *p = f->pipes; p; p = p->next)
        p->seen = false;
    for (size_t i = 0; i < rt->n_pipelines; i++) {
        store_pipeline_t *src = &rt->pipelines[i];
        pipe_t *p = f->pipes;
        while (p && strcmp(p->id, src->id))
            p = p->next;
        if (!p) {
            if (!(p = calloc(1, sizeof(*p))))
                continue;
            memcpy(p->id, src->id, sizeof(p->id));
            p->next = f->pipes;
            f->pipes = p;
            fwd_redis_result(f, pipeq_ensure(f->store, p->id), "ensure_group");
            log_info("pipeline_added", "pipeline=%s name=\"%s\"", src->id, src->name);
        }
        bool was_paused = p->cfg.paused;
        take_cfg(p, src);
        if (was_paused != p->cfg.paused)
            log_info(p->cfg.paused ? "pipeline_paused" : "pipeline_resumed", "pipeline=%s", p->id);
        p->seen = true;
    }
    for (pipe_t *p = f->pipes; p; p = p->next)
        if (!p->seen && !p->gone) {
            p->gone = true;
            log_info("pipeline_removed", "pipeline=%s", p->id);
        }
    f->routes_version = rt->version;
    f->routes_loaded = true;
    store_routes_free(&rt);
}

/* Frees pipelines that went away once nothing of theirs is in flight. */
static void collect_gone(fwd_t *f)
{
    for (pipe_t **pp = &f->pipes; *pp;) {
        pipe_t *p = *pp;
        if (p->gone && p->inflight == 0) {
            *pp = p->next;
            pipe_free(f, p);
        } else {
            pp = &p->next;
        }
    }
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct sink {
    fwd_t *f;
    pipe_t *p;
    bool merge;          /* claimed entries: insert in stream order, skip held ones */
    fentry_t *cur;       /* the entry of the last message handed over */
    bool skip;           /* ... which is skipped (held already, or no memory) */
    size_t entries;      /* entries seen */
    held_t *bad;         /* malformed messages to dead-letter */
    size_t n_bad, cap_bad;
} sink_t;

/* Waiting, in a request, or delivered with its ack not yet in Redis (a
 * claimed-back acked entry would be POSTed a second time). */
static bool is_held(const pipe_t *p, const char *eid)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->q[i].e->eid, eid))
            return true;
    for (const req_t *r = p->reqs; r; r = r->next)
        for (size_t k = 0; k < r->n; k++)
            if (!strcmp(r->items[k].e->eid, eid))
                return true;
    for (size_t i = 0; i < p->n_acks; i++)
        if (!strcmp(p->acks[i].eid, eid))
            return true;
    return false;
}

/* The sink lets go of its entry (it holds one reference while handing its
 * messages over). */
static void drop_cur(sink_t *s)
{
    if (s->cur && --s->cur->refs == 0)
        free(s->cur);
    s->cur = NULL;
}

/* The tracker of m's entry: the last one when m is its next message. NULL
 * when the entry is skipped. */
static fentry_t *entry_of(sink_t *s, const pipeq_msg_t *m)
{
    if (s->cur && !strcmp(s->cur->eid, m->eid))
        return s->skip ? NULL : s->cur;
    drop_cur(s);
    s->skip = false;
    s->entries++;
    fentry_t *e = calloc(1, sizeof(*e));
    if (!e) /* its next messages get a tracker never done: the entry is not acked, claimed again later */
        return NULL;
    memcpy(e->eid, m->eid, strlen(m->eid) + 1); /* (checked in on_msg) */
    e->count = m->count;
    e->left = m->parts;
    e->refs = 1;
    s->cur = e;
    s->skip = s->merge && is_held(s->p, m->eid);
    return s->skip ? NULL : e;
}

static int put_held(held_t **v, size_t *n, size_t *cap, const held_t *h)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        held_t *q = realloc(*v, c * sizeof(*q));
        if (!q)
            return -ENOMEM;
        *v = q;
        *cap = c;
    }
    (*v)[(*n)++] = *h;
    return 0;
}

static void on_msg(const pipeq_msg_t *m, void *arg)
{
    sink_t *s = arg;
    pipe_t *p = s->p;
    if (strlen(m->eid) >= PIPEQ_EID_MAX)
        return;
    fentry_t *e = entry_of(s, m);
    if (!e)
        return;
    held_t h = {.since = fwd_now_ms(), .attempts = m->attempts, .e = e};
    memcpy(h.mid, m->mid, sizeof(h.mid));
    e->refs++;
    if (!body_ok(m)) {
        if (put_held(&s->bad, &s->n_bad, &s->cap_bad, &h) < 0)
            held_free(&h);
        return;
    }
    if (!(h.json = body_message(p->id, m, &h.len))) {
        held_free(&h); /* OOM: stays pending, claimed again later */
        return;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        held_t *q = realloc(p->q, cap * sizeof(*q));
        if (!q) {
            held_free(&h);
            return;
        }
        p->q = q;
        p->cap = cap;
    }
    size_t at = p->n;
    while (s->merge && at > 0 && pipeq_eid_cmp(p->q[at - 1].e->eid, e->eid) > 0)
        at--;
    memmove(p->q + at + 1, p->q + at, (p->n - at) * sizeof(*p->q));
    p->q[at] = h;
    p->n++;
}

/* Dead-letters the malformed messages read (an entry whose messages are
 * all done then goes to the acknowledgements). */
static void finish_sink(fwd_t *f, sink_t *s)
{
    drop_cur(s);
    if (s->n_bad) {
        const char **mids = malloc(s->n_bad * sizeof(*mids));
        int rc = mids ? 0 : -ENOMEM;
        for (size_t i = 0; mids && i < s->n_bad; i++)
            mids[i] = s->bad[i].mid;
        if (rc == 0)
            rc = pipeq_dead(f->store, s->p->id, mids, s->n_bad,
                            "malformed queue entry (not decodable, no topic, or a field not UTF-8)", 0);
        fwd_redis_result(f, rc, "dead_letter");
        free(mids);
        if (rc == 0)
            s->p->dead += s->n_bad;
        for (size_t i = 0; i < s->n_bad; i++) {
            if (rc == 0)
                held_done(s->p, &s->bad[i], false);
            else
                held_free(&s->bad[i]); /* stays pending: claimed and tried again */
        }
    }
    free(s->bad);
}

/* Messages held per pipeline: enough for every request in flight twice. */
static size_t window_of(const fwd_t *f, const pipe_t *p)
{
    return (size_t)(p->cfg.batch_size * f->conf->inflight * 2 + 100);
}

/* Reads when the held entries fell to half the window (one round trip
 * fills it again), never once per message. */
static void read_more(fwd_t *f, pipe_t *p, int64_t now)
{
    size_t window = window_of(f, p);
    if (p->n > window / 2 || now < p->next_read)
        return;
    /* the window counts messages, XREADGROUP entries: as many entries as
     * the last read's bundles make fit */
    size_t per = p->per_entry ? p->per_entry : 1, count = (window - p->n) / per;
    sink_t s = {.f = f, .p = p};
    int rc = pipeq_read(f->store, p->id, f->consumer, count ? count : 1, on_msg, &s);
    if (rc > 0 && s.entries)
        p->per_entry = ((size_t)rc + s.entries - 1) / s.entries;
    fwd_redis_result(f, rc, "read");
    if (rc < 0 && rc != ROOST_EUNAVAILABLE && store_last_error(f->store)->reason &&
        !strncmp(store_last_error(f->store)->reason, "NOGROUP", 7))
        fwd_redis_result(f, pipeq_ensure(f->store, p->id), "ensure_group");
    finish_sink(f, &s);
    p->next_read = rc > 0 ? now : now + IDLE_READ_MS;
}

static void claim_and_touch(fwd_t *f, pipe_t *p, int64_t now)
{
    if (now >= p->next_touch) {
        p->next_touch = now + f->conf->claim_idle_ms / 3;
        /* waiting, acked but the ack not yet sent, then in requests: all
         * kept this forwarder's so no claim (ours or another's) takes them */
        const char **ids = malloc((p->n + p->n_acks + 1) * sizeof(*ids));
        size_t n = 0;
        /* (a bundle's messages sit side by side: its id once) */
        for (size_t i = 0; ids && i < p->n; i++)
            if (!n || strcmp(ids[n - 1], p->q[i].e->eid))
                ids[n++] = p->q[i].e->eid;
        for (size_t i = 0; ids && i < p->n_acks; i++)
            ids[n++] = p->acks[i].eid;
        for (const req_t *r = p->reqs; ids && r; r = r->next) {
            const char **more = realloc(ids, (n + r->n + 1) * sizeof(*ids));
            if (!more)
                break;
            ids = more;
            for (size_t k = 0; k < r->n; k++)
                if (!n || strcmp(ids[n - 1], r->items[k].e->eid))
                    ids[n++] = r->items[k].e->eid;
        }
        if (ids && n)
            fwd_redis_result(f, pipeq_touch(f->store, p->id, f->consumer, ids, n), "touch");
        free(ids);
    }
    if (now >= p->next_claim && !p->cfg.paused) {
        p->next_claim = now + f->conf->claim_idle_ms / 2;
        sink_t s = {.f = f, .p = p, .merge = true};
        int rc = pipeq_claim(f->store, p->id, f->consumer, f->conf->claim_idle_ms, CLAIM_COUNT, on_msg, &s);
        fwd_redis_result(f, rc, "claim");
        finish_sink(f, &s);
        if (rc > 0)
            log_info("entries_claimed", "pipeline=%s messages=%d detail=\"held by a forwarder that stopped\"", p->id,
                     rc);
    }
}

#define ACK_BATCH 128   /* acknowledgements sent together ... */
#define ACK_DELAY_MS 5  /* ... or once the oldest waited this long */
#define ACK_BACKOFF_MIN_MS 50   /* a refused ack: first pause before the retry */
#define ACK_BACKOFF_MAX_MS 2000 /* ... doubling up to this */

/* Sends the acknowledgements collected (one script per pipeline). Waits
 * for ACK_BATCH of them or ACK_DELAY_MS unless force: a delayed ack only
 * means a redelivery if this process dies meanwhile (at least once). */
static void flush_acks(fwd_t *f, int64_t now, bool force)
{
    size_t pending = 0;
    for (pipe_t *p = f->pipes; p; p = p->next)
        pending += p->n_acks;
    if (!pending)
        return;
    if (!f->acks_since)
        f->acks_since = now;
    if (!force && pending < ACK_BATCH && now - f->acks_since < ACK_DELAY_MS)
        return;
    if (!force && now < f->acks_retry_at)
        return;
    f->acks_since = 0;
    for (pipe_t *p = f->pipes; p; p = p->next) {
        if (!p->n_acks)
            continue;
        int rc = pipeq_ack(f->store, p->id, p->acks, p->n_acks);
        fwd_redis_result(f, rc, "ack");
        if (rc < 0) {
            f->acks_since = now; /* kept (held: fwd.h); retried */
            if (rc != ROOST_EUNAVAILABLE) {
                /* Redis answered and refused (a script error, an ACL):
                 * retried after a doubling pause, not every few ms with a
                 * log line each (Redis away is retried at once on its
                 * return, before any claim: fwd_redis_result) */
                f->acks_backoff = f->acks_backoff ? f->acks_backoff * 2 : ACK_BACKOFF_MIN_MS;
                if (f->acks_backoff > ACK_BACKOFF_MAX_MS)
                    f->acks_backoff = ACK_BACKOFF_MAX_MS;
                f->acks_retry_at = now + f->acks_backoff;
            }
            continue;
        }
        f->acks_backoff = 0;
        f->acks_retry_at = 0;
        for (size_t i = 0; i < p->n_acks; i++)
            free((char *)p->acks[i].eid);
        p->n_acks = 0;
    }
}

/* How long until p may send (0: now; -1: nothing to send or no room). */
static int64_t send_wait(const fwd_t *f, const pipe_t *p, int64_t now)
{
    if (p->gone || p->cfg.paused || !p->n || p->inflight >= f->conf->inflight)
        return -1;
    if (now < p->ready_at)
        return p->ready_at - now;
    if (p->n >= (size_t)p->cfg.batch_size || f->draining)
        return 0;
    int64_t left = p->q[0].since + p->cfg.linger_ms - now;
    return left > 0 ? left : 0;
}

/* Starts what may start now. */
static void dispatch(fwd_t *f, pipe_t *p, int64_t now)
{
    while (send_wait(f, p, now) == 0) {
        size_t batch = (size_t)p->cfg.batch_size;
        if (send_start(f, p, p->n >= batch ? batch : p->n) < 0)
            break;
    }
}

/* How long the loop may sleep in curl_multi_poll: until a pipeline may
 * send or read, at most IDLE_READ_MS (the queues are polled). */
static int poll_ms(const fwd_t *f, int64_t now)
{
    int64_t wait = IDLE_READ_MS;
    for (const pipe_t *p = f->pipes; p && wait > 0; p = p->next) {
        int64_t w = send_wait(f, p, now);
        if (w >= 0 && w < wait)
            wait = w;
        if (p->n_acks && wait > ACK_DELAY_MS)
            wait = ACK_DELAY_MS;
        if (!p->gone && !p->cfg.paused && !f->draining && p->n <= window_of(f, p) / 2 && p->next_read <= now)
            wait = 0;
    }
    return (int)wait;
}

/* ---- metrics ---------------------------------------------------------------- */

static void render(fwd_t *f, int64_t now)
{
    buf_t b;
    buf_init(&b);
    char line[512];
#define EMIT(...) buf_append(&b, line, (size_t)snprintf(line, sizeof(line), __VA_ARGS__))
    EMIT("# HELP roost_forwarder_up 1 while Redis answers.\n# TYPE roost_forwarder_up gauge\n");
    EMIT("roost_forwarder_up %d\n", atomic_load(&f->redis_ok) ? 1 : 0);
    EMIT("# TYPE roost_forwarder_pipelines gauge\n");
    size_t n = 0;
    for (pipe_t *p = f->pipes; p; p = p->next)
        n += !p->gone;
    EMIT("roost_forwarder_pipelines %zu\n", n);
    static const char *const COUNTERS[] = {"forwarded", "retried", "dead_lettered", "requests", "request_failures"};
    for (size_t c = 0; c < 5; c++) {
        EMIT("# TYPE roost_forwarder_%s_total counter\n", COUNTERS[c]);
        for (pipe_t *p = f->pipes; p; p = p->next) {
            uint64_t v = c == 0 ? p->forwarded : c == 1 ? p->retried : c == 2 ? p->dead : c == 3 ? p->requests : p->failures;
            EMIT("roost_forwarder_%s_total{pipeline=\"%s\"} %llu\n", COUNTERS[c], p->id, (unsigned long long)v);
        }
    }
    EMIT("# HELP roost_forwarder_dropped_total Messages brokers dropped because the queue was at max_queue.\n");
    EMIT("# TYPE roost_forwarder_dropped_total counter\n");
    for (pipe_t *p = f->pipes; p; p = p->next)
        EMIT("roost_forwarder_dropped_total{pipeline=\"%s\"} %lld\n", p->id, (long long)p->dropped);
    EMIT("# TYPE roost_forwarder_queue_length gauge\n");
    for (pipe_t *p = f->pipes; p; p = p->next)
        EMIT("roost_forwarder_queue_length{pipeline=\"%s\"} %lld\n", p->id, (long long)p->depth);
    EMIT("# TYPE roost_forwarder_queue_oldest_age_seconds gauge\n");
    for (pipe_t *p = f->pipes; p; p = p->next)
        EMIT("roost_forwarder_queue_oldest_age_seconds{pipeline=\"%s\"} %.3f\n", p->id,
             (double)p->oldest_age_ms / 1000.0);
    EMIT("# TYPE roost_forwarder_paused gauge\n");
    for (pipe_t *p = f->pipes; p; p = p->next)
        EMIT("roost_forwarder_paused{pipeline=\"%s\"} %d\n", p->id, p->cfg.paused ? 1 : 0);
    EMIT("# TYPE roost_forwarder_request_duration_seconds histogram\n");
    for (pipe_t *p = f->pipes; p; p = p->next) {
        for (int i = 0; i < FWD_LAT_BUCKETS; i++)
            EMIT("roost_forwarder_request_duration_seconds_bucket{pipeline=\"%s\",le=\"%g\"} %llu\n", p->id,
                 FWD_LAT_BOUNDS[i], (unsigned long long)p->lat_bucket[i]);
        EMIT("roost_forwarder_request_duration_seconds_bucket{pipeline=\"%s\",le=\"+Inf\"} %llu\n", p->id,
             (unsigned long long)p->lat_count);
        EMIT("roost_forwarder_request_duration_seconds_sum{pipeline=\"%s\"} %.6f\n", p->id, p->lat_sum);
        EMIT("roost_forwarder_request_duration_seconds_count{pipeline=\"%s\"} %llu\n", p->id,
             (unsigned long long)p->lat_count);
    }
#undef EMIT
    pthread_mutex_lock(&f->mu);
    buf_t old = f->snapshot;
    f->snapshot = b;
    pthread_mutex_unlock(&f->mu);
    buf_fini(&old);
    f->next_metrics = now + 500;
}

static void sample_depths(fwd_t *f)
{
    for (pipe_t *p = f->pipes; p; p = p->next) {
        if (p->gone)
            continue;
        fwd_redis_result(f, pipeq_depth(f->store, p->id, &p->depth, &p->oldest_age_ms), "depth");
        store_pipeline_stats_t st;
        if (store_pipeline_stats(f->store, p->id, &st) == 0)
            p->dropped = st.dropped;
    }
}

int fwd_metrics(fwd_t *f, buf_t *out)
{
    pthread_mutex_lock(&f->mu);
    int rc = buf_append(out, buf_head(&f->snapshot), buf_unread(&f->snapshot));
    pthread_mutex_unlock(&f->mu);
    return rc;
}

bool fwd_healthy(fwd_t *f)
{
    return atomic_load(&f->redis_ok) && fwd_now_ms() - atomic_load(&f->last_tick) < 5000;
}

/* ---- loop ----------------------------------------------------------------- */

static bool drained(const fwd_t *f)
{
    for (const pipe_t *p = f->pipes; p; p = p->next)
        if (p->inflight || (!p->gone && !p->cfg.paused && p->n))
            return false;
    return true;
}

int fwd_run(fwd_t *f, volatile sig_atomic_t *stop)
{
    int64_t drain_until = 0;
    log_info("forwarder_started", "consumer=%s", f->consumer);
    for (;;) {
        int64_t now = fwd_now_ms();
        atomic_store(&f->last_tick, (long long)now);
        if (*stop && !f->draining) {
            f->draining = true;
            drain_until = now + f->conf->drain_ms;
            log_info("draining", "detail=\"SIGTERM: delivering what is held, reading nothing new\"");
        }
        if (f->draining && (drained(f) || now >= drain_until))
            break;
        if (changes_routes_changed(f->changes))
            f->next_routes = now; /* a pipeline or mapping changed: reload now */
        if (!redis_paused(f, now)) {
            if (!f->draining && now >= f->next_routes)
                refresh_routes(f, now);
            for (pipe_t *p = f->pipes; p && !redis_paused(f, now); p = p->next) {
                if (p->gone)
                    continue;
                if (!f->draining && !p->cfg.paused)
                    read_more(f, p, now);
                claim_and_touch(f, p, now);
            }
        }
        for (pipe_t *p = f->pipes; p; p = p->next)
            dispatch(f, p, now);
        int running = 0;
        curl_multi_perform(f->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(f->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            req_t *r = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            send_done(f, r, m->data.result);
        }
        flush_acks(f, fwd_now_ms(), f->draining);
        collect_gone(f);
        if (now >= f->next_metrics) {
            if (!redis_paused(f, now))
                sample_depths(f);
            render(f, now);
        }
        int wait = poll_ms(f, fwd_now_ms());
        if (wait > 0)
            curl_multi_poll(f->multi, NULL, 0, wait, NULL);
    }
    flush_acks(f, fwd_now_ms(), true);
    log_info("forwarder_stopped", "consumer=%s", f->consumer);
    return 0;
}

/* fleet: instance records collected into an hour of history (fleet.h). */
#include "fleet.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/proc.h"
#include "base/ticker.h"
#include "store/instances.h"

typedef enum { GAUGE, RATE } series_type_t;
typedef enum { AGG_SUM, AGG_MAX } series_agg_t;

/* One chart series: read from field (+ field2) of the records of kind
 * (NULL: every kind), as read (GAUGE) or per second (RATE) times scale. */
typedef struct series_def {
    const char *name, *kind, *field, *field2;
    series_type_t type;
    double scale;
    series_agg_t agg; /* across instances, in the overview */
    bool overview;
} series_def_t;

static const series_def_t DEFS[] = {
    {"connections", "broker", "connections", NULL, GAUGE, 1, AGG_SUM, true},
    {"connects_accepted", "broker", "connack_0", NULL, RATE, 1, AGG_SUM, true},
    {"refused_bad_credentials", "broker", "connack_4", NULL, RATE, 1, AGG_SUM, true},
    {"refused_not_authorized", "broker", "connack_5", NULL, RATE, 1, AGG_SUM, true},
    {"refused_unavailable", "broker", "connack_3", NULL, RATE, 1, AGG_SUM, true},
    {"refused_protocol", "broker", "connack_1", "connack_2", RATE, 1, AGG_SUM, true},
    {"messages_in", "broker", "msgs_in", NULL, RATE, 1, AGG_SUM, true},
    {"messages_out", "broker", "msgs_out", NULL, RATE, 1, AGG_SUM, true},
    {"queued", "broker", "queued", NULL, RATE, 1, AGG_SUM, true},
    {"dropped", "broker", "dropped", NULL, RATE, 1, AGG_SUM, true},
    /* every broker holds every retained message: the largest, not the sum */
    {"retained", "broker", "retained", NULL, GAUGE, 1, AGG_MAX, true},
    {"bus_in", "broker", "bus_in", NULL, RATE, 1, AGG_SUM, true},
    {"bus_out", "broker", "bus_out", NULL, RATE, 1, AGG_SUM, true},
    {"auth_requests", "authd", "requests", NULL, RATE, 1, AGG_SUM, true},
    {"cache_hits", "authd", "cache_hits", NULL, RATE, 1, AGG_SUM, true},
    {"cache_misses", "authd", "cache_misses", NULL, RATE, 1, AGG_SUM, true},
    {"cpu_percent", NULL, "cpu_ms", NULL, RATE, 0.1, AGG_SUM, false}, /* ms/s -> % of one core */
    {"rss_bytes", NULL, "rss_bytes", NULL, GAUGE, 1, AGG_SUM, false},
};
#define NDEFS (sizeof(DEFS) / sizeof(DEFS[0]))

typedef struct slot {
    bool used, alive;
    char kind[33], id[256], key[300];
    json_t *rec;               /* last record read (NULL before any) */
    int64_t seen_ms;           /* last put, Redis clock */
    int64_t last_at;           /* at_ms of the record the rates were taken from */
    double prev[NDEFS];        /* counters at last_at */
    bool have_prev;
    float *v;                  /* NDEFS x FLEET_POINTS, NAN where unknown */
} slot_t;

struct fleet {
    char *endpoints;
    store_t *store;            /* the thread's */
    pthread_mutex_t mu;        /* guards everything below */
    bool redis_ok;
    int64_t t[FLEET_POINTS];   /* tick times, unix ms */
    size_t head, count;        /* next index to write; ticks held */
    slot_t slots[FLEET_SLOTS];
    ticker_t *ticker;
};

static bool kind_has(const series_def_t *d, const char *kind)
{
    return !d->kind || !strcmp(d->kind, kind);
}

/* ---- endpoints --------------------------------------------------------------- */

static const char *transport_of(const char *url, size_t n)
{
    static const struct {
        const char *scheme, *name;
    } S[] = {{"mqtt://", "TCP"}, {"mqtts://", "TLS"}, {"ws://", "WebSocket"}, {"wss://", "WebSocket (TLS)"}};
    for (size_t i = 0; i < sizeof(S) / sizeof(S[0]); i++) {
        size_t k = strlen(S[i].scheme);
        if (n > k && !strncmp(url, S[i].scheme, k))
            return S[i].name;
    }
    return NULL;
}

int fleet_check_endpoints(const char *eps, const char **why)
{
    for (const char *p = eps; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!transport_of(p, n)) {
            *why = "each endpoint must be an mqtt://, mqtts://, ws:// or wss:// URL with a host";
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f) {
                *why = "endpoints must not contain spaces or control characters";
                return -1;
            }
        p = end ? end + 1 : p + n;
    }
    return 0;
}

static json_t *endpoints_doc(const char *eps)
{
    json_t *a = json_array();
    for (const char *p = eps; a && p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *tr = transport_of(p, n);
        if (tr)
            json_array_append_new(a, json_pack("{s:s, s:s%}", "transport", tr, "url", p, n));
        p = end ? end + 1 : p + n;
    }
    return a;
}

/* ---- collection ---------------------------------------------------------------- */

static double field(const json_t *rec, const char *name)
{
    const json_t *v = name ? json_object_get(rec, name) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void slot_free(slot_t *s)
{
    json_decref(s->rec);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static slot_t *slot_find(fleet_t *f, const char *key, bool create)
{
    slot_t *free_slot = NULL;
    for (size_t i = 0; i < FLEET_SLOTS; i++) {
        if (f->slots[i].used && !strcmp(f->slots[i].key, key))
            return &f->slots[i];
        if (!f->slots[i].used && !free_slot)
            free_slot = &f->slots[i];
    }
    if (!create || !free_slot)
        return NULL;
    float *v = malloc(sizeof(float) * NDEFS * FLEET_POINTS);
    if (!v)
        return NULL;
    for (size_t i = 0; i < NDEFS * FLEET_POINTS; i++)
        v[i] = NAN;
    *free_slot = (slot_t){.used = true, .v = v};
    return free_slot;
}

/* Fills slot s's values at index `at` from its record (or NAN when down). */
static void sample(fleet_t *f, slot_t *s, size_t at)
{
    size_t prev_idx = (at + FLEET_POINTS - 1) % FLEET_POINTS;
    int64_t rec_at = s->alive ? (int64_t)field(s->rec, "at_ms") : 0;
    bool same = s->alive && s->have_prev && rec_at == s->last_at && f->count > 0;
    for (size_t d = 0; d < NDEFS; d++) {
        float *v = &s->v[d * FLEET_POINTS];
        if (!s->alive || !kind_has(&DEFS[d], s->kind)) {
            v[at] = NAN;
            continue;
        }
        if (same) { /* the record did not change since the last tick */
            v[at] = v[prev_idx];
            continue;
        }
        double cur = field(s->rec, DEFS[d].field);
        if (DEFS[d].field2)
            cur += field(s->rec, DEFS[d].field2);
        if (DEFS[d].type == GAUGE) {
            v[at] = (float)cur;
        } else if (s->have_prev && rec_at > s->last_at && cur >= s->prev[d] && !isnan(s->prev[d])) {
            v[at] = (float)((cur - s->prev[d]) * 1000.0 / (double)(rec_at - s->last_at) * DEFS[d].scale);
        } else {
            v[at] = NAN; /* first record, or counters reset (a restart) */
        }
        s->prev[d] = cur;
    }
    if (s->alive && !same) {
        s->last_at = rec_at;
        s->have_prev = rec_at > 0;
    }
}

void fleet_tick(fleet_t *f)
{
    store_instance_list_t *l = NULL;
    int rc = store_instance_list(f->store, &l);
    int64_t now = (int64_t)proc_wall_ms();
    pthread_mutex_lock(&f->mu);
    f->redis_ok = rc == 0;
    bool seen[FLEET_SLOTS] = {0};
    for (size_t i = 0; l && i < l->n; i++) {
        const store_instance_t *it = &l->items[i];
        char key[300];
        snprintf(key, sizeof(key), "%s:%s", it->kind, it->id);
        slot_t *s = slot_find(f, key, true);
        if (!s)
            continue; /* more than FLEET_SLOTS instances: the rest are not charted */
        seen[s - f->slots] = true;
        snprintf(s->kind, sizeof(s->kind), "%s", it->kind);
        snprintf(s->id, sizeof(s->id), "%s", it->id);
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->seen_ms = it->seen_ms;
        json_t *rec = it->json ? json_loads(it->json, 0, NULL) : NULL;
        if (rec && !json_is_object(rec)) {
            json_decref(rec);
            rec = NULL;
        }
        if (it->json && !rec)
            log_warn("instance_record_malformed", "instance=%s", key);
        s->alive = rec != NULL;
        if (rec) {
            json_decref(s->rec);
            s->rec = rec;
        }
    }
    for (size_t i = 0; i < FLEET_SLOTS; i++) {
        slot_t *s = &f->slots[i];
        if (!s->used)
            continue;
        if (rc == 0 && !seen[i]) {
            slot_free(s); /* gone from the index: unseen for an hour */
            continue;
        }
        if (rc < 0)
            s->alive = false; /* Redis unreachable: nothing is known */
        sample(f, s, f->head);
    }
    f->t[f->head] = now;
    f->head = (f->head + 1) % FLEET_POINTS;
    if (f->count < FLEET_POINTS)
        f->count++;
    pthread_mutex_unlock(&f->mu);
    store_instance_list_free(&l);
}

static void tick(void *arg)
{
    fleet_tick(arg);
}

fleet_t *fleet_new(const fleet_config_t *cfg)
{
    fleet_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->endpoints = strdup(cfg->endpoints ? cfg->endpoints : "");
    f->store = redis_conf_store(cfg->redis, NULL);
    if (!f->endpoints || !f->store) {
        fleet_destroy(&f);
        return NULL;
    }
    store_set_timeouts(f->store, 1000, 1000);
    return f;
}

int fleet_start(fleet_t *f)
{
    return ticker_start(FLEET_TICK_MS, tick, f, &f->ticker);
}

void fleet_destroy(fleet_t **fp)
{
    fleet_t *f = *fp;
    if (!f)
        return;
    *fp = NULL;
    ticker_stop(&f->ticker);
    for (size_t i = 0; i < FLEET_SLOTS; i++)
        if (f->slots[i].used)
            slot_free(&f->slots[i]);
    store_destroy(&f->store);
    free(f->endpoints);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- documents (called with f->mu held) -------------------------------------------- */

static json_t *num_or_null(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(round(v * 1000.0) / 1000.0);
}

/* Index of the i-th tick held, oldest first. */
static size_t tick_idx(const fleet_t *f, size_t i)
{
    return (f->head + FLEET_POINTS - f->count + i) % FLEET_POINTS;
}

static size_t first_after(const fleet_t *f, int64_t since)
{
    size_t i = 0;
    while (i < f->count && f->t[tick_idx(f, i)] <= since)
        i++;
    return i;
}

static json_t *times_doc(const fleet_t *f, size_t from)
{
    json_t *t = json_array();
    for (size_t i = from; t && i < f->count; i++)
        json_array_append_new(t, json_integer(f->t[tick_idx(f, i)]));
    return t;
}

static double latest(const fleet_t *f, const slot_t *s, size_t d)
{
    return f->count ? s->v[d * FLEET_POINTS + tick_idx(f, f->count - 1)] : NAN;
}

static json_t *instance_row(const fleet_t *f, const slot_t *s, int64_t now)
{
    const json_t *rec = s->rec;
    const char *state = !s->alive ? "down" : json_string_value(json_object_get(rec, "state"));
    double started = field(rec, "started_ms");
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:o, s:o}", "key", s->key, "kind", s->kind, "id", s->id,
                          "state", state ? state : "serving", "version",
                          json_string_value(json_object_get(rec, "version")), "seen_ms", (json_int_t)s->seen_ms,
                          "started_ms", num_or_null(started), "uptime_s",
                          s->alive && !isnan(started) ? json_integer((now - (int64_t)started) / 1000) : json_null());
    if (!o)
        return NULL;
    const char *mqtt = json_string_value(json_object_get(rec, "mqtt"));
    if (mqtt)
        json_object_set_new(o, "mqtt", json_string(mqtt));
    for (size_t d = 0; d < NDEFS; d++)
        if (kind_has(&DEFS[d], s->kind))
            json_object_set_new(o, DEFS[d].name, num_or_null(latest(f, s, d)));
    /* the figures read now, not per second */
    static const char *const RAW[] = {"msgs_in", "msgs_out", "requests", "cache_hits", "cache_misses"};
    json_t *totals = json_object();
    for (size_t i = 0; totals && s->alive && i < sizeof(RAW) / sizeof(RAW[0]); i++)
        if (json_is_number(json_object_get(rec, RAW[i])))
            json_object_set(totals, RAW[i], json_object_get(rec, RAW[i]));
    json_object_set_new(o, "totals", totals ? totals : json_null());
    /* a broker's shared-subscription groups with members there (issue 16) */
    json_t *shared = s->alive ? json_object_get(rec, "shared") : NULL;
    if (json_is_array(shared))
        json_object_set(o, "shared", shared);
    return o;
}

static int cmp_rows(const void *a, const void *b)
{
    const slot_t *x = *(slot_t *const *)a, *y = *(slot_t *const *)b;
    int k = strcmp(x->kind, y->kind);
    return k ? k : strcmp(x->id, y->id);
}

/* Used slots sorted by (kind, id) into out; returns how many. */
static size_t sorted_slots(fleet_t *f, slot_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < FLEET_SLOTS; i++)
        if (f->slots[i].used)
            out[n++] = &f->slots[i];
    qsort(out, n, sizeof(*out), cmp_rows);
    return n;
}

static json_t *rows_doc(fleet_t *f)
{
    slot_t *sl[FLEET_SLOTS];
    size_t n = sorted_slots(f, sl);
    int64_t now = (int64_t)proc_wall_ms();
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, instance_row(f, sl[i], now));
    return a;
}

json_t *fleet_instances(fleet_t *f)
{
    pthread_mutex_lock(&f->mu);
    json_t *o = json_pack("{s:o, s:i, s:b}", "instances", rows_doc(f), "interval_ms", FLEET_TICK_MS, "redis_reachable",
                          f->redis_ok);
    pthread_mutex_unlock(&f->mu);
    return o;
}

json_t *fleet_instance(fleet_t *f, const char *key, int64_t since_ms, bool *found)
{
    pthread_mutex_lock(&f->mu);
    slot_t *s = key ? slot_find(f, key, false) : NULL;
    *found = s != NULL;
    json_t *o = NULL;
    if (s) {
        size_t from = first_after(f, since_ms);
        json_t *series = json_object();
        json_object_set_new(series, "t", times_doc(f, from));
        for (size_t d = 0; series && d < NDEFS; d++) {
            if (!kind_has(&DEFS[d], s->kind))
                continue;
            json_t *a = json_array();
            for (size_t i = from; a && i < f->count; i++)
                json_array_append_new(a, num_or_null(s->v[d * FLEET_POINTS + tick_idx(f, i)]));
            json_object_set_new(series, DEFS[d].name, a);
        }
        o = json_pack("{s:o, s:i, s:o}", "instance", instance_row(f, s, (int64_t)proc_wall_ms()), "interval_ms", FLEET_TICK_MS,
                      "series", series);
    }
    pthread_mutex_unlock(&f->mu);
    return o;
}

/* Sum (or max) of series d over the instances at tick index at; NAN when
 * no instance has a value there. */
static double aggregate(const fleet_t *f, size_t d, size_t at)
{
    double acc = NAN;
    for (size_t i = 0; i < FLEET_SLOTS; i++) {
        const slot_t *s = &f->slots[i];
        if (!s->used || !kind_has(&DEFS[d], s->kind))
            continue;
        double v = s->v[d * FLEET_POINTS + at];
        if (isnan(v))
            continue;
        acc = isnan(acc) ? v : DEFS[d].agg == AGG_MAX ? fmax(acc, v) : acc + v;
    }
    return acc;
}

static size_t def_index(const char *name)
{
    for (size_t d = 0; d < NDEFS; d++)
        if (!strcmp(DEFS[d].name, name))
            return d;
    return 0;
}

static json_t *cluster_doc(const fleet_t *f)
{
    json_t *c = json_pack("{s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i}}", "broker", "up", 0,
                          "draining", 0, "down", 0, "authd", "up", 0, "draining", 0, "down", 0, "forwarder", "up", 0,
                          "draining", 0, "down", 0);
    for (size_t i = 0; c && i < FLEET_SLOTS; i++) {
        const slot_t *s = &f->slots[i];
        if (!s->used)
            continue;
        json_t *k = json_object_get(c, s->kind);
        if (!k)
            json_object_set_new(c, s->kind, k = json_pack("{s:i, s:i, s:i}", "up", 0, "draining", 0, "down", 0));
        const char *st = json_string_value(json_object_get(s->rec, "state"));
        const char *bucket = !s->alive ? "down" : st && !strcmp(st, "draining") ? "draining" : "up";
        json_object_set_new(k, bucket, json_integer(json_integer_value(json_object_get(k, bucket)) + 1));
    }
    return c;
}

/* Figures read now from the live instances' records. */
static json_t *now_doc(const fleet_t *f)
{
    static const struct {
        const char *name, *kind, *field;
    } T[] = {
        {"connections", "broker", "connections"},           {"messages_in_total", "broker", "msgs_in"},
        {"messages_out_total", "broker", "msgs_out"},       {"connects_accepted_total", "broker", "connack_0"},
        {"auth_requests_total", "authd", "requests"},       {"cache_hits_total", "authd", "cache_hits"},
        {"cache_misses_total", "authd", "cache_misses"},
    };
    json_t *o = json_object();
    for (size_t t = 0; o && t < sizeof(T) / sizeof(T[0]); t++) {
        double sum = 0;
        for (size_t i = 0; i < FLEET_SLOTS; i++) {
            const slot_t *s = &f->slots[i];
            double v = s->used && s->alive && !strcmp(s->kind, T[t].kind) ? field(s->rec, T[t].field) : NAN;
            if (!isnan(v))
                sum += v;
        }
        json_object_set_new(o, T[t].name, json_integer((json_int_t)sum));
    }
    double refused = 0, retained = 0;
    for (size_t i = 0; i < FLEET_SLOTS; i++) {
        const slot_t *s = &f->slots[i];
        if (!s->used || !s->alive || strcmp(s->kind, "broker"))
            continue;
        for (int code = 1; code <= 5; code++) {
            char name[16];
            snprintf(name, sizeof(name), "connack_%d", code);
            double v = field(s->rec, name);
            refused += isnan(v) ? 0 : v;
        }
        double r = field(s->rec, "retained");
        retained = isnan(r) ? retained : fmax(retained, r);
    }
    json_object_set_new(o, "connects_refused_total", json_integer((json_int_t)refused));
    json_object_set_new(o, "retained", json_integer((json_int_t)retained));
    return o;
}

json_t *fleet_overview(fleet_t *f, int64_t since_ms)
{
    pthread_mutex_lock(&f->mu);
    size_t from = first_after(f, since_ms);
    json_t *series = json_object();
    json_object_set_new(series, "t", times_doc(f, from));
    for (size_t d = 0; series && d < NDEFS; d++) {
        if (!DEFS[d].overview)
            continue;
        json_t *a = json_array();
        for (size_t i = from; a && i < f->count; i++)
            json_array_append_new(a, num_or_null(aggregate(f, d, tick_idx(f, i))));
        json_object_set_new(series, DEFS[d].name, a);
    }
    size_t hits = def_index("cache_hits"), misses = def_index("cache_misses");
    json_t *ratio = json_array();
    for (size_t i = from; ratio && i < f->count; i++) {
        double h = aggregate(f, hits, tick_idx(f, i)), m = aggregate(f, misses, tick_idx(f, i));
        json_array_append_new(ratio, num_or_null(h + m > 0 ? h / (h + m) : NAN));
    }
    json_object_set_new(series, "cache_hit_ratio", ratio);
    json_t *cluster = cluster_doc(f);
    if (cluster)
        json_object_set_new(cluster, "redis", json_string(f->redis_ok ? "reachable" : "unreachable"));
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:i, s:o}", "endpoints", endpoints_doc(f->endpoints), "cluster",
                          cluster, "now", now_doc(f), "instances", rows_doc(f), "interval_ms", FLEET_TICK_MS,
                          "series", series);
    pthread_mutex_unlock(&f->mu);
    return o;
}

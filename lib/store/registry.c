/* registry: live connections kept by brokers (registry.h). */
#include "store/registry.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store_priv.h"

/* Drops expired brokers, then returns [broker, mqtt id, json, ...]. */
static const char LIST_LUA[] =
    "local z = ARGV[1]..'conns:brokers'\n"
    "redis.call('ZREMRANGEBYSCORE', z, '-inf', '('..ARGV[2])\n"
    "local out = {}\n"
    "for _, b in ipairs(redis.call('ZRANGE', z, 0, -1)) do\n"
    "  local kv = redis.call('HGETALL', ARGV[1]..'conns:'..b)\n"
    "  for i = 1, #kv, 2 do\n"
    "    out[#out+1] = b; out[#out+1] = kv[i]; out[#out+1] = kv[i+1]\n"
    "  end\n"
    "end\n"
    "return out\n";

static const char FIND_LUA[] =
    "for _, b in ipairs(redis.call('ZRANGEBYSCORE', ARGV[1]..'conns:brokers', ARGV[2], '+inf')) do\n"
    "  if redis.call('HEXISTS', ARGV[1]..'conns:'..b, ARGV[3]) == 1 then return b end\n"
    "end\n"
    "return false\n";

/* EVAL script with ARGV = prefix, args... Both scripts only read, but for
 * LIST's dropping of expired brokers from the index (done again by the
 * next list should a failover lose it): nothing to WAIT for. */
static int run(store_t *s, const char *script, int argc, const char **args, redisReply **out)
{
    const char *argv[12] = {"EVAL", script, "0", store_prefix(s)};
    size_t lens[12] = {4, strlen(script), 1, strlen(store_prefix(s))};
    for (int i = 0; i < argc && i < 8; i++) {
        argv[4 + i] = args[i];
        lens[4 + i] = strlen(args[i]);
    }
    return store_cmd_unwaited(s, 4 + argc, argv, lens, out);
}

int store_conn_find(store_t *s, const char *mqtt_client_id, char **broker_out)
{
    store_err_reset(s);
    *broker_out = NULL;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    const char *args[] = {now, mqtt_client_id ? mqtt_client_id : ""};
    redisReply *r = NULL;
    int rc = run(s, FIND_LUA, 2, args, &r);
    if (rc < 0)
        return rc;
    const char *b = store_rstr(r);
    if (!b)
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, "no such connection");
    else if (!(*broker_out = strdup(b)))
        rc = store_fail(s, -ENOMEM, NULL, NULL);
    freeReplyObject(r);
    return rc;
}

/* ---- listing ------------------------------------------------------------ */

typedef struct row {
    const char *broker, *mqtt, *json;
} row_t;

typedef struct owned {
    json_t **docs;
    const char ***groups;
    size_t n;
} owned_t;

static int row_cmp(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->mqtt, y->mqtt);
    return c ? c : strcmp(x->broker, y->broker);
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (!strncasecmp(p, needle, n))
            return true;
    return n == 0;
}

static void hex_into(char *out, const char *s)
{
    for (; *s; s++, out += 2)
        sprintf(out, "%02x", (unsigned char)*s);
    *out = '\0';
}

/* Cursor: hex(mqtt id) "." hex(broker) of the last row returned. */
static char *make_cursor(const row_t *r)
{
    char *c = malloc(strlen(r->mqtt) * 2 + strlen(r->broker) * 2 + 2);
    if (c) {
        hex_into(c, r->mqtt);
        strcat(c, ".");
        hex_into(c + strlen(c), r->broker);
    }
    return c;
}

static char *unhex(const char *h, size_t n)
{
    if (n % 2)
        return NULL;
    char *o = malloc(n / 2 + 1);
    for (size_t i = 0; o && i < n / 2; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)h[2 * i]) || !isxdigit((unsigned char)h[2 * i + 1]) ||
            sscanf(h + 2 * i, "%2x", &v) != 1 || v == 0) {
            free(o);
            return NULL;
        }
        o[i] = (char)v;
    }
    if (o)
        o[n / 2] = '\0';
    return o;
}

static int parse_cursor(const char *cur, row_t *after, char **m, char **b)
{
    const char *dot = strchr(cur, '.');
    if (!dot || !(*m = unhex(cur, (size_t)(dot - cur))) || !(*b = unhex(dot + 1, strlen(dot + 1))))
        return ROOST_EINVAL;
    after->mqtt = *m;
    after->broker = *b;
    return 0;
}

static int fill_item(store_conn_page_t *p, owned_t *o, const row_t *r)
{
    json_t *d = json_loads(r->json, 0, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        return ROOST_ESTORE;
    }
    size_t i = o->n++;
    o->docs[i] = d;
    json_t *g = json_object_get(d, "groups");
    size_t ng = json_is_array(g) ? json_array_size(g) : 0;
    o->groups[i] = calloc(ng + 1, sizeof(char *));
    if (!o->groups[i])
        return -ENOMEM;
    for (size_t k = 0; k < ng; k++)
        o->groups[i][k] = json_string_value(json_array_get(g, k)) ? json_string_value(json_array_get(g, k)) : "";
    store_conn_t *c = &p->items[p->n++];
    const char *cid = json_string_value(json_object_get(d, "client_id"));
    const char *user = json_string_value(json_object_get(d, "username"));
    const char *peer = json_string_value(json_object_get(d, "peer"));
    const char *transport = json_string_value(json_object_get(d, "transport"));
    *c = (store_conn_t){
        .mqtt_client_id = r->mqtt,
        .client_id = cid ? cid : "",
        .username = user ? user : "",
        .peer = peer ? peer : "",
        .transport = transport ? transport : "",
        .protocol = (int)json_integer_value(json_object_get(d, "protocol")),
        .keepalive = (int)json_integer_value(json_object_get(d, "keepalive")),
        .connected_at = json_integer_value(json_object_get(d, "connected_at")),
        .broker = r->broker,
        .groups = o->groups[i],
        .n_groups = ng,
    };
    return 0;
}

/* Page from the rows (sorted, filtered). The items point into reply strings
 * and docs, so the reply is kept in owned too: see store_conn_page_free. */
static int build_page(store_t *s, row_t *rows, size_t n, const row_t *after, size_t limit,
                      store_conn_page_t *p, owned_t *o)
{
    size_t start = 0;
    while (after && start < n && row_cmp(&rows[start], after) <= 0)
        start++;
    size_t take = n - start < limit ? n - start : limit;
    p->total = n;
    p->items = calloc(take + 1, sizeof(*p->items));
    o->docs = calloc(take + 1, sizeof(*o->docs));
    o->groups = calloc(take + 1, sizeof(*o->groups));
    if (!p->items || !o->docs || !o->groups)
        return store_fail(s, -ENOMEM, NULL, NULL);
    for (size_t i = 0; i < take; i++) {
        row_t *r = &rows[start + i];
        /* copies: the reply is freed before returning */
        char *dup = malloc(strlen(r->mqtt) + strlen(r->broker) + 2);
        if (!dup)
            return store_fail(s, -ENOMEM, NULL, NULL);
        strcpy(dup, r->mqtt);
        strcpy(dup + strlen(r->mqtt) + 1, r->broker);
        row_t copy = {.mqtt = dup, .broker = dup + strlen(r->mqtt) + 1, .json = r->json};
        int rc = fill_item(p, o, &copy);
        if (rc < 0) {
            free(dup);
            return store_fail(s, rc, NULL, rc == ROOST_ESTORE ? "malformed connection record" : NULL);
        }
    }
    if (start + take < n && take > 0 && !(p->next_cursor = make_cursor(&rows[start + take - 1])))
        return store_fail(s, -ENOMEM, NULL, NULL);
    return 0;
}

int store_conn_list(store_t *s, const char *cursor, size_t limit, const char *search,
                    store_conn_page_t **out)
{
    store_err_reset(s);
    *out = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return store_fail(s, ROOST_EINVAL, "limit", "must be 1-1000");
    row_t after = {0};
    char *am = NULL, *ab = NULL;
    if (cursor && *cursor && parse_cursor(cursor, &after, &am, &ab) < 0) {
        free(am);
        return store_fail(s, ROOST_EINVAL, "cursor", "is not a cursor from this list");
    }
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)store_now_ms());
    const char *args[] = {now};
    redisReply *r = NULL;
    row_t *rows = NULL;
    store_conn_page_t *p = calloc(1, sizeof(*p));
    owned_t *o = calloc(1, sizeof(*o));
    int rc = p && o ? run(s, LIST_LUA, 1, args, &r) : store_fail(s, -ENOMEM, NULL, NULL);
    if (rc < 0)
        goto done;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 3) {
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected registry reply");
        goto done;
    }
    size_t n = 0;
    rows = calloc(r->elements / 3 + 1, sizeof(*rows));
    if (!rows) {
        rc = store_fail(s, -ENOMEM, NULL, NULL);
        goto done;
    }
    for (size_t i = 0; i + 2 < r->elements; i += 3) {
        row_t row = {store_rstr(r->element[i]), store_rstr(r->element[i + 1]), store_rstr(r->element[i + 2])};
        if (row.broker && row.mqtt && row.json && (!search || contains_ci(row.mqtt, search)))
            rows[n++] = row;
    }
    qsort(rows, n, sizeof(*rows), row_cmp);
    p->owned_ = o;
    rc = build_page(s, rows, n, am ? &after : NULL, limit, p, o);
done:
    free(rows);
    freeReplyObject(r);
    free(am);
    free(ab);
    if (p && !p->owned_)
        free(o);
    if (rc < 0)
        store_conn_page_free(&p);
    else
        *out = p;
    return rc;
}

void store_conn_page_free(store_conn_page_t **pp)
{
    if (!pp || !*pp)
        return;
    store_conn_page_t *p = *pp;
    owned_t *o = p->owned_;
    for (size_t i = 0; i < p->n; i++)
        free((char *)p->items[i].mqtt_client_id); /* one block: mqtt id, then broker */
    if (o) {
        for (size_t i = 0; i < o->n; i++) {
            json_decref(o->docs[i]);
            free(o->groups[i]);
        }
        free(o->docs);
        free(o->groups);
        free(o);
    }
    free(p->items);
    free(p->next_cursor);
    free(p);
    *pp = NULL;
}

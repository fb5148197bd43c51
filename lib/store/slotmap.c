/* slotmap: the slot -> primary map of a Redis Cluster (see slotmap.h). */
#include "store/slotmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/cfg.h"
#include "base/err.h"

void slotmap_clear(slotmap_t *m)
{
    free(m->nodes);
    m->nodes = NULL;
    m->n_nodes = 0;
    for (size_t i = 0; i < SLOT_COUNT; i++)
        m->owner[i] = SLOTMAP_NONE;
}

int slotmap_find(const slotmap_t *m, const char *host, int port)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].port == port && !strcmp(m->nodes[i].host, host))
            return (int)i;
    return -1;
}

int slotmap_seeds_parse(const char *list, slotmap_addr_t **out, size_t *n, FILE *err)
{
    *out = NULL;
    *n = 0;
    slotmap_addr_t *v = calloc(SLOTMAP_MAX_NODES, sizeof(*v));
    if (!v)
        return -ENOMEM;
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, ",");
        char one[300];
        if (len == 0 || len >= sizeof(one) || *n == SLOTMAP_MAX_NODES) {
            fprintf(err, "error: --redis-cluster: %s\n",
                    len == 0 ? "an empty entry" : "too many nodes or too long an entry");
            free(v);
            return ROOST_ECONFIG;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (cfg_host_port("redis-cluster", one, v[*n].host, sizeof(v[*n].host), &v[*n].port, err) < 0) {
            free(v);
            return ROOST_ECONFIG;
        }
        (*n)++;
        p += len;
        if (*p == ',' && !*++p) {
            fprintf(err, "error: --redis-cluster: an empty entry\n");
            free(v);
            return ROOST_ECONFIG;
        }
    }
    if (*n == 0) {
        fprintf(err, "error: --redis-cluster: expected HOST:PORT,..., got ''\n");
        free(v);
        return ROOST_ECONFIG;
    }
    *out = v;
    return 0;
}

int slotmap_base_new(size_t size, const char *list, const char *prefix, slotmap_base_t **out)
{
    slotmap_base_t *b = calloc(1, size < sizeof(*b) ? sizeof(*b) : size);
    if (!b)
        return -ENOMEM;
    int rc = slotmap_seeds_parse(list, &b->seeds, &b->n_seeds, stderr);
    if (rc < 0) {
        free(b);
        return rc == -ENOMEM ? rc : ROOST_EINVAL;
    }
    slotmap_clear(&b->map);
    b->gslot = slot_of(prefix, strlen(prefix));
    *out = b;
    return 0;
}

void slotmap_base_free(slotmap_base_t *b)
{
    if (!b)
        return;
    slotmap_clear(&b->map);
    free(b->seeds);
    free(b);
}

static int add_node(slotmap_t *m, const redisReply *h, const redisReply *p, const slotmap_addr_t *via)
{
    if (h->type != REDIS_REPLY_STRING || p->type != REDIS_REPLY_INTEGER || p->integer < 1 ||
        p->integer > 65535 || h->len >= sizeof(m->nodes[0].host))
        return -1;
    const char *host = (h->len == 0 || !strcmp(h->str, "?")) ? via->host : h->str;
    int i = slotmap_find(m, host, (int)p->integer);
    if (i >= 0)
        return i;
    if (m->n_nodes == SLOTMAP_MAX_NODES)
        return -1;
    slotmap_addr_t *a = &m->nodes[m->n_nodes];
    snprintf(a->host, sizeof(a->host), "%s", host);
    a->port = (int)p->integer;
    a->replicas = -1;
    return (int)m->n_nodes++;
}

int slotmap_parse(slotmap_t *m, const redisReply *r, const slotmap_addr_t *via)
{
    slotmap_clear(m);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return -1;
    m->nodes = calloc(SLOTMAP_MAX_NODES, sizeof(*m->nodes));
    if (!m->nodes)
        return -1;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2)
            goto bad;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        if (lo < 0 || hi < lo || hi >= (long long)SLOT_COUNT)
            goto bad;
        int node = add_node(m, e->element[2]->element[0], e->element[2]->element[1], via);
        if (node < 0)
            goto bad;
        int reps = (int)e->elements - 3; /* after lo, hi and the primary */
        if (m->nodes[node].replicas < 0 || reps < m->nodes[node].replicas)
            m->nodes[node].replicas = reps;
        for (long long s = lo; s <= hi; s++)
            m->owner[s] = (uint16_t)node;
    }
    for (size_t s = 0; s < SLOT_COUNT; s++)
        if (m->owner[s] == SLOTMAP_NONE)
            goto bad;
    return 0;
bad:
    slotmap_clear(m);
    return -1;
}

/* One node: 0 and *out filled, or -1 with err. */
static int ask(const slotmap_addr_t *a, const redis_auth_t *auth, int timeout_ms, slotmap_t *out, char *err,
               size_t errlen)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "%s:%d: %s", a->host, a->port, c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    const char *argv[3];
    int argc = auth ? redis_auth_argv(auth, argv) : 0;
    redisReply *r = NULL;
    if (argc) {
        r = redisCommandArgv(c, argc, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "%s:%d: AUTH: %s", a->host, a->port, r ? r->str : c->errstr);
            freeReplyObject(r);
            redisFree(c);
            return -1;
        }
        freeReplyObject(r);
    }
    r = redisCommand(c, "CLUSTER SLOTS");
    int rc = -1;
    if (!r || r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "%s:%d: CLUSTER SLOTS: %s", a->host, a->port, r ? r->str : c->errstr);
    else if ((rc = slotmap_parse(out, r, a)) < 0)
        snprintf(err, errlen, "%s:%d: CLUSTER SLOTS does not cover every slot", a->host, a->port);
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

int slotmap_discover(slotmap_t *m, const slotmap_addr_t *seeds, size_t n, const redis_auth_t *auth,
                     int timeout_ms, char *err, size_t errlen)
{
    slotmap_t *got = malloc(sizeof(*got));
    if (!got) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    got->nodes = NULL;
    got->n_nodes = 0;
    snprintf(err, errlen, "no node to ask");
    size_t known = m->n_nodes;
    for (size_t i = 0; i < known + n; i++) {
        const slotmap_addr_t *a = i < known ? &m->nodes[i] : &seeds[i - known];
        if (ask(a, auth, timeout_ms, got, err, errlen) == 0) {
            free(m->nodes);
            *m = *got;
            free(got);
            return 0;
        }
    }
    slotmap_clear(got);
    free(got);
    return -1;
}

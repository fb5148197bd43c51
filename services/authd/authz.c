#include "authz.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/loop.h"

/* One group of a snapshot: its ACL already in reply form. */
typedef struct authz_group {
    const char *id; /* owned by snap->groups */
    rpc_acl_entry_t *acl;
    size_t n_acl;
    uint64_t max_msg_rate, max_byte_rate; /* 0: none */
} authz_group_t;

struct authz_snap {
    atomic_uint refs;
    int64_t version;
    bool consistent;          /* rules and groups read at the same version */
    uint64_t loaded_ms;       /* monotonic */
    store_rule_list_t *rules;
    store_group_list_t *groups;
    rules_compiled_t compiled;
    authz_group_t *by_id;     /* sorted by id, for bsearch */
    size_t n_by_id;
    rpc_acl_entry_t *acl_all; /* backing store of every by_id[i].acl */
};

struct authz_cache {
    pthread_mutex_t mu;
    authz_snap_t *cur; /* holds one reference */
};

/* ---- snapshots ---------------------------------------------------------- */

static void snap_free(authz_snap_t *sn)
{
    rules_compiled_fini(&sn->compiled);
    store_rule_list_free(&sn->rules);
    store_group_list_free(&sn->groups);
    free(sn->by_id);
    free(sn->acl_all);
    free(sn);
}

void authz_snap_release(authz_snap_t **sp)
{
    authz_snap_t *sn = *sp;
    *sp = NULL;
    if (sn && atomic_fetch_sub_explicit(&sn->refs, 1, memory_order_acq_rel) == 1)
        snap_free(sn);
}

int64_t authz_snap_version(const authz_snap_t *sn)
{
    return sn->version;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const authz_group_t *)a)->id, ((const authz_group_t *)b)->id);
}

static rpc_acl_permission_t map_permission(store_permission_t p)
{
    return p == STORE_ALLOW ? RPC_ACL_ALLOW : RPC_ACL_DENY;
}

static rpc_acl_action_t map_action(store_action_t a)
{
    switch (a) {
    case STORE_PUBLISH: return RPC_ACL_PUBLISH;
    case STORE_SUBSCRIBE: return RPC_ACL_SUBSCRIBE;
    case STORE_BOTH: return RPC_ACL_BOTH;
    }
    return RPC_ACL_BOTH; /* unreachable: store validates actions */
}

/* Group index and reply-form ACLs. 0 or -ENOMEM. */
static int snap_index(authz_snap_t *sn)
{
    const store_group_list_t *gl = sn->groups;
    size_t total = 0;
    for (size_t g = 0; g < gl->n; g++)
        total += gl->items[g].n_acl;
    sn->by_id = malloc((gl->n ? gl->n : 1) * sizeof(*sn->by_id));
    sn->acl_all = malloc((total ? total : 1) * sizeof(*sn->acl_all));
    if (!sn->by_id || !sn->acl_all)
        return -ENOMEM;
    size_t k = 0;
    for (size_t g = 0; g < gl->n; g++) {
        const store_group_t *grp = &gl->items[g];
        sn->by_id[g] = (authz_group_t){.id = grp->id, .acl = &sn->acl_all[k], .n_acl = grp->n_acl,
                                       .max_msg_rate = (uint64_t)grp->max_msg_rate,
                                       .max_byte_rate = (uint64_t)grp->max_byte_rate};
        for (size_t a = 0; a < grp->n_acl; a++)
            sn->acl_all[k++] = (rpc_acl_entry_t){.permission = map_permission(grp->acl[a].permission),
                                                 .action = map_action(grp->acl[a].action),
                                                 .topic = grp->acl[a].topic};
    }
    sn->n_by_id = gl->n;
    qsort(sn->by_id, sn->n_by_id, sizeof(*sn->by_id), cmp_group);
    return 0;
}

/* Every rule, then every group a rule names: two atomic reads. *out has one
 * reference; (*out)->consistent says whether both reads saw one version. */
static int snap_load(store_t *s, authz_snap_t **out)
{
    *out = NULL;
    authz_snap_t *sn = calloc(1, sizeof(*sn));
    if (!sn)
        return -ENOMEM;
    atomic_init(&sn->refs, 1);
    const char **ids = NULL;
    int rc = store_rule_list_all(s, &sn->rules);
    if (!rc)
        rc = rules_compile(sn->rules, &sn->compiled);
    if (!rc && !(ids = malloc((sn->compiled.n_ids ? sn->compiled.n_ids : 1) * sizeof(*ids))))
        rc = -ENOMEM;
    if (rc)
        goto fail;
    size_t n = 0;
    for (size_t i = 0; i < sn->compiled.n_ids; i++)
        ids[n++] = sn->compiled.ids[i].ptr;
    qsort(ids, n, sizeof(*ids), cmp_str);
    size_t u = 0; /* distinct ids */
    for (size_t i = 0; i < n; i++)
        if (!u || strcmp(ids[u - 1], ids[i]))
            ids[u++] = ids[i];
    rc = store_group_get_many(s, ids, u, &sn->groups);
    free(ids);
    if (rc || (rc = snap_index(sn)))
        goto fail;
    sn->consistent = sn->rules->config_version == sn->groups->config_version;
    /* The version the groups (and so the ACLs in a reply) were read at. */
    sn->version = sn->groups->config_version;
    sn->loaded_ms = loop_clock_ms();
    *out = sn;
    return 0;
fail:
    snap_free(sn);
    return rc;
}

/* ---- cache ---------------------------------------------------------------- */

authz_cache_t *authz_cache_new(void)
{
    authz_cache_t *c = calloc(1, sizeof(*c));
    if (c && pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        c = NULL;
    }
    return c;
}

void authz_cache_destroy(authz_cache_t **cp)
{
    authz_cache_t *c = *cp;
    if (!c)
        return;
    authz_snap_release(&c->cur);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *cp = NULL;
}

size_t authz_cache_drop(authz_cache_t *c)
{
    pthread_mutex_lock(&c->mu);
    authz_snap_t *old = c->cur;
    c->cur = NULL;
    pthread_mutex_unlock(&c->mu);
    size_t dropped = old ? 1 : 0;
    authz_snap_release(&old);
    return dropped;
}

int64_t authz_cache_version(authz_cache_t *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t v = c->cur ? c->cur->version : -1;
    pthread_mutex_unlock(&c->mu);
    return v;
}

static authz_snap_t *cache_get(authz_cache_t *c, int64_t version, uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    authz_snap_t *sn = c->cur;
    if (sn && sn->version == version && now_ms - sn->loaded_ms < AUTHZ_MAX_AGE_MS)
        atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
    else
        sn = NULL;
    pthread_mutex_unlock(&c->mu);
    return sn;
}

/* Only consistent snapshots get here; the cache takes its own reference. */
static void cache_install(authz_cache_t *c, authz_snap_t *sn)
{
    atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&c->mu);
    authz_snap_t *old = c->cur;
    c->cur = sn;
    pthread_mutex_unlock(&c->mu);
    authz_snap_release(&old);
}

int authz_resolve(authz_cache_t *c, store_t *s, int64_t version, metrics_t *m, authz_snap_t **out)
{
    if ((*out = cache_get(c, version, loop_clock_ms()))) {
        metrics_inc(m, MET_AUTHZ_HIT);
        return 0;
    }
    for (int attempt = 1;; attempt++) {
        authz_snap_t *sn;
        int rc = snap_load(s, &sn);
        if (rc)
            return rc;
        if (sn->consistent) {
            metrics_inc(m, MET_AUTHZ_RELOAD);
            cache_install(c, sn);
            *out = sn;
            return 0;
        }
        metrics_inc(m, MET_AUTHZ_INCONSISTENT);
        if (attempt >= AUTHZ_LOAD_TRIES) {
            *out = sn; /* this request only; never cached */
            return 0;
        }
        authz_snap_release(&sn);
    }
}

/* ---- evaluation ------------------------------------------------------------- */

static const authz_group_t *find_group(const authz_snap_t *sn, const char *id)
{
    authz_group_t key = {.id = id};
    return bsearch(&key, sn->by_id, sn->n_by_id, sizeof(*sn->by_id), cmp_group);
}

#define STACK_GROUPS 64

int authz_eval(const authz_snap_t *sn, const rules_facts_t *f, const char ***ids_out, size_t *n_ids,
               rpc_acl_entry_t **acl_out, size_t *n_acl)
{
    *ids_out = NULL;
    *acl_out = NULL;
    *n_ids = *n_acl = 0;
    size_t cap = sn->compiled.n_ids < RPC_MAX_GROUPS ? sn->compiled.n_ids : RPC_MAX_GROUPS;
    grouprule_str_t stack[STACK_GROUPS];
    grouprule_str_t *matched = cap <= STACK_GROUPS ? stack : malloc(cap * sizeof(*matched));
    if (!matched)
        return -ENOMEM;
    int rc = rules_eval(&sn->compiled, f, matched, cap);
    if (rc < 0)
        goto done;
    size_t n = (size_t)rc, total = 0, found = 0;
    const authz_group_t *stack_groups[STACK_GROUPS];
    const authz_group_t **groups = n <= STACK_GROUPS ? stack_groups : malloc(n * sizeof(*groups));
    if (!groups) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const authz_group_t *g = find_group(sn, matched[i].ptr); /* ids are NUL-terminated */
        if (g) { /* a group that does not exist is skipped, as store_group_get_many does */
            groups[found++] = g;
            total += g->n_acl;
        }
    }
    const char **ids = malloc((found ? found : 1) * sizeof(*ids));
    rpc_acl_entry_t *acl = total <= RPC_MAX_ACL ? malloc((total ? total : 1) * sizeof(*acl)) : NULL;
    if (total > RPC_MAX_ACL || !ids || !acl) {
        rc = total > RPC_MAX_ACL ? ROOST_ELIMIT : -ENOMEM;
        free(ids);
        free(acl);
    } else {
        size_t k = 0;
        for (size_t i = 0; i < found; i++) {
            ids[i] = groups[i]->id;
            memcpy(&acl[k], groups[i]->acl, groups[i]->n_acl * sizeof(*acl));
            k += groups[i]->n_acl;
        }
        *ids_out = ids;
        *n_ids = found;
        *acl_out = acl;
        *n_acl = total;
        rc = 0;
    }
    if (groups != stack_groups)
        free(groups);
done:
    if (matched != stack)
        free(matched);
    return rc;
}

void authz_rates(const authz_snap_t *sn, const char *const *ids, size_t n, uint64_t *msgs,
                 uint64_t *bytes)
{
    *msgs = *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const authz_group_t *g = find_group(sn, ids[i]);
        if (g && g->max_msg_rate > *msgs)
            *msgs = g->max_msg_rate;
        if (g && g->max_byte_rate > *bytes)
            *bytes = g->max_byte_rate;
    }
}

bool authz_client_id_allowed(const authz_snap_t *sn, const rules_facts_t *f, const char *username)
{
    return rules_client_id_allowed(&sn->compiled, f, username);
}

/* ops: admin's operations layer: store pool, tokens, audit, connections,
 * dispatch, error mapping (ops.h). */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "crud.h"
#include "doc.h"
#include "explain.h"
#include "pipes.h"
#include "store/audit.h"
#include "store/registry.h"
#include "store/tokens.h"

#define TOKEN_PREFIX "roost_"

struct ops {
    char *host, *prefix;
    int port;
    store_cost_t cost;
    events_t *events;
    fleet_t *fleet;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store_t **idle;
    int n_idle, n;
    atomic_bool tokens_ready;  /* a token exists in the store (bootstrap done) */
    bool has_seal;
    uint8_t seal[32];          /* ops_tls_seal */
};

ops_t *ops_new(const ops_config_t *cfg, events_t *events)
{
    ops_t *o = calloc(1, sizeof(*o));
    int n = cfg->pool_size > 0 ? cfg->pool_size : 4;
    if (!o || !(o->idle = calloc((size_t)n, sizeof(store_t *))) || !(o->host = strdup(cfg->redis->host)) ||
        !(o->prefix = strdup(cfg->redis->prefix ? cfg->redis->prefix : STORE_DEFAULT_PREFIX)))
        goto fail;
    o->port = cfg->redis->port;
    o->cost = cfg->cost;
    o->events = events;
    o->fleet = cfg->fleet;
    if (cfg->tls_seal) {
        memcpy(o->seal, cfg->tls_seal, sizeof(o->seal));
        o->has_seal = true;
    }
    for (; o->n < n; o->n++) {
        if (!(o->idle[o->n] = redis_conf_store(cfg->redis, &o->cost)))
            goto fail;
        store_set_timeouts(o->idle[o->n], 1000, 3000);
    }
    o->n_idle = o->n;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    return o;
fail:
    if (o) {
        for (int i = 0; i < o->n; i++)
            store_destroy(&o->idle[i]);
        free(o->idle);
        free(o->host);
        free(o->prefix);
        free(o);
    }
    return NULL;
}

void ops_destroy(ops_t **op)
{
    if (!op || !*op)
        return;
    ops_t *o = *op;
    for (int i = 0; i < o->n_idle; i++)
        store_destroy(&o->idle[i]);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o->idle);
    free(o->host);
    free(o->prefix);
    free(o);
    *op = NULL;
}

static store_t *acquire(ops_t *o)
{
    pthread_mutex_lock(&o->mu);
    while (o->n_idle == 0)
        pthread_cond_wait(&o->cv, &o->mu);
    store_t *s = o->idle[--o->n_idle];
    pthread_mutex_unlock(&o->mu);
    return s;
}

static void release(ops_t *o, store_t *s)
{
    pthread_mutex_lock(&o->mu);
    o->idle[o->n_idle++] = s;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

/* ---- results -------------------------------------------------------------- */

static const char *code_for(unsigned status)
{
    switch (status) {
    case 400: return "BAD_REQUEST";
    case 401: return "UNAUTHORIZED";
    case 404: return "NOT_FOUND";
    case 405: return "METHOD_NOT_ALLOWED";
    case 409: return "CONFLICT";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 503: return "UNAVAILABLE";
    }
    return "INTERNAL";
}

void ops_error(ops_res_t *res, unsigned status, const char *message)
{
    res->status = status;
    res->doc = doc_error(code_for(status), message, NULL);
}

static void set_error(ops_res_t *res, unsigned status, const char *message, json_t *details)
{
    json_decref(res->doc);
    res->status = status;
    res->doc = doc_error(code_for(status), message, details);
}

static json_t *ids_json(const store_error_t *e)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < e->n_ids; i++)
        json_array_append_new(a, json_string(e->ids[i]));
    return a;
}

void ops_store_fail(ops_call_t *c, int rc)
{
    const store_error_t *e = store_last_error(c->store);
    char msg[512];
    json_t *d = json_object();
    if (e->field)
        json_object_set_new(d, "field", json_string(e->field));
    if (e->reason && rc != ROOST_EUNAVAILABLE)
        json_object_set_new(d, "reason", json_string(e->reason));
    switch (rc) {
    case ROOST_EINVAL:
        if (e->n_ids)
            json_object_set_new(d, "ids", ids_json(e));
        snprintf(msg, sizeof(msg), "%s %s", e->field ? e->field : "value", e->reason ? e->reason : "is invalid");
        set_error(c->res, 400, msg, d);
        return;
    case ROOST_ENOTFOUND:
        set_error(c->res, 404, "not found", d);
        return;
    case ROOST_ECONFLICT:
        if (e->field && !strcmp(e->field, "rules")) {
            json_object_set_new(d, "rules", ids_json(e));
            snprintf(msg, sizeof(msg), "the group is used by %zu group rule(s); delete or edit them first",
                     e->n_ids);
        } else if (e->field && !strcmp(e->field, "mappings")) {
            json_object_set_new(d, "mappings", ids_json(e));
            snprintf(msg, sizeof(msg), "the pipeline is fed by %zu topic mapping(s); delete them first", e->n_ids);
        } else {
            snprintf(msg, sizeof(msg), "%s %s", e->field ? e->field : "value", e->reason ? e->reason : "conflicts");
        }
        set_error(c->res, 409, msg, d);
        return;
    case ROOST_EUNAVAILABLE:
        log_warn("store_unavailable", "reason=\"%s\"", e->reason ? e->reason : "");
        set_error(c->res, 503, "the store (Redis) is unavailable", d);
        return;
    default:
        log_error("store_failed", "op=%s rc=%d err=\"%s\" reason=\"%s\"", rpc_admin_op_name(c->req->op), rc,
                  roost_strerror(rc), e->reason ? e->reason : "");
        set_error(c->res, 500, "internal error", d);
    }
}

void ops_bad_field(ops_call_t *c, const char *field, const char *reason)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s %s", field, reason);
    set_error(c->res, 400, msg, json_pack("{s:s, s:s}", "field", field, "reason", reason));
}

size_t ops_limit(ops_call_t *c)
{
    int64_t l = c->req->limit;
    if (l == 0)
        return OPS_DEFAULT_LIMIT;
    if (l < 1 || l > STORE_LIST_MAX) {
        ops_bad_field(c, "limit", "must be an integer 1-1000");
        return 0;
    }
    return (size_t)l;
}

void ops_committed(ops_call_t *c, rpc_change_kind_t kind, rpc_change_op_t op, const char *object_id,
                   const char *username, const char *summary)
{
    store_audit_t a = {.actor_id = (char *)c->actor->id, .actor_name = (char *)c->actor->name,
                       .action = (char *)rpc_admin_op_name(c->req->op), .object_id = (char *)object_id,
                       .summary = (char *)summary};
    int rc = store_audit_append(c->store, &a, NULL);
    if (rc < 0)
        log_warn("audit_failed", "action=%s object_id=%s rc=%d", a.action, object_id, rc);
    log_info("write", "action=%s object_id=%s actor=%s", a.action, object_id, c->actor->id);
    if (!kind)
        return;
    int64_t version = 0;
    store_config_version(c->store, &version);
    rpc_change_event_t ev = {.kind = kind, .op = op, .object_id = object_id, .username = username,
                             .version = (uint64_t)version, .time_ms = rpc_unix_ms()};
    if ((rc = events_push(c->ops->events, &ev)) < 0)
        log_warn("event_dropped", "action=%s object_id=%s rc=%d", a.action, object_id, rc);
}

/* ---- tokens --------------------------------------------------------------- */

static void token_hash(const char *token, char hex[STORE_TOKEN_HASH_LEN + 1])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, STORE_TOKEN_HASH_LEN + 1, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
}

/* TOKEN_PREFIX + base64url(32 random bytes). */
static void token_new(char out[64])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    sodium_bin2base64(out + sizeof(TOKEN_PREFIX) - 1, 64 - (sizeof(TOKEN_PREFIX) - 1), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

static int mkdirs_for(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

static int write_token_file(const char *path, const char *token)
{
    int rc = mkdirs_for(path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    rc = fchmod(fd, 0600) < 0 ? -errno : 0;
    size_t n = strlen(token);
    if (!rc && (write(fd, token, n) != (ssize_t)n || write(fd, "\n", 1) != 1))
        rc = -EIO;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    return rc;
}

int ops_bootstrap_tokens(ops_t *o, const char *env_token, const char *token_file)
{
    store_t *s = acquire(o);
    int64_t n = 0;
    int rc = store_token_count(s, &n);
    if (rc < 0 || n > 0)
        goto out;
    char fresh[64] = "", hash[STORE_TOKEN_HASH_LEN + 1];
    bool from_env = env_token && env_token[0];
    if (!from_env)
        token_new(fresh);
    token_hash(from_env ? env_token : fresh, hash);
    store_token_t *made = NULL;
    rc = store_token_create(s, from_env ? "bootstrap (ROOST_ADMIN_TOKEN)" : "bootstrap", hash, true, &made);
    if (rc == ROOST_ECONFLICT) { /* another admin bootstrapped first */
        rc = 0;
    } else if (rc == 0 && from_env) {
        log_info("token_bootstrap", "source=env");
    } else if (rc == 0) {
        /* The token goes to the file only: logs are read by more people (and
         * kept longer) than a 0600 file. Its first characters identify it. */
        int wrc = write_token_file(token_file, fresh);
        if (wrc) {
            log_error("token_file_failed", "path=%s rc=%d err=\"%s\" detail=\"no token created; fix the path or "
                      "set ROOST_ADMIN_TOKEN\"", token_file, wrc, roost_strerror(wrc));
            store_token_revoke(s, made->id); /* nobody could ever read it */
        } else {
            fprintf(stderr, "roost-admin: first admin token written to %s (mode 0600, shown nowhere else; "
                    "it begins %.10s)\n", token_file, fresh);
            log_info("token_bootstrap", "source=generated file=%s token_prefix=%.10s", token_file, fresh);
        }
    }
    store_token_free(&made);
    sodium_memzero(fresh, sizeof(fresh));
out:
    if (rc < 0)
        log_warn("token_bootstrap_failed", "rc=%d err=\"%s\"", rc, roost_strerror(rc));
    else
        atomic_store(&o->tokens_ready, true);
    release(o, s);
    return rc;
}

bool ops_tokens_ready(ops_t *o)
{
    return atomic_load(&o->tokens_ready);
}

int ops_authenticate(ops_t *o, const char *token, ops_actor_t *actor, ops_res_t *res)
{
    if (!token || !token[0]) {
        ops_error(res, 401, "a bearer token is required (Authorization: Bearer <token>)");
        return -1;
    }
    char hash[STORE_TOKEN_HASH_LEN + 1];
    token_hash(token, hash);
    store_t *s = acquire(o);
    store_token_t *t = NULL;
    int rc = store_token_lookup(s, hash, &t);
    if (rc == 0 && sodium_memcmp(t->hash, hash, STORE_TOKEN_HASH_LEN) != 0)
        rc = ROOST_ENOTFOUND;
    if (rc == 0) {
        memcpy(actor->id, t->id, sizeof(actor->id));
        snprintf(actor->name, sizeof(actor->name), "%s", t->name);
        store_token_touch(s, t->id, rpc_unix_ms());
    } else if (rc == ROOST_EUNAVAILABLE) {
        ops_error(res, 503, "the store (Redis) is unavailable");
    } else if (rc == ROOST_ENOTFOUND) {
        ops_error(res, 401, "invalid or revoked token");
    } else {
        ops_error(res, 500, "internal error");
    }
    store_token_free(&t);
    release(o, s);
    return rc;
}

static void token_ops(ops_call_t *c)
{
    int rc = 0;
    if (c->req->op == RPC_ADMIN_TOKEN_LIST) {
        store_token_list_t *l = NULL;
        if ((rc = store_token_list(c->store, &l)) == 0) {
            json_t *items = json_array();
            for (size_t i = 0; i < l->n; i++)
                json_array_append_new(items, doc_token(&l->items[i]));
            c->res->status = 200;
            c->res->doc = doc_page(items, NULL, l->n);
        }
        store_token_list_free(&l);
    } else if (c->req->op == RPC_ADMIN_TOKEN_CREATE) {
        static const doc_field_t F[] = {{"name", DOC_STRING, true}};
        if (doc_check(c->body, F, 1, "", &c->res->doc)) {
            c->res->status = 400;
            return;
        }
        char secret[64], hash[STORE_TOKEN_HASH_LEN + 1];
        token_new(secret);
        token_hash(secret, hash);
        store_token_t *t = NULL;
        if ((rc = store_token_create(c->store, doc_str(c->body, "name"), hash, false, &t)) == 0) {
            c->res->status = 201;
            c->res->doc = doc_token(t);
            json_object_set_new(c->res->doc, "token", json_string(secret));
            char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX];
            snprintf(summary, sizeof(summary), "name=%s", KV(v1, t->name));
            ops_committed(c, 0, 0, t->id, NULL, summary);
        }
        sodium_memzero(secret, sizeof(secret));
        store_token_free(&t);
    } else {
        if ((rc = store_token_revoke(c->store, c->req->id)) == 0) {
            c->res->status = 204;
            ops_committed(c, 0, 0, c->req->id, NULL, "revoked");
        }
    }
    if (rc < 0)
        ops_store_fail(c, rc);
}

/* ---- audit and connections ------------------------------------------------ */

static void audit_list(ops_call_t *c)
{
    size_t limit = ops_limit(c);
    if (!limit)
        return;
    store_audit_page_t *p = NULL;
    int rc = store_audit_list(c->store, c->req->cursor, limit, &p);
    if (rc < 0) {
        ops_store_fail(c, rc);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(items, doc_audit(&p->items[i]));
    c->res->status = 200;
    c->res->doc = doc_page(items, p->next_cursor, p->n);
    json_object_del(c->res->doc, "total"); /* a stream's length is not a useful total */
    store_audit_page_free(&p);
}

static void connection_ops(ops_call_t *c)
{
    int rc;
    if (c->req->op == RPC_ADMIN_CONNECTION_LIST) {
        size_t limit = ops_limit(c);
        if (!limit)
            return;
        store_conn_page_t *p = NULL;
        if ((rc = store_conn_list(c->store, c->req->cursor, limit, c->req->search, &p)) < 0) {
            ops_store_fail(c, rc);
            return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < p->n; i++)
            json_array_append_new(items, doc_conn(&p->items[i]));
        c->res->status = 200;
        c->res->doc = doc_page(items, p->next_cursor, p->total);
        store_conn_page_free(&p);
        return;
    }
    char *broker = NULL;
    if ((rc = store_conn_find(c->store, c->req->id ? c->req->id : "", &broker)) < 0) {
        ops_store_fail(c, rc);
        return;
    }
    char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX];
    snprintf(summary, sizeof(summary), "broker=%s", KV(v1, broker));
    ops_committed(c, RPC_CHANGE_CONNECTION, RPC_CHANGE_DELETE, c->req->id, NULL, summary);
    c->res->status = 202;
    c->res->doc = json_pack("{s:s, s:s, s:s}", "mqtt_client_id", c->req->id, "broker", broker, "status",
                            "disconnect requested");
    free(broker);
}

/* ---- dispatch ------------------------------------------------------------- */

/* --redis-min-replicas: a write is answered with success only once that
 * many replicas have it (store_wait_writes: one WAIT, nothing sent when
 * the request wrote nothing). Otherwise 503: the write was made on the
 * primary and a failover may lose it, which the caller must be told
 * rather than a success. A failed request is answered as it is. */
static void confirm_writes(ops_call_t *c)
{
    if (c->res->status < 200 || c->res->status > 299)
        return;
    int rc = store_wait_writes(c->store);
    if (rc == 0)
        return;
    const store_error_t *e = store_last_error(c->store);
    const char *why = e->reason ? e->reason : "not confirmed by the Redis replicas";
    log_warn("write_unreplicated", "op=%s status=%u reason=\"%s\"", rpc_admin_op_name(c->req->op),
             c->res->status, why);
    char msg[400];
    snprintf(msg, sizeof(msg), "not confirmed: %s; read it back before retrying", why);
    set_error(c->res, 503, msg, json_pack("{s:b}", "may_have_been_made", 1));
}

static bool needs_body(rpc_admin_op_t op)
{
    return op == RPC_ADMIN_CLIENT_CREATE || op == RPC_ADMIN_CLIENT_UPDATE || op == RPC_ADMIN_GROUP_CREATE ||
           op == RPC_ADMIN_GROUP_UPDATE || op == RPC_ADMIN_RULE_CREATE || op == RPC_ADMIN_RULE_UPDATE ||
           op == RPC_ADMIN_EXPLAIN || op == RPC_ADMIN_TOKEN_CREATE || op == RPC_ADMIN_PIPELINE_CREATE ||
           op == RPC_ADMIN_PIPELINE_UPDATE || op == RPC_ADMIN_MAPPING_CREATE || op == RPC_ADMIN_MAPPING_UPDATE ||
           op == RPC_ADMIN_CERTIFICATES_PUT || op == RPC_ADMIN_BAN_CREATE;
}

/* Parses the body of the ops that take one. 0, or -1 with res set. */
static int parse_body(const ops_req_t *req, json_t **out, ops_res_t *res)
{
    *out = NULL;
    if (!needs_body(req->op))
        return 0;
    if (!req->body || req->body_len == 0) {
        ops_error(res, 400, "a JSON body is required");
        return -1;
    }
    if (req->body_len > OPS_BODY_MAX) {
        ops_error(res, 413, "the body is larger than 64 KiB");
        return -1;
    }
    json_error_t e;
    *out = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!*out) {
        char msg[300];
        snprintf(msg, sizeof(msg), "malformed JSON: %s (line %d, column %d)", e.text, e.line, e.column);
        res->status = 400;
        res->doc = doc_error("BAD_REQUEST", msg, NULL);
        return -1;
    }
    return 0;
}

void ops_call(ops_t *o, const ops_actor_t *actor, const ops_req_t *req, ops_res_t *res)
{
    res->status = 500;
    res->doc = NULL;
    json_t *body = NULL;
    if (req->op < 1 || req->op >= RPC_ADMIN_OP_COUNT) {
        ops_error(res, 400, "unknown operation");
        return;
    }
    if (parse_body(req, &body, res) < 0)
        return;
    store_t *s = acquire(o);
    ops_call_t c = {.ops = o, .store = s, .actor = actor, .req = req, .body = body, .res = res};
    store_wait_begin(s); /* one WAIT for the request's writes, below */
    switch (req->op) {
    case RPC_ADMIN_CLIENT_LIST ... RPC_ADMIN_CLIENT_DELETE: crud_client(&c); break;
    case RPC_ADMIN_GROUP_LIST ... RPC_ADMIN_GROUP_DELETE: crud_group(&c); break;
    case RPC_ADMIN_RULE_LIST ... RPC_ADMIN_RULE_DELETE: crud_rule(&c); break;
    case RPC_ADMIN_CONNECTION_LIST:
    case RPC_ADMIN_CONNECTION_KICK: connection_ops(&c); break;
    case RPC_ADMIN_EXPLAIN: explain_run(&c); break;
    case RPC_ADMIN_AUDIT_LIST: audit_list(&c); break;
    case RPC_ADMIN_TOKEN_LIST ... RPC_ADMIN_TOKEN_REVOKE: token_ops(&c); break;
    case RPC_ADMIN_PIPELINE_LIST ... RPC_ADMIN_PIPELINE_DELETE: pipes_pipeline(&c); break;
    case RPC_ADMIN_MAPPING_LIST ... RPC_ADMIN_MAPPING_DELETE: pipes_mapping(&c); break;
    case RPC_ADMIN_OVERVIEW ... RPC_ADMIN_INSTANCE_GET: status_ops(&c); break;
    case RPC_ADMIN_CERTIFICATES_GET:
    case RPC_ADMIN_CERTIFICATES_PUT: certs_ops(&c); break;
    case RPC_ADMIN_BAN_LIST ... RPC_ADMIN_BAN_DELETE: ban_ops(&c); break;
    default: ops_error(res, 400, "unknown operation"); break;
    }
    confirm_writes(&c);
    release(o, s);
    json_decref(body);
    if (res->status != 204 && !res->doc)
        ops_error(res, 500, "internal error (out of memory)");
}

fleet_t *ops_fleet(const ops_t *o)
{
    return o->fleet;
}

const uint8_t *ops_tls_seal(const ops_t *o)
{
    return o->has_seal ? o->seal : NULL;
}

bool ops_health(ops_t *o)
{
    store_t *s = acquire(o);
    int64_t v;
    bool ok = store_config_version(s, &v) == 0;
    release(o, s);
    return ok;
}

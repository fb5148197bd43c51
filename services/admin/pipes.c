/* pipes: the pipeline and topic-mapping operations of ops (pipes.h). */
#include "pipes.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "store/pipelines.h"

#define MASK "********"

static void ok(ops_call_t *c, unsigned status, json_t *doc)
{
    c->res->status = status;
    c->res->doc = doc;
}

/* Overwrites the token strings inside the parsed body before it is freed. */
static void wipe_tokens(json_t *body)
{
    static const char *const KEYS[] = {"authorization_token", "network_token"};
    for (size_t i = 0; i < 2; i++) {
        json_t *t = json_object_get(body, KEYS[i]);
        if (json_is_string(t))
            sodium_memzero((char *)json_string_value(t), json_string_length(t));
    }
}

/* A token as the API shows it: write-only, so only whether one is set. */
static json_t *masked(const char *token)
{
    return json_string(token && *token ? MASK : "");
}

static json_t *doc_pipeline(const store_pipeline_t *p, const store_pipeline_stats_t *st)
{
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:b, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "id",
                          p->id, "name", p->name, "description", p->description, "url", p->url, "status",
                          p->paused ? "paused" : "active", "authorization_token", masked(p->auth_token),
                          "authorization_token_set", p->auth_token[0] != '\0', "network_token",
                          masked(p->network_token), "network_token_set", p->network_token[0] != '\0',
                          "batch_size", (json_int_t)p->batch_size, "linger_ms", (json_int_t)p->linger_ms,
                          "max_attempts", (json_int_t)p->max_attempts, "max_queue", (json_int_t)p->max_queue,
                          "timeout_ms", (json_int_t)p->timeout_ms, "created_at", doc_time_json(p->created_at),
                          "updated_at", doc_time_json(p->updated_at));
    if (d)
        json_object_set_new(d, "max_age_s", json_integer((json_int_t)p->max_age_s));
    if (d && st)
        json_object_set_new(
            d, "delivery",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "queued", (json_int_t)st->queued, "pending",
                      (json_int_t)st->pending, "dead_lettered", (json_int_t)st->dead, "dropped",
                      (json_int_t)st->dropped, "forwarded", (json_int_t)st->forwarded, "oldest_queued_at",
                      doc_time_json(st->oldest_ms), "last_ok_at", doc_time_json(st->last_ok_at), "last_error",
                      st->last_error[0] ? json_string(st->last_error) : json_null(), "last_error_at",
                      doc_time_json(st->last_error_at)));
    return d;
}

/* The pipeline's document with its delivery state (omitted if unreadable). */
static json_t *pipeline_json(ops_call_t *c, const store_pipeline_t *p)
{
    store_pipeline_stats_t st;
    bool have = store_pipeline_stats(c->store, p->id, &st) == 0;
    return doc_pipeline(p, have ? &st : NULL);
}

static json_t *doc_mapping(const store_mapping_t *m, const char *pipeline_name)
{
    json_t *d = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", m->id, "topic", m->topic, "pipeline", m->pipeline,
                          "created_at", doc_time_json(m->created_at), "updated_at", doc_time_json(m->updated_at));
    if (d && pipeline_name)
        json_object_set_new(d, "pipeline_name", json_string(pipeline_name));
    return d;
}

/* ---- pipelines ------------------------------------------------------------ */

static const doc_field_t PIPELINE_FIELDS[] = {
    {"name", DOC_STRING, true},          {"url", DOC_STRING, true},
    {"description", DOC_STRING, false},  {"status", DOC_STRING, false},
    {"authorization_token", DOC_STRING, false}, {"network_token", DOC_STRING, false},
    {"batch_size", DOC_INT, false},      {"linger_ms", DOC_INT, false},
    {"max_attempts", DOC_INT, false},    {"max_queue", DOC_INT, false},
    {"timeout_ms", DOC_INT, false},      {"max_age_s", DOC_INT, false},
};
#define N_PIPELINE_FIELDS (sizeof(PIPELINE_FIELDS) / sizeof(PIPELINE_FIELDS[0]))

static bool num(const json_t *body, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(body, key);
    if (!v)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static int read_pipeline(ops_call_t *c, bool create, store_pipeline_spec_t *spec)
{
    doc_field_t f[N_PIPELINE_FIELDS];
    memcpy(f, PIPELINE_FIELDS, sizeof(f));
    for (size_t i = 0; !create && i < N_PIPELINE_FIELDS; i++)
        f[i].required = false;
    json_t *err = NULL;
    if (doc_check(c->body, f, N_PIPELINE_FIELDS, "", &err)) {
        ok(c, 400, err);
        return -1;
    }
    const json_t *b = c->body;
    spec->name = doc_str(b, "name");
    spec->url = doc_str(b, "url");
    spec->description = doc_str(b, "description");
    spec->status = doc_str(b, "status");
    spec->auth_token = doc_str(b, "authorization_token");
    spec->network_token = doc_str(b, "network_token");
    spec->has_batch_size = num(b, "batch_size", &spec->batch_size);
    spec->has_linger_ms = num(b, "linger_ms", &spec->linger_ms);
    spec->has_max_attempts = num(b, "max_attempts", &spec->max_attempts);
    spec->has_max_queue = num(b, "max_queue", &spec->max_queue);
    spec->has_timeout_ms = num(b, "timeout_ms", &spec->timeout_ms);
    spec->has_max_age_s = num(b, "max_age_s", &spec->max_age_s);
    return 0;
}

static void pipeline_write(ops_call_t *c)
{
    rpc_admin_op_t op = c->req->op;
    store_pipeline_spec_t spec = {0};
    store_pipeline_t *p = NULL, *old = NULL;
    char summary[OPS_SUMMARY_MAX], fields[256], v1[OPS_KV_MAX];
    int rc = 0;
    if (op != RPC_ADMIN_PIPELINE_DELETE && read_pipeline(c, op == RPC_ADMIN_PIPELINE_CREATE, &spec) < 0)
        goto out;
    if (op != RPC_ADMIN_PIPELINE_CREATE && (rc = store_pipeline_get(c->store, c->req->id, &old)) < 0)
        goto out;
    if (op == RPC_ADMIN_PIPELINE_CREATE) {
        if ((rc = store_pipeline_create(c->store, &spec, &p)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "name=%s status=%s", KV(v1, p->name), p->paused ? "paused" : "active");
        ops_committed(c, RPC_CHANGE_ROUTES, RPC_CHANGE_CREATE, p->id, NULL, summary);
        ok(c, 201, pipeline_json(c, p));
    } else if (op == RPC_ADMIN_PIPELINE_UPDATE) {
        if ((rc = store_pipeline_update(c->store, c->req->id, &spec, &p)) < 0)
            goto out;
        doc_changed_fields(c->body, fields, sizeof(fields));
        snprintf(summary, sizeof(summary), "name=%s changed=%s", KV(v1, p->name), fields[0] ? fields : "nothing");
        ops_committed(c, RPC_CHANGE_ROUTES, RPC_CHANGE_UPDATE, p->id, NULL, summary);
        ok(c, 200, pipeline_json(c, p));
    } else {
        if ((rc = store_pipeline_delete(c->store, c->req->id)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "name=%s", KV(v1, old->name));
        ops_committed(c, RPC_CHANGE_ROUTES, RPC_CHANGE_DELETE, old->id, NULL, summary);
        ok(c, 204, NULL);
    }
out:
    if (rc < 0)
        ops_store_fail(c, rc);
    wipe_tokens(c->body);
    store_pipeline_free(&p);
    store_pipeline_free(&old);
}

void pipes_pipeline(ops_call_t *c)
{
    int rc;
    if (c->req->op == RPC_ADMIN_PIPELINE_LIST) {
        size_t limit = ops_limit(c);
        store_pipeline_page_t *pg = NULL;
        if (limit && (rc = store_pipeline_list(c->store, c->req->cursor, limit, c->req->search, &pg)) < 0)
            ops_store_fail(c, rc);
        if (!pg)
            return;
        json_t *items = json_array();
        for (size_t i = 0; i < pg->n; i++)
            json_array_append_new(items, pipeline_json(c, pg->items[i]));
        ok(c, 200, doc_page(items, pg->next_cursor, pg->total));
        store_pipeline_page_free(&pg);
    } else if (c->req->op == RPC_ADMIN_PIPELINE_GET) {
        store_pipeline_t *p = NULL;
        if ((rc = store_pipeline_get(c->store, c->req->id, &p)) < 0)
            ops_store_fail(c, rc);
        else
            ok(c, 200, pipeline_json(c, p));
        store_pipeline_free(&p);
    } else {
        pipeline_write(c);
    }
}

/* ---- topic mappings ----------------------------------------------------------- */

static const doc_field_t MAPPING_FIELDS[] = {
    {"topic", DOC_STRING, true},
    {"pipeline", DOC_STRING, true},
};

static void mapping_write(ops_call_t *c)
{
    rpc_admin_op_t op = c->req->op;
    store_mapping_spec_t spec = {0};
    store_mapping_t *m = NULL, *old = NULL;
    char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX], v2[OPS_KV_MAX];
    int rc = 0;
    if (op != RPC_ADMIN_MAPPING_DELETE) {
        doc_field_t f[2];
        memcpy(f, MAPPING_FIELDS, sizeof(f));
        f[0].required = f[1].required = op == RPC_ADMIN_MAPPING_CREATE;
        json_t *err = NULL;
        if (doc_check(c->body, f, 2, "", &err)) {
            ok(c, 400, err);
            goto out;
        }
        spec.topic = doc_str(c->body, "topic");
        spec.pipeline = doc_str(c->body, "pipeline");
    }
    if (op != RPC_ADMIN_MAPPING_CREATE && (rc = store_mapping_get(c->store, c->req->id, &old)) < 0)
        goto out;
    if (op == RPC_ADMIN_MAPPING_CREATE || op == RPC_ADMIN_MAPPING_UPDATE) {
        bool create = op == RPC_ADMIN_MAPPING_CREATE;
        if ((rc = create ? store_mapping_create(c->store, &spec, &m)
                         : store_mapping_update(c->store, c->req->id, &spec, &m)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "topic=%s pipeline=%s", KV(v1, m->topic), KV(v2, m->pipeline));
        ops_committed(c, RPC_CHANGE_ROUTES, create ? RPC_CHANGE_CREATE : RPC_CHANGE_UPDATE, m->id, NULL, summary);
        ok(c, create ? 201 : 200, doc_mapping(m, NULL));
    } else {
        if ((rc = store_mapping_delete(c->store, c->req->id)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "topic=%s pipeline=%s", KV(v1, old->topic), KV(v2, old->pipeline));
        ops_committed(c, RPC_CHANGE_ROUTES, RPC_CHANGE_DELETE, old->id, NULL, summary);
        ok(c, 204, NULL);
    }
out:
    if (rc < 0)
        ops_store_fail(c, rc);
    store_mapping_free(&m);
    store_mapping_free(&old);
}

static const char *pipeline_name(const store_routes_t *all, const char *id)
{
    for (size_t i = 0; i < all->n_pipelines; i++)
        if (!strcmp(all->pipelines[i].id, id))
            return all->pipelines[i].name;
    return NULL;
}

void pipes_mapping(ops_call_t *c)
{
    int rc;
    if (c->req->op == RPC_ADMIN_MAPPING_LIST) {
        size_t limit = ops_limit(c);
        store_pipeline_page_t *pg = NULL;
        if (limit && (rc = store_mapping_list(c->store, c->req->cursor, limit, c->req->search, &pg)) < 0)
            ops_store_fail(c, rc);
        if (!pg)
            return;
        json_t *items = json_array();
        for (size_t i = 0; i < pg->n; i++)
            json_array_append_new(items, doc_mapping(pg->mappings[i], pipeline_name(pg->all, pg->mappings[i]->pipeline)));
        ok(c, 200, doc_page(items, pg->next_cursor, pg->total));
        store_pipeline_page_free(&pg);
    } else if (c->req->op == RPC_ADMIN_MAPPING_GET) {
        store_mapping_t *m = NULL;
        if ((rc = store_mapping_get(c->store, c->req->id, &m)) < 0)
            ops_store_fail(c, rc);
        else
            ok(c, 200, doc_mapping(m, NULL));
        store_mapping_free(&m);
    } else {
        mapping_write(c);
    }
}

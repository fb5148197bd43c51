/* crud: clients, groups and group rules through lib/store (crud.h). */
#include "crud.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doc.h"
#include "tls/tlscert.h"

typedef enum { K_CLIENT, K_GROUP, K_RULE } kind_t;


/* Overwrites the password string inside the parsed body before it is freed. */
static void wipe_password(json_t *body)
{
    json_t *p = json_object_get(body, "password");
    if (json_is_string(p))
        sodium_memzero((char *)json_string_value(p), json_string_length(p));
}

static void ok(ops_call_t *c, unsigned status, json_t *doc)
{
    c->res->status = status;
    c->res->doc = doc;
}

/* ---- clients ---------------------------------------------------------------- */

/* username and password are required on create unless a certificate is
 * given (a certificate client); auth_type is what the client ends up holding
 * (on create it may be sent, and must then agree with the body). */
static const doc_field_t CLIENT_FIELDS[] = {
    {"name", DOC_STRING, true},
    {"username", DOC_STRING, true},
    {"password", DOC_STRING, true},
    {"auth_type", DOC_STRING, false},
    {"certificate", DOC_STRING, false},
    {"allowed_client_ids", DOC_ARRAY, false},
};
#define N_CLIENT_FIELDS (sizeof(CLIENT_FIELDS) / sizeof(CLIENT_FIELDS[0]))

/* The facts of the uploaded certificate (PEM), kept for the spec, and the
 * allowed client ids joined by newlines (owned; NULL when not given). */
typedef struct client_in {
    tlscert_facts_t facts;
    store_cert_t cert;
    char *client_ids;
} client_in_t;

/* body.allowed_client_ids (an array of strings) joined by newlines into
 * *out (caller frees), or NULL when absent. 0 or -1 with res set. */
static int read_client_ids(ops_call_t *c, char **out)
{
    *out = NULL;
    const json_t *arr = json_object_get(c->body, "allowed_client_ids");
    if (!arr)
        return 0;
    size_t i, total = 1;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || !json_string_length(v) || strchr(json_string_value(v), '\n')) {
            ops_bad_field(c, "allowed_client_ids", "must be an array of strings (MQTT client ids or "
                          "patterns with '*' and %u)");
            return -1;
        }
        total += json_string_length(v) + 1;
    }
    if (!(*out = calloc(1, total))) {
        ops_error(c->res, 500, "out of memory");
        return -1;
    }
    json_array_foreach(arr, i, v) {
        if (i)
            strcat(*out, "\n");
        strcat(*out, json_string_value(v));
    }
    return 0;
}

static int read_client(ops_call_t *c, bool create, store_client_spec_t *spec, client_in_t *in)
{
    json_t *err = NULL;
    doc_field_t f[N_CLIENT_FIELDS];
    memcpy(f, CLIENT_FIELDS, sizeof(f));
    bool has_cert = json_is_string(json_object_get(c->body, "certificate"));
    for (size_t i = 0; i < N_CLIENT_FIELDS; i++)
        f[i].required = f[i].required && create && !(has_cert && i > 0);
    if (doc_check(c->body, f, N_CLIENT_FIELDS, "", &err)) {
        ok(c, 400, err);
        return -1;
    }
    /* auth_type follows from what is given; when sent it must agree */
    const char *at = doc_str(c->body, "auth_type");
    bool creds = json_object_get(c->body, "username") || json_object_get(c->body, "password");
    const char *derived = has_cert && creds ? "both" : has_cert ? "certificate" : "username_password";
    if (at && create && strcmp(at, derived)) {
        ops_bad_field(c, "auth_type", "must be \"username_password\" (username and password), \"certificate\" "
                                      "(a certificate) or \"both\", matching what the body gives");
        return -1;
    }
    spec->name = doc_str(c->body, "name");
    spec->username = doc_str(c->body, "username");
    spec->password = doc_str(c->body, "password");
    if (read_client_ids(c, &in->client_ids))
        return -1;
    spec->client_ids = in->client_ids;
    if (has_cert) {
        char why[128];
        int rc = tlscert_from_pem(doc_str(c->body, "certificate"), (int64_t)time(NULL), &in->facts, why,
                                  sizeof(why));
        if (rc < 0) {
            if (rc == -ENOMEM)
                ops_error(c->res, 500, "out of memory");
            else
                ops_bad_field(c, "certificate", why);
            return -1;
        }
        in->cert = (store_cert_t){in->facts.fingerprint, in->facts.subject, in->facts.issuer,
                                  in->facts.serial, in->facts.not_before, in->facts.not_after};
        spec->cert = &in->cert;
    }
    return 0;
}

/* The client document, with its certificate's facts when it holds one and
 * its allowed client ids. */
static json_t *client_doc(ops_call_t *c, const store_client_t *cl)
{
    json_t *d = doc_client(cl);
    store_cert_t cert;
    if (d && store_client_get_cert(c->store, cl->id, &cert) == 0) {
        json_object_set_new(d, "certificate", doc_cert(&cert));
        store_cert_fini(&cert);
    }
    char *ids = NULL;
    if (d && store_client_ids_get(c->store, cl->id, &ids) == 0)
        json_object_set_new(d, "allowed_client_ids", doc_lines(ids));
    else if (d)
        json_object_set_new(d, "allowed_client_ids", json_array());
    free(ids);
    return d;
}

static void client_list(ops_call_t *c)
{
    size_t limit = ops_limit(c);
    store_client_page_t *p = NULL;
    int rc = limit ? store_client_list(c->store, c->req->cursor, limit, c->req->search, &p) : 0;
    if (rc < 0)
        ops_store_fail(c, rc);
    if (!p)
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(items, doc_client(&p->items[i]));
    ok(c, 200, doc_page(items, p->next_cursor, p->total));
    store_client_page_free(&p);
}

static void client_write(ops_call_t *c)
{
    store_client_spec_t spec = {0};
    client_in_t in = {.client_ids = NULL};
    store_client_t *cl = NULL, *old = NULL;
    rpc_admin_op_t op = c->req->op;
    char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX], v2[OPS_KV_MAX];
    int rc = 0;
    if (op != RPC_ADMIN_CLIENT_DELETE && read_client(c, op == RPC_ADMIN_CLIENT_CREATE, &spec, &in))
        goto out;
    if (op != RPC_ADMIN_CLIENT_CREATE && (rc = store_client_get(c->store, c->req->id, &old)) < 0)
        goto out;
    if (op == RPC_ADMIN_CLIENT_CREATE) {
        if ((rc = store_client_create(c->store, &spec, &cl)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "name=%s username=%s auth_type=%s%s%s", KV(v1, cl->name),
                 KV(v2, cl->username), cl->auth_type, spec.cert ? " certificate=" : "",
                 spec.cert ? spec.cert->fingerprint : "");
        ops_committed(c, RPC_CHANGE_CLIENT, RPC_CHANGE_CREATE, cl->id, cl->username, summary);
        ok(c, 201, client_doc(c, cl));
    } else if (op == RPC_ADMIN_CLIENT_UPDATE) {
        if ((rc = store_client_update(c->store, c->req->id, &spec, &cl)) < 0)
            goto out;
        char fields[128];
        doc_changed_fields(c->body, fields, sizeof(fields));
        snprintf(summary, sizeof(summary), "changed=%s", fields[0] ? fields : "nothing");
        ops_committed(c, RPC_CHANGE_CLIENT, RPC_CHANGE_UPDATE, cl->id, old->username, summary);
        ok(c, 200, client_doc(c, cl));
    } else {
        if ((rc = store_client_delete(c->store, c->req->id)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "name=%s username=%s", KV(v1, old->name), KV(v2, old->username));
        ops_committed(c, RPC_CHANGE_CLIENT, RPC_CHANGE_DELETE, old->id, old->username, summary);
        ok(c, 204, NULL);
    }
out:
    if (rc < 0)
        ops_store_fail(c, rc);
    wipe_password(c->body);
    free(in.client_ids);
    store_client_free(&cl);
    store_client_free(&old);
}

void crud_client(ops_call_t *c)
{
    store_client_t *cl = NULL;
    int rc;
    switch (c->req->op) {
    case RPC_ADMIN_CLIENT_LIST:
        client_list(c);
        break;
    case RPC_ADMIN_CLIENT_GET:
        if ((rc = store_client_get(c->store, c->req->id, &cl)) < 0)
            ops_store_fail(c, rc);
        else
            ok(c, 200, client_doc(c, cl));
        store_client_free(&cl);
        break;
    default:
        client_write(c);
    }
}

/* ---- groups ----------------------------------------------------------------- */

static const doc_field_t GROUP_FIELDS[] = {
    {"name", DOC_STRING, true},
    {"description", DOC_STRING, false},
    {"acl", DOC_ARRAY, false},
    {"max_msg_rate", DOC_INT, false},
    {"max_byte_rate", DOC_INT, false},
};
#define N_GROUP_FIELDS (sizeof(GROUP_FIELDS) / sizeof(GROUP_FIELDS[0]))

static const doc_field_t ACL_FIELDS[] = {
    {"permission", DOC_STRING, true},
    {"action", DOC_STRING, true},
    {"topic", DOC_STRING, true},
};

/* Reads body.acl into *acl (caller frees). 0 or -1 with res set. */
static int read_acl(ops_call_t *c, const json_t *arr, store_acl_t **acl, size_t *n)
{
    *n = json_array_size(arr);
    *acl = calloc(*n + 1, sizeof(**acl));
    if (!*acl) {
        ops_error(c->res, 500, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < *n; i++) {
        const json_t *e = json_array_get(arr, i);
        char where[32], field[48];
        snprintf(where, sizeof(where), "acl[%zu]", i);
        json_t *err = NULL;
        if (!json_is_object(e)) {
            ops_bad_field(c, where, "must be an object {permission, action, topic}");
            return -1;
        }
        strcat(where, ".");
        if (doc_check(e, ACL_FIELDS, 3, where, &err)) {
            ok(c, 400, err);
            return -1;
        }
        store_acl_t *a = &(*acl)[i];
        if (store_permission_parse(doc_str(e, "permission"), &a->permission) < 0) {
            snprintf(field, sizeof(field), "%spermission", where);
            ops_bad_field(c, field, "must be \"allow\" or \"deny\"");
            return -1;
        }
        if (store_action_parse(doc_str(e, "action"), &a->action) < 0) {
            snprintf(field, sizeof(field), "%saction", where);
            ops_bad_field(c, field, "must be \"publish\", \"subscribe\" or \"both\"");
            return -1;
        }
        a->topic = doc_str(e, "topic");
    }
    return 0;
}

static void group_write(ops_call_t *c)
{
    rpc_admin_op_t op = c->req->op;
    store_group_spec_t spec = {0};
    store_acl_t *acl = NULL;
    store_group_t *g = NULL, *old = NULL;
    char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX];
    int rc = 0;
    if (op != RPC_ADMIN_GROUP_DELETE) {
        doc_field_t f[N_GROUP_FIELDS];
        memcpy(f, GROUP_FIELDS, sizeof(f));
        f[0].required = op == RPC_ADMIN_GROUP_CREATE;
        json_t *err = NULL;
        if (doc_check(c->body, f, (int)N_GROUP_FIELDS, "", &err)) {
            ok(c, 400, err);
            goto out;
        }
        const json_t *arr = json_object_get(c->body, "acl");
        if (arr && read_acl(c, arr, &acl, &spec.n_acl) < 0)
            goto out;
        spec.name = doc_str(c->body, "name");
        spec.description = doc_str(c->body, "description");
        spec.acl = acl;
        spec.set_acl = arr != NULL;
        /* a rate left out keeps its value on update */
        json_t *mr = json_object_get(c->body, "max_msg_rate"), *br = json_object_get(c->body, "max_byte_rate");
        spec.set_rates = mr || br;
        if (spec.set_rates && op == RPC_ADMIN_GROUP_UPDATE &&
            (rc = store_group_get(c->store, c->req->id, &old)) < 0)
            goto out;
        spec.max_msg_rate = mr ? json_integer_value(mr) : old ? old->max_msg_rate : 0;
        spec.max_byte_rate = br ? json_integer_value(br) : old ? old->max_byte_rate : 0;
    }
    if (op != RPC_ADMIN_GROUP_CREATE && !old && (rc = store_group_get(c->store, c->req->id, &old)) < 0)
        goto out;
    if (op == RPC_ADMIN_GROUP_CREATE) {
        if ((rc = store_group_create(c->store, &spec, &g)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "name=%s acl_entries=%zu", KV(v1, g->name), g->n_acl);
        ops_committed(c, RPC_CHANGE_GROUP, RPC_CHANGE_CREATE, g->id, NULL, summary);
        ok(c, 201, doc_group(g));
    } else if (op == RPC_ADMIN_GROUP_UPDATE) {
        if ((rc = store_group_update(c->store, c->req->id, &spec, &g)) < 0)
            goto out;
        char fields[128];
        doc_changed_fields(c->body, fields, sizeof(fields));
        snprintf(summary, sizeof(summary), "changed=%s acl_entries=%zu", fields[0] ? fields : "nothing", g->n_acl);
        ops_committed(c, spec.set_acl && !spec.name && !spec.description ? RPC_CHANGE_ACL : RPC_CHANGE_GROUP,
                      RPC_CHANGE_UPDATE, g->id, NULL, summary);
        ok(c, 200, doc_group(g));
    } else {
        if ((rc = store_group_delete(c->store, c->req->id)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "name=%s", KV(v1, old->name));
        ops_committed(c, RPC_CHANGE_GROUP, RPC_CHANGE_DELETE, old->id, NULL, summary);
        ok(c, 204, NULL);
    }
out:
    if (rc < 0)
        ops_store_fail(c, rc);
    free(acl);
    store_group_free(&g);
    store_group_free(&old);
}

void crud_group(ops_call_t *c)
{
    int rc;
    if (c->req->op == RPC_ADMIN_GROUP_LIST) {
        size_t limit = ops_limit(c);
        store_group_list_t *l = NULL;
        if (limit && (rc = store_group_list(c->store, c->req->cursor, limit, c->req->search, &l)) < 0)
            ops_store_fail(c, rc);
        if (!l)
            return;
        json_t *items = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(items, doc_group(&l->items[i]));
        ok(c, 200, doc_page(items, l->next_cursor, l->total));
        store_group_list_free(&l);
    } else if (c->req->op == RPC_ADMIN_GROUP_GET) {
        store_group_t *g = NULL;
        if ((rc = store_group_get(c->store, c->req->id, &g)) < 0)
            ops_store_fail(c, rc);
        else
            ok(c, 200, doc_group(g));
        store_group_free(&g);
    } else {
        group_write(c);
    }
}

/* ---- group rules -------------------------------------------------------------- */

static const doc_field_t RULE_FIELDS[] = {
    {"match_by", DOC_STRING, true},
    {"value", DOC_STRING, true},
    {"groups", DOC_ARRAY, true},
    {"allowed_client_ids", DOC_ARRAY, false},
};
#define N_RULE_FIELDS (sizeof(RULE_FIELDS) / sizeof(RULE_FIELDS[0]))

static int read_rule(ops_call_t *c, store_rule_spec_t *spec, const char ***groups, char **ids)
{
    doc_field_t f[N_RULE_FIELDS];
    memcpy(f, RULE_FIELDS, sizeof(f));
    for (size_t i = 0; c->req->op != RPC_ADMIN_RULE_CREATE && i < N_RULE_FIELDS; i++)
        f[i].required = false;
    json_t *err = NULL;
    if (doc_check(c->body, f, (int)N_RULE_FIELDS, "", &err)) {
        ok(c, 400, err);
        return -1;
    }
    if (read_client_ids(c, ids))
        return -1;
    spec->client_ids = *ids;
    const char *mb = doc_str(c->body, "match_by");
    if (mb && store_match_by_parse(mb, &spec->match_by) < 0) {
        ops_bad_field(c, "match_by", "must be \"client\", \"mqtt_client_id\" or \"certificate_fingerprint\"");
        return -1;
    }
    spec->set_match_by = mb != NULL;
    spec->value = doc_str(c->body, "value");
    const json_t *arr = json_object_get(c->body, "groups");
    if (!arr)
        return 0;
    size_t n = json_array_size(arr);
    *groups = calloc(n + 1, sizeof(char *));
    if (!*groups) {
        ops_error(c->res, 500, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((*groups)[i] = json_string_value(json_array_get(arr, i)))) {
            char field[32];
            snprintf(field, sizeof(field), "groups[%zu]", i);
            ops_bad_field(c, field, "must be a string (a group id)");
            return -1;
        }
    }
    spec->set_groups = true;
    spec->groups = *groups;
    spec->n_groups = n;
    return 0;
}

static void rule_write(ops_call_t *c)
{
    rpc_admin_op_t op = c->req->op;
    store_rule_spec_t spec = {0};
    const char **groups = NULL;
    char *ids = NULL;
    store_rule_t *r = NULL;
    char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX];
    int rc = 0;
    if (op != RPC_ADMIN_RULE_DELETE && read_rule(c, &spec, &groups, &ids) < 0)
        goto out;
    if (op == RPC_ADMIN_RULE_CREATE) {
        if ((rc = store_rule_create(c->store, &spec, &r)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "match_by=%s value=%s groups=%zu", store_match_by_name(r->match_by),
                 KV(v1, r->value), r->n_groups);
        ops_committed(c, RPC_CHANGE_RULE, RPC_CHANGE_CREATE, r->id, NULL, summary);
        ok(c, 201, doc_rule(r));
    } else if (op == RPC_ADMIN_RULE_UPDATE) {
        if ((rc = store_rule_update(c->store, c->req->id, &spec, &r)) < 0)
            goto out;
        char fields[128];
        doc_changed_fields(c->body, fields, sizeof(fields));
        snprintf(summary, sizeof(summary), "changed=%s", fields[0] ? fields : "nothing");
        ops_committed(c, RPC_CHANGE_RULE, RPC_CHANGE_UPDATE, r->id, NULL, summary);
        ok(c, 200, doc_rule(r));
    } else {
        if ((rc = store_rule_get(c->store, c->req->id, &r)) < 0 ||
            (rc = store_rule_delete(c->store, c->req->id)) < 0)
            goto out;
        snprintf(summary, sizeof(summary), "match_by=%s value=%s", store_match_by_name(r->match_by), KV(v1, r->value));
        ops_committed(c, RPC_CHANGE_RULE, RPC_CHANGE_DELETE, r->id, NULL, summary);
        ok(c, 204, NULL);
    }
out:
    if (rc < 0)
        ops_store_fail(c, rc);
    free(groups);
    free(ids);
    store_rule_free(&r);
}

void crud_rule(ops_call_t *c)
{
    int rc;
    if (c->req->op == RPC_ADMIN_RULE_LIST) {
        size_t limit = ops_limit(c);
        store_rule_list_t *l = NULL;
        if (limit && (rc = store_rule_list(c->store, c->req->cursor, limit, &l)) < 0)
            ops_store_fail(c, rc);
        if (!l)
            return;
        json_t *items = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(items, doc_rule(&l->items[i]));
        ok(c, 200, doc_page(items, l->next_cursor, l->total));
        store_rule_list_free(&l);
    } else if (c->req->op == RPC_ADMIN_RULE_GET) {
        store_rule_t *r = NULL;
        if ((rc = store_rule_get(c->store, c->req->id, &r)) < 0)
            ops_store_fail(c, rc);
        else
            ok(c, 200, doc_rule(r));
        store_rule_free(&r);
    } else {
        rule_write(c);
    }
}

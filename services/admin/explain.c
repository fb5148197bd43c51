/* explain: which groups and which ACL entry decide a publish or subscribe
 * (explain.h). */
#include "explain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "acl/grouprule.h"
#include "base/err.h"
#include "doc.h"
#include "mqtt/share.h"
#include "mqtt/topic.h"

typedef struct ctx {
    ops_call_t *c;
    const char *username, *mqtt_id, *topic;
    const char *fingerprint;   /* "SHA256:..." of a device certificate, or NULL */
    json_t *matched_rules;     /* the rules that gave the client its groups */
    acl_action_t action;
    store_client_t *client;
    store_rule_list_t *rules;
    store_group_list_t *groups;
    acl_entry_t *entries;
    size_t *origin; /* entries[i] comes from groups->items[origin[i]] */
    size_t n;
} ctx_t;

static grouprule_str_t gs(const char *s)
{
    return (grouprule_str_t){s, s ? strlen(s) : 0};
}

/* Group ids the rules give this client, then the groups themselves. */
static int resolve_groups(ctx_t *x)
{
    int rc = store_rule_list_all(x->c->store, &x->rules);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    for (size_t i = 0; i < x->rules->n; i++)
        cap += x->rules->items[i].n_groups;
    grouprule_t *gr = calloc(x->rules->n + 1, sizeof(*gr));
    grouprule_str_t *ids = calloc(cap + 1, sizeof(*ids)), *views = calloc(cap + 1, sizeof(*views));
    const char **out = calloc(cap + 1, sizeof(*out));
    size_t k = 0, count = 0;
    rc = gr && ids && views && out ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < x->rules->n; i++) {
        const store_rule_t *r = &x->rules->items[i];
        gr[i] = (grouprule_t){(grouprule_match_by_t)r->match_by, gs(r->value), &views[k], r->n_groups};
        for (size_t g = 0; g < r->n_groups; g++)
            views[k++] = gs(r->groups[g]);
    }
    grouprule_facts_t f = {gs(x->client->id), gs(x->mqtt_id), gs(x->fingerprint)};
    if (!rc)
        rc = grouprule_eval(gr, x->rules->n, &f, ids, cap, &count);
    for (size_t i = 0; !rc && i < x->rules->n; i++) {
        const store_rule_t *r = &x->rules->items[i];
        if (grouprule_matches(&gr[i], &f) &&
            json_array_append_new(x->matched_rules,
                                  json_pack("{s:s, s:s, s:s}", "id", r->id, "match_by",
                                            store_match_by_name(r->match_by), "value", r->value)) < 0)
            rc = -ENOMEM;
    }
    for (size_t i = 0; !rc && i < count; i++)
        out[i] = ids[i].ptr; /* views of NUL-terminated store strings */
    if (!rc)
        rc = store_group_get_many(x->c->store, out, count, &x->groups);
    free(gr);
    free(ids);
    free(views);
    free(out);
    return rc;
}

static int gather_entries(ctx_t *x)
{
    size_t n = 0;
    for (size_t i = 0; i < x->groups->n; i++)
        n += x->groups->items[i].n_acl;
    x->entries = calloc(n + 1, sizeof(*x->entries));
    x->origin = calloc(n + 1, sizeof(*x->origin));
    if (!x->entries || !x->origin)
        return -ENOMEM;
    for (size_t i = 0; i < x->groups->n; i++) {
        const store_group_t *g = &x->groups->items[i];
        for (size_t e = 0; e < g->n_acl; e++, x->n++) {
            x->entries[x->n] = (acl_entry_t){
                .permission = g->acl[e].permission == STORE_DENY ? ACL_DENY : ACL_ALLOW,
                .action = (acl_action_t)g->acl[e].action,
                .topic = {g->acl[e].topic, strlen(g->acl[e].topic)},
            };
            x->origin[x->n] = i;
        }
    }
    return 0;
}

/* How entry i relates to the request: 2 covers/matches it, 1 only overlaps
 * it (subscribe), 0 not at all. */
static int relation(const ctx_t *x, size_t i)
{
    if (!(x->entries[i].action & x->action))
        return 0;
    acl_matcher_t *m = NULL;
    acl_str_t u = {x->username, strlen(x->username)}, cid = {x->mqtt_id, strlen(x->mqtt_id)};
    if (acl_compile(&x->entries[i], 1, u, cid, &m) < 0)
        return 0;
    acl_entry_t e;
    int rel = 0;
    if (acl_get(m, 0, &e) == 0) {
        const char *t; /* a shared subscription is decided on its filter */
        size_t tl;
        share_inner(x->topic, strlen(x->topic), &t, &tl);
        if (acl_filter_covers(e.topic.ptr, e.topic.len, t, tl))
            rel = 2;
        else if (x->action == ACL_SUBSCRIBE && acl_filter_overlaps(e.topic.ptr, e.topic.len, t, tl))
            rel = 1;
    }
    acl_destroy(&m);
    return rel;
}

/* First entry with this permission and at least this relation, or -1. */
static long find_entry(const ctx_t *x, acl_permission_t perm, int min_rel)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->entries[i].permission == perm && relation(x, i) >= min_rel)
            return (long)i;
    return -1;
}

static json_t *matched_doc(const ctx_t *x, long i)
{
    if (i < 0)
        return json_null();
    const store_group_t *g = &x->groups->items[x->origin[i]];
    const acl_entry_t *e = &x->entries[i];
    acl_matcher_t *m = NULL;
    acl_entry_t sub = *e;
    acl_str_t u = {x->username, strlen(x->username)}, cid = {x->mqtt_id, strlen(x->mqtt_id)};
    if (acl_compile(e, 1, u, cid, &m) < 0 || acl_get(m, 0, &sub) < 0)
        sub = *e;
    /* topic: the entry as stored; effective_topic: after %u/%c substitution */
    json_t *d = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:s%, s:s%}}", "group", "id", g->id, "name", g->name,
                          "entry", "permission", e->permission == ACL_DENY ? "deny" : "allow", "action",
                          store_action_name((store_action_t)e->action), "topic", e->topic.ptr, e->topic.len,
                          "effective_topic", sub.topic.ptr, sub.topic.len);
    acl_destroy(&m);
    return d;
}

static void answer(ctx_t *x)
{
    acl_matcher_t *m = NULL;
    acl_str_t u = {x->username, strlen(x->username)}, cid = {x->mqtt_id, strlen(x->mqtt_id)};
    int rc = acl_compile(x->entries, x->n, u, cid, &m);
    const char *decision = "deny";
    char reason[512];
    long hit = -1;
    if (rc == ACL_ESUBST) {
        snprintf(reason, sizeof(reason), "the username or MQTT client id cannot be substituted into a "
                                         "%%u/%%c topic (it contains + # / or starts with $): CONNECT is refused");
    } else if (rc < 0) {
        snprintf(reason, sizeof(reason), "the ACL entries could not be compiled (%s)", roost_strerror(rc));
    } else {
        size_t tl = strlen(x->topic);
        bool allowed;
        acl_sub_result_t sr = ACL_SUB_DENIED;
        if (x->action == ACL_PUBLISH)
            allowed = acl_check_publish(m, x->topic, tl);
        else
            allowed = (sr = acl_check_subscribe(m, x->topic, tl)) != ACL_SUB_DENIED;
        if (allowed) {
            decision = "allow";
            hit = find_entry(x, ACL_ALLOW, 2);
            snprintf(reason, sizeof(reason), "%s", sr == ACL_SUB_GRANTED_FILTERED
                         ? "an allow entry covers the filter; a deny entry overlaps it, so messages on "
                           "denied topics are not delivered"
                         : "an allow entry matches and no deny entry does");
        } else if ((hit = find_entry(x, ACL_DENY, 2)) >= 0) {
            snprintf(reason, sizeof(reason), "a deny entry matches (deny wins over allow)");
        } else if (x->groups->n == 0) {
            snprintf(reason, sizeof(reason), "no group rule gives this client a group: nothing is allowed");
        } else {
            snprintf(reason, sizeof(reason), "denied: no allow entry %s this %s, and nothing is allowed by default",
                     x->action == ACL_PUBLISH ? "matches" : "covers",
                     x->action == ACL_PUBLISH ? "topic" : "filter");
        }
    }
    acl_destroy(&m);
    json_t *groups = json_array();
    for (size_t i = 0; i < x->groups->n; i++)
        json_array_append_new(groups, json_pack("{s:s, s:s}", "id", x->groups->items[i].id, "name",
                                                x->groups->items[i].name));
    x->c->res->status = 200;
    x->c->res->doc = json_pack("{s:s, s:o, s:O, s:o, s:s, s:{s:s, s:s}}", "decision", decision, "groups",
                               groups, "rules", x->matched_rules, "matched", matched_doc(x, hit), "reason",
                               reason, "client", "id", x->client->id, "name", x->client->name);
}

static const doc_field_t FIELDS[] = {
    {"username", DOC_STRING, true},
    {"mqtt_client_id", DOC_STRING, false},
    {"action", DOC_STRING, true},
    {"topic", DOC_STRING, true},
    {"certificate_fingerprint", DOC_STRING, false},
};

static int read_request(ctx_t *x)
{
    ops_call_t *c = x->c;
    json_t *err = NULL;
    if (doc_check(c->body, FIELDS, 5, "", &err)) {
        c->res->status = 400;
        c->res->doc = err;
        return -1;
    }
    x->username = doc_str(c->body, "username");
    x->mqtt_id = doc_str(c->body, "mqtt_client_id") ? doc_str(c->body, "mqtt_client_id") : "";
    x->topic = doc_str(c->body, "topic");
    x->fingerprint = doc_str(c->body, "certificate_fingerprint");
    if (x->fingerprint && !x->fingerprint[0])
        x->fingerprint = NULL;
    if (x->fingerprint &&
        grouprule_check_value(GROUPRULE_CERT_FINGERPRINT, x->fingerprint, strlen(x->fingerprint)) < 0) {
        ops_bad_field(c, "certificate_fingerprint", "must be SHA256: followed by 64 hex digits");
        return -1;
    }
    const char *a = doc_str(c->body, "action");
    if (!strcmp(a, "publish"))
        x->action = ACL_PUBLISH;
    else if (!strcmp(a, "subscribe"))
        x->action = ACL_SUBSCRIBE;
    else {
        ops_bad_field(c, "action", "must be \"publish\" or \"subscribe\"");
        return -1;
    }
    size_t tl = strlen(x->topic);
    if (x->action == ACL_PUBLISH ? topic_check_name(x->topic, tl) < 0 : topic_check_filter(x->topic, tl) < 0) {
        ops_bad_field(c, "topic", x->action == ACL_PUBLISH ? "must be a valid MQTT topic name (no wildcards)"
                                                           : "must be a valid MQTT topic filter");
        return -1;
    }
    share_filter_t sf;
    if (x->action == ACL_SUBSCRIBE && share_parse(x->topic, tl, &sf) < 0) {
        ops_bad_field(c, "topic", "a shared subscription is $share/{name}/{filter}: a name of at least one "
                                  "character without + # /, then a valid filter");
        return -1;
    }
    return 0;
}

void explain_run(ops_call_t *c)
{
    ctx_t x = {.c = c, .matched_rules = json_array()};
    int rc = 0;
    if (!x.matched_rules) {
        ops_error(c->res, 500, "out of memory");
        return;
    }
    if (read_request(&x) < 0) {
        json_decref(x.matched_rules);
        return;
    }
    if ((rc = store_client_get_by_username(c->store, x.username, &x.client)) == ROOST_ENOTFOUND) {
        ops_error(c->res, 404, "no client has this username");
        json_object_set_new(json_object_get(c->res->doc, "details"), "field", json_string("username"));
        rc = 0;
        goto out;
    }
    if (rc < 0 || (rc = resolve_groups(&x)) < 0)
        goto out;
    if ((rc = gather_entries(&x)) < 0)
        goto out;
    answer(&x);
out:
    if (rc == -ENOMEM)
        ops_error(c->res, 500, "out of memory");
    else if (rc < 0)
        ops_store_fail(c, rc);
    free(x.entries);
    free(x.origin);
    store_client_free(&x.client);
    store_rule_list_free(&x.rules);
    store_group_list_free(&x.groups);
    json_decref(x.matched_rules);
}

/* rpc_out: roostctl RPC-mode output: tables, objects, errors (ctl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

typedef struct col {
    const char *title, *key; /* key "acl#" prints an array's length */
} col_t;

typedef struct view {
    const char *noun;
    col_t cols[7];
} view_t;

static const view_t VIEWS[] = {
    {"clients", {{"ID", "id"}, {"NAME", "name"}, {"USERNAME", "username"}, {"AUTH TYPE", "auth_type"}}},
    {"groups", {{"ID", "id"}, {"NAME", "name"}, {"ACL", "acl#"}, {"DESCRIPTION", "description"}}},
    {"rules", {{"ID", "id"}, {"MATCH BY", "match_by"}, {"VALUE", "value"}, {"GROUPS", "groups"}}}, /* names: rpc_rules.c */
    {"connections",
     {{"MQTT CLIENT ID", "mqtt_client_id"}, {"USERNAME", "username"}, {"PEER", "peer"}, {"PROTOCOL", "protocol"},
      {"TRANSPORT", "transport"},
      {"BROKER", "broker"}, {"CONNECTED AT", "connected_at"}}},
    {"tokens", {{"ID", "id"}, {"NAME", "name"}, {"CREATED AT", "created_at"}, {"LAST USED AT", "last_used_at"}}},
    {"pipelines", {{"ID", "id"}, {"NAME", "name"}, {"STATUS", "status"}, {"URL", "url"},
                   {"AUTHORIZATION TOKEN", "authorization_token"}, {"NETWORK TOKEN", "network_token"}}},
    {"mappings", {{"ID", "id"}, {"TOPIC", "topic"}, {"PIPELINE", "pipeline"}, {"PIPELINE NAME", "pipeline_name"}}},
    {"bans", {{"ID", "id"}, {"REASON", "reason"}, {"EXPIRES AT", "expires_at"}, {"BY", "actor"}}},
    {"audit", {{"TIME", "time"}, {"ACTOR", "actor"}, {"ACTION", "action"}, {"OBJECT", "object_id"},
               {"SUMMARY", "summary"}}},
};

/* A cell's text into buf. */
static const char *cell(const json_t *o, const char *key, char *buf, size_t cap)
{
    size_t kl = strlen(key);
    if (kl && key[kl - 1] == '#') {
        char k[32];
        snprintf(k, sizeof(k), "%.*s", (int)(kl - 1), key);
        snprintf(buf, cap, "%zu", json_array_size(json_object_get(o, k)));
        return buf;
    }
    const json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_null(v))
        snprintf(buf, cap, "-");
    else if (json_is_object(v) && json_object_get(v, "name"))
        snprintf(buf, cap, "%s", json_string_value(json_object_get(v, "name")));
    else if (json_is_array(v)) {
        size_t n = 0, i;
        json_t *e;
        json_array_foreach(v, i, e) {
            int w = snprintf(buf + n, cap - n, "%s%s", i ? "," : "", json_is_string(e) ? json_string_value(e) : "?");
            if (w < 0 || (size_t)w >= cap - n)
                break;
            n += (size_t)w;
        }
    }
    return buf;
}

static void print_table(const view_t *v, const json_t *items)
{
    size_t ncol = 0, w[7] = {0};
    char buf[512];
    while (ncol < 7 && v->cols[ncol].title)
        ncol++;
    for (size_t c = 0; c < ncol; c++)
        w[c] = strlen(v->cols[c].title);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) for (size_t c = 0; c < ncol; c++)
    {
        size_t l = strlen(cell(it, v->cols[c].key, buf, sizeof(buf)));
        if (l > w[c])
            w[c] = l > 60 ? 60 : l;
    }
    for (size_t c = 0; c < ncol; c++)
        printf("%-*s%s", c + 1 < ncol ? (int)w[c] : 0, v->cols[c].title, c + 1 < ncol ? "  " : "\n");
    json_array_foreach(items, i, it) for (size_t c = 0; c < ncol; c++)
        printf("%-*.60s%s", c + 1 < ncol ? (int)w[c] : 0, cell(it, v->cols[c].key, buf, sizeof(buf)),
               c + 1 < ncol ? "  " : "\n");
}

static void print_object(const json_t *o, int indent)
{
    const char *k;
    json_t *v;
    char buf[1024];
    json_object_foreach((json_t *)o, k, v) {
        if (json_is_object(v) && !json_object_get(v, "name")) {
            printf("%*s%s:\n", indent, "", k);
            print_object(v, indent + 2);
        } else if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
            printf("%*s%s:\n", indent, "", k);
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                char *t = json_dumps(e, JSON_COMPACT);
                printf("%*s- %s\n", indent + 2, "", t ? t : "");
                free(t);
            }
        } else {
            printf("%*s%s: %s\n", indent, "", k, cell(o, k, buf, sizeof(buf)));
        }
    }
}

void ctl_rpc_print(const char *noun, const json_t *doc, bool json)
{
    if (!doc)
        return;
    if (json) {
        char *t = json_dumps(doc, JSON_COMPACT);
        if (t)
            puts(t);
        free(t);
        return;
    }
    if (!strcmp(noun, "status")) {
        ctl_status_print(doc);
        return;
    }
    const json_t *items = json_object_get(doc, "items");
    for (size_t i = 0; json_is_array(items) && i < sizeof(VIEWS) / sizeof(VIEWS[0]); i++) {
        if (!strcmp(VIEWS[i].noun, noun)) {
            print_table(&VIEWS[i], items);
            const char *next = json_string_value(json_object_get(doc, "next_cursor"));
            if (next)
                printf("next cursor: %s\n", next);
            return;
        }
    }
    print_object(doc, 0);
}

int ctl_rpc_fail(unsigned status, const json_t *doc, bool json)
{
    const char *msg = json_string_value(json_object_get(doc, "error"));
    const json_t *d = json_object_get(doc, "details");
    const char *field = json_string_value(json_object_get(d, "field"));
    fprintf(stderr, "roostctl: %s", msg ? msg : "request failed");
    if (field)
        fprintf(stderr, " (field: %s)", field);
    const json_t *ids = json_object_get(d, "rules") ? json_object_get(d, "rules") : json_object_get(d, "ids");
    size_t i;
    json_t *e;
    json_array_foreach(ids, i, e) fprintf(stderr, "%s%s", i ? ", " : " [", json_string_value(e));
    fprintf(stderr, "%s [HTTP %u]\n", json_array_size(ids) ? "]" : "", status);
    if (json)
        ctl_rpc_print("", doc, true);
    switch (status) {
    case 400: case 413: return CTL_INVALID;
    case 401: return CTL_UNAUTHORIZED;
    case 404: return CTL_NOTFOUND;
    case 409: return CTL_CONFLICT;
    default: return CTL_UNAVAILABLE;
    }
}

/* doc: admin API JSON documents (doc.h). */
#include "doc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void doc_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

json_t *doc_time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char t[32];
    doc_time(ms, t);
    return json_string(t);
}

json_t *doc_client(const store_client_t *c)
{
    /* a certificate client has no username: null */
    return json_pack("{s:s, s:s, s:s, s:s?, s:b, s:o, s:o}", "id", c->id, "name", c->name, "auth_type",
                     c->auth_type ? c->auth_type : "username_password", "username",
                     c->username && c->username[0] ? c->username : NULL,
                     "password_set", c->has_password, "created_at", doc_time_json(c->created_at),
                     "updated_at", doc_time_json(c->updated_at));
}

json_t *doc_cert(const store_cert_t *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "fingerprint", c->fingerprint, "subject",
                     c->subject ? c->subject : "", "issuer", c->issuer ? c->issuer : "", "serial",
                     c->serial ? c->serial : "", "not_before", doc_time_json(c->not_before * 1000),
                     "not_after", doc_time_json(c->not_after * 1000));
}

json_t *doc_group(const store_group_t *g)
{
    json_t *acl = json_array();
    for (size_t i = 0; acl && i < g->n_acl; i++)
        json_array_append_new(acl, json_pack("{s:s, s:s, s:s}", "permission",
                                             store_permission_name(g->acl[i].permission), "action",
                                             store_action_name(g->acl[i].action), "topic",
                                             g->acl[i].topic));
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o}", "id", g->id, "name", g->name,
                     "description", g->description ? g->description : "", "acl", acl, "max_msg_rate",
                     (json_int_t)g->max_msg_rate, "max_byte_rate", (json_int_t)g->max_byte_rate,
                     "created_at", doc_time_json(g->created_at), "updated_at", doc_time_json(g->updated_at));
}

json_t *doc_rule(const store_rule_t *r)
{
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < r->n_groups; i++)
        json_array_append_new(groups, json_string(r->groups[i]));
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", r->id, "match_by",
                     store_match_by_name(r->match_by), "value", r->value, "groups", groups,
                     "allowed_client_ids", doc_lines(r->client_ids), "created_at",
                     doc_time_json(r->created_at), "updated_at", doc_time_json(r->updated_at));
}

json_t *doc_lines(const char *text)
{
    json_t *arr = json_array();
    for (const char *p = text ? text : ""; arr && *p;) {
        size_t len = strcspn(p, "\n");
        json_array_append_new(arr, json_stringn(p, len));
        p += len + (p[len] == '\n');
    }
    return arr;
}

static const char *protocol_name(int p)
{
    return p == 3 ? "3.1" : p == 4 ? "3.1.1" : p == 5 ? "5.0" : "unknown";
}

json_t *doc_conn(const store_conn_t *c)
{
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < c->n_groups; i++)
        json_array_append_new(groups, json_string(c->groups[i]));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:s, s:o}", "mqtt_client_id",
                     c->mqtt_client_id, "client_id", c->client_id, "username", c->username, "peer",
                     c->peer, "transport", c->transport ? c->transport : "", "protocol", protocol_name(c->protocol), "protocol_level", c->protocol,
                     "keepalive", c->keepalive, "connected_at", doc_time_json(c->connected_at),
                     "broker", c->broker ? c->broker : "", "groups", groups);
}

json_t *doc_audit(const store_audit_t *a)
{
    return json_pack("{s:s, s:o, s:{s:s, s:s}, s:s, s:s, s:s}", "id", a->id, "time",
                     doc_time_json(a->time), "actor", "id", a->actor_id, "name", a->actor_name,
                     "action", a->action, "object_id", a->object_id, "summary", a->summary);
}

json_t *doc_token(const store_token_t *t)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "id", t->id, "name", t->name, "created_at",
                     doc_time_json(t->created_at), "last_used_at", doc_time_json(t->last_used_at));
}

json_t *doc_page(json_t *items, const char *cursor, uint64_t total)
{
    return json_pack("{s:o, s:o, s:I}", "items", items, "next_cursor",
                     cursor ? json_string(cursor) : json_null(), "total", (json_int_t)total);
}

json_t *doc_error(const char *code, const char *message, json_t *details)
{
    return json_pack("{s:s, s:s, s:o}", "error", message, "code", code, "details",
                     details ? details : json_object());
}

static const char *kind_name(doc_kind_t k)
{
    return k == DOC_STRING ? "a string"
           : k == DOC_ARRAY ? "an array"
           : k == DOC_INT   ? "an integer"
           : k == DOC_BOOL  ? "true or false"
                            : "an object";
}

static bool kind_ok(const json_t *v, doc_kind_t k)
{
    return k == DOC_STRING ? json_is_string(v)
           : k == DOC_ARRAY ? json_is_array(v)
           : k == DOC_INT   ? json_is_integer(v)
           : k == DOC_BOOL  ? json_is_boolean(v)
                            : json_is_object(v);
}

static json_t *field_error(const char *where, const char *name, const char *reason)
{
    char field[300], msg[400];
    snprintf(field, sizeof(field), "%s%s", where, name);
    snprintf(msg, sizeof(msg), "%s %s", field, reason);
    return doc_error("BAD_REQUEST", msg, json_pack("{s:s, s:s}", "field", field, "reason", reason));
}

int doc_check(const json_t *body, const doc_field_t *fields, size_t n, const char *where, json_t **err)
{
    *err = NULL;
    if (!json_is_object(body)) {
        *err = where[0] ? field_error("", where, "must be an object")
                        : doc_error("BAD_REQUEST", "the body must be a JSON object", NULL);
        return -1;
    }
    json_t *unknown = json_array();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        size_t i = 0;
        while (i < n && strcmp(fields[i].name, key))
            i++;
        if (i == n) {
            json_array_append_new(unknown, json_string(key));
        } else if (!kind_ok(v, fields[i].kind)) {
            char reason[40];
            snprintf(reason, sizeof(reason), "must be %s", kind_name(fields[i].kind));
            json_decref(unknown);
            *err = field_error(where, key, reason);
            return -1;
        }
    }
    if (json_array_size(unknown)) {
        char msg[400], field[300];
        const char *first = json_string_value(json_array_get(unknown, 0));
        snprintf(field, sizeof(field), "%s%s", where, first);
        snprintf(msg, sizeof(msg), "unknown field%s: %s%s", json_array_size(unknown) > 1 ? "s" : "",
                 field, json_array_size(unknown) > 1 ? ", ..." : "");
        *err = doc_error("BAD_REQUEST", msg,
                         json_pack("{s:s, s:s, s:o}", "field", field, "reason", "unknown field", "unknown", unknown));
        return -1;
    }
    json_decref(unknown);
    for (size_t i = 0; i < n; i++) {
        if (fields[i].required && !json_object_get(body, fields[i].name)) {
            *err = field_error(where, fields[i].name, "is required");
            return -1;
        }
    }
    return 0;
}

const char *doc_str(const json_t *body, const char *name)
{
    return json_string_value(json_object_get(body, name));
}

/* Names the fields present in body, for audit summaries ("name,password"). */
void doc_changed_fields(const json_t *body, char *out, size_t cap)
{
    const char *key;
    json_t *v;
    size_t n = 0;
    out[0] = '\0';
    json_object_foreach((json_t *)body, key, v) {
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", key);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

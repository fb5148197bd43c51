/* rpc_rules: `roostctl rules list` as text shows what the console shows:
 * the client a rule matches and its groups by name (ids stay in --json).
 * Names come from one page (up to 1000) of clients and of groups; an id
 * not among them is printed as is. */
#include <string.h>

#include "ctl.h"

/* id -> name of every item of one list call; NULL when the call failed. */
static json_t *names_of(const ctl_rpc_t *r, rpc_admin_op_t op)
{
    rpc_admin_request_t req = {.op = op, .limit = 1000};
    unsigned status = 0;
    json_t *doc = NULL;
    if (ctl_rpc_call(r, &req, &status, &doc) != CTL_OK || status != 200) {
        json_decref(doc);
        return NULL;
    }
    json_t *map = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(doc, "items"), i, it) {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *name = json_string_value(json_object_get(it, "name"));
        if (id && name)
            json_object_set_new(map, id, json_string(name));
    }
    json_decref(doc);
    return map;
}

static json_t *named(const json_t *map, const json_t *id)
{
    const json_t *n = json_is_string(id) ? json_object_get(map, json_string_value(id)) : NULL;
    return json_incref((json_t *)(n ? n : id));
}

int ctl_rules_list(const ctl_rpc_t *r, const rpc_admin_request_t *req)
{
    unsigned status = 0;
    json_t *doc = NULL;
    int rc = ctl_rpc_call(r, req, &status, &doc);
    if (rc == CTL_OK && status >= 300)
        rc = ctl_rpc_fail(status, doc, false);
    if (rc != CTL_OK) {
        json_decref(doc);
        return rc;
    }
    json_t *clients = names_of(r, RPC_ADMIN_CLIENT_LIST), *groups = names_of(r, RPC_ADMIN_GROUP_LIST);
    size_t i, k;
    json_t *it, *g;
    json_array_foreach(json_object_get(doc, "items"), i, it) {
        const char *by = json_string_value(json_object_get(it, "match_by"));
        if (by && !strcmp(by, "client"))
            json_object_set_new(it, "value", named(clients, json_object_get(it, "value")));
        json_t *names = json_array();
        json_array_foreach(json_object_get(it, "groups"), k, g) json_array_append_new(names, named(groups, g));
        json_object_set_new(it, "groups", names);
    }
    ctl_rpc_print("rules", doc, false);
    json_decref(clients);
    json_decref(groups);
    json_decref(doc);
    return CTL_OK;
}

/* bans: the /api/v1/bans operations (ops.h ban_ops). A new ban also kicks
 * the live connections it matches, on whichever broker holds them, through
 * the same change event as a manual kick (brokers with --admin-events close
 * them at once); authd refuses their next CONNECT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "doc.h"
#include "ops.h"
#include "rpc/rpc.h"
#include "store/bans.h"
#include "store/registry.h"

static json_t *doc_ban(const store_ban_t *b)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", b->id, "kind", b->kind, "value", b->value,
                     "reason", b->reason, "actor", b->actor, "created_at", (json_int_t)b->created_at,
                     "expires_at", (json_int_t)b->expires_at);
}

static bool matches(const store_ban_t *b, const cidr_t *range, const store_conn_t *c)
{
    if (!strcmp(b->kind, "client_id"))
        return !strcmp(c->mqtt_client_id, b->value);
    if (!strcmp(b->kind, "username"))
        return c->username && !strcmp(c->username, b->value);
    cidr_t a;
    return cidr_parse_peer(c->peer, &a) == 0 && cidr_match(range, a.addr);
}

/* Kicks every live connection the ban matches; returns how many. */
static size_t kick_matches(ops_call_t *c, const store_ban_t *b)
{
    cidr_t range = {.bits = 0};
    if (!strcmp(b->kind, "cidr"))
        cidr_parse(b->value, strlen(b->value), &range);
    size_t kicked = 0;
    char *cursor = NULL;
    do {
        store_conn_page_t *p = NULL;
        const char *search = strcmp(b->kind, "client_id") ? NULL : b->value;
        if (store_conn_list(c->store, cursor, 1000, search, &p) < 0)
            break;
        for (size_t i = 0; i < p->n; i++) {
            if (!matches(b, &range, &p->items[i]))
                continue;
            char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX], v2[OPS_KV_MAX];
            snprintf(summary, sizeof(summary), "ban=%s broker=%s", KV(v1, b->id), KV(v2, p->items[i].broker));
            ops_committed(c, RPC_CHANGE_CONNECTION, RPC_CHANGE_DELETE, p->items[i].mqtt_client_id, NULL, summary);
            kicked++;
        }
        free(cursor);
        cursor = p->next_cursor ? strdup(p->next_cursor) : NULL;
        store_conn_page_free(&p);
    } while (cursor);
    return kicked;
}

static void ban_create(ops_call_t *c)
{
    static const doc_field_t FIELDS[] = {
        {"kind", DOC_STRING, true}, {"value", DOC_STRING, true}, {"reason", DOC_STRING, false},
        {"expires_in_s", DOC_INT, false},
    };
    json_t *err = NULL;
    if (doc_check(c->body, FIELDS, sizeof(FIELDS) / sizeof(FIELDS[0]), "", &err)) {
        c->res->status = 400;
        c->res->doc = err;
        return;
    }
    json_t *ttl = json_object_get(c->body, "expires_in_s");
    json_int_t secs = ttl ? json_integer_value(ttl) : 0;
    if (ttl && (secs < 1 || secs > 10LL * 365 * 86400)) {
        ops_bad_field(c, "expires_in_s", "must be 1 second to 10 years (omit it: the ban never expires)");
        return;
    }
    int64_t expires_at = secs ? (int64_t)rpc_unix_ms() + (int64_t)secs * 1000 : 0;
    store_ban_t *b = NULL;
    int rc = store_ban_put(c->store, doc_str(c->body, "kind"), doc_str(c->body, "value"),
                           doc_str(c->body, "reason"), expires_at, c->actor->name, &b);
    if (rc < 0) {
        ops_store_fail(c, rc);
        return;
    }
    char summary[OPS_SUMMARY_MAX], v1[OPS_KV_MAX];
    snprintf(summary, sizeof(summary), "reason=%s expires_at=%lld", KV(v1, b->reason), (long long)b->expires_at);
    ops_committed(c, 0, 0, b->id, NULL, summary);
    size_t kicked = kick_matches(c, b);
    json_t *d = doc_ban(b);
    json_object_set_new(d, "kicked", json_integer((json_int_t)kicked));
    c->res->status = 201;
    c->res->doc = d;
    store_ban_free(&b);
}

void ban_ops(ops_call_t *c)
{
    int rc;
    if (c->req->op == RPC_ADMIN_BAN_CREATE) {
        ban_create(c);
    } else if (c->req->op == RPC_ADMIN_BAN_DELETE) {
        if ((rc = store_ban_delete(c->store, c->req->id ? c->req->id : "")) < 0) {
            ops_store_fail(c, rc);
            return;
        }
        ops_committed(c, 0, 0, c->req->id, NULL, "");
        c->res->status = 204;
    } else {
        store_ban_list_t *l = NULL;
        if ((rc = store_ban_list(c->store, (int64_t)rpc_unix_ms(), &l)) < 0) {
            ops_store_fail(c, rc);
            return;
        }
        json_t *items = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(items, doc_ban(&l->items[i]));
        c->res->status = 200;
        c->res->doc = json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)l->n);
        store_ban_list_free(&l);
    }
}

/* status: the overview and instance operations (ops.h status_ops): read-only
 * views of fleet.h's collected records. The list cursor carries "history
 * after this unix ms" so pages poll for new points only. */
#include <errno.h>
#include <stdlib.h>

#include "doc.h"
#include "ops.h"

void status_ops(ops_call_t *c)
{
    fleet_t *f = ops_fleet(c->ops);
    const char *cur = c->req->cursor;
    int64_t since = 0;
    if (cur && *cur) {
        char *end;
        errno = 0;
        long long v = strtoll(cur, &end, 10);
        if (errno || *end || v < 0) {
            ops_bad_field(c, "cursor", "must be a unix time in milliseconds (points after it are returned)");
            return;
        }
        since = v;
    }
    if (!f) {
        ops_error(c->res, 503, "instance statistics are not collected by this admin");
        return;
    }
    switch (c->req->op) {
    case RPC_ADMIN_OVERVIEW:
        c->res->doc = fleet_overview(f, since);
        c->res->status = 200;
        break;
    case RPC_ADMIN_INSTANCE_LIST:
        c->res->doc = fleet_instances(f);
        c->res->status = 200;
        break;
    default: {
        bool found = false;
        c->res->doc = fleet_instance(f, c->req->id, since, &found);
        c->res->status = 200;
        if (!found) {
            c->res->status = 404;
            c->res->doc = doc_error("NOT_FOUND", "no such instance (ids are <kind>:<id>, e.g. broker:broker-1)",
                                    NULL);
        }
        break;
    }
    }
}

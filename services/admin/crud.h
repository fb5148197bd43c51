/* crud: the client, group and group-rule operations of ops (list, get,
 * create, update, delete), through lib/store. Called by ops_call with a
 * borrowed store handle; each fills c->res. Writes call ops_committed. */
#ifndef ROOST_ADMIN_CRUD_H
#define ROOST_ADMIN_CRUD_H

#include "ops.h"

void crud_client(ops_call_t *c);
void crud_group(ops_call_t *c);
void crud_rule(ops_call_t *c);

#endif

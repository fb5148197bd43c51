/* pipes: the pipeline and topic-mapping operations of ops (list, get,
 * create, update, delete) through lib/store/pipelines.h. Called by ops_call
 * with a borrowed store handle; each fills c->res. Writes are audited and
 * announced as RPC_CHANGE_ROUTES, so brokers and forwarders reload at once.
 * Tokens are write-only: documents show "********" when one is set (and
 * *_token_set), summaries name changed fields only, and the request body's
 * token strings are wiped before it is freed. */
#ifndef ROOST_ADMIN_PIPES_H
#define ROOST_ADMIN_PIPES_H

#include "ops.h"

void pipes_pipeline(ops_call_t *c);
void pipes_mapping(ops_call_t *c);

#endif

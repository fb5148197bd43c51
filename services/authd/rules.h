/* rules: which groups a CONNECT belongs to (DESIGN.md "Access model", group
 * rules): an adapter from the store's rule list to lib/acl's grouprule
 * matcher, which owns the semantics (`*` patterns, fingerprints, union in
 * order of first appearance, each group once). No I/O, never blocks.
 *
 * A rule list is compiled once (rules_compile: the grouprule views of every
 * rule) and then evaluated per CONNECT without building anything again
 * (authd keeps the compiled form in its config snapshot, see authz.h).
 */
#ifndef ROOST_AUTHD_RULES_H
#define ROOST_AUTHD_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "acl/grouprule.h"
#include "store/store.h"

/* What a rule can match on. client_id NULL: anonymous, and then only
 * mqtt_client_id rules apply (no client or certificate facts are given).
 * cert_fingerprint "" or NULL: no certificate. */
typedef struct rules_facts {
    const char *client_id;        /* store client id */
    const char *mqtt_client_id;
    const char *cert_fingerprint;
} rules_facts_t;

/* Views of a store_rule_list_t for grouprule_eval; borrows the list (which
 * must outlive it). n_ids is the sum of the rules' group counts: enough
 * room for any evaluation. */
typedef struct rules_compiled {
    const store_rule_list_t *rules; /* borrowed: gr[i] is rules->items[i] */
    grouprule_t *gr;
    size_t n;
    grouprule_str_t *ids;
    size_t n_ids;
} rules_compiled_t;

/* 0 or -ENOMEM (out is then empty). */
int rules_compile(const store_rule_list_t *rules, rules_compiled_t *out);
void rules_compiled_fini(rules_compiled_t *c);

/* Writes the matched group ids (views of the list's NUL-terminated ids) to
 * out, deduplicated, in rule order; cap is out's room (at most max groups
 * are accepted: pass cap = min(max, c->n_ids)). Returns the count,
 * ROOST_ELIMIT when more than cap distinct groups match. Allocates nothing. */
int rules_eval(const rules_compiled_t *c, const rules_facts_t *f, grouprule_str_t *out, size_t cap);

/* False when a rule these facts match carries allowed MQTT client ids
 * (store_rule_t client_ids, clientid.h patterns with %u = username, NULL
 * anonymous) and the CONNECT's id is none of them. */
bool rules_client_id_allowed(const rules_compiled_t *c, const rules_facts_t *f, const char *username);

#endif

/* rules: which groups a CONNECT belongs to (DESIGN.md "Access model", group
 * rules): an adapter from the store's rule list to lib/acl's grouprule
 * matcher, which owns the semantics (`*` patterns, fingerprints, union in
 * order of first appearance, each group once). No I/O, never blocks.
 */
#ifndef ROOST_AUTHD_RULES_H
#define ROOST_AUTHD_RULES_H

#include <stddef.h>

#include "store/store.h"

/* What a rule can match on. client_id NULL: anonymous, and then only
 * mqtt_client_id rules apply (no client or certificate facts are given).
 * cert_fingerprint "" or NULL: no certificate. */
typedef struct rules_facts {
    const char *client_id;        /* store client id */
    const char *mqtt_client_id;
    const char *cert_fingerprint;
} rules_facts_t;

/* Fills ids with the matched group ids (NUL-terminated strings owned by
 * `rules`, valid while it lives), deduplicated, in rule order, at most max.
 * Returns the count, ROOST_ELIMIT when more than max distinct groups match,
 * or -ENOMEM. */
int rules_evaluate(const store_rule_list_t *rules, const rules_facts_t *f, const char **ids, size_t max);

#endif

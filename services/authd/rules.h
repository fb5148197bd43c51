/* rules: which groups a CONNECT belongs to (DESIGN.md "Access model", group
 * rules). A client belongs to the union of the groups of every rule it
 * matches, in rule order, each group once.
 *
 * MINIMAL INTERNAL MATCHER: lib/acl is to offer the group-rule matcher
 * (`*` patterns); until it does, rules_glob below is the stand-in. Replace
 * rules_glob with the lib/acl call when it lands; rules_evaluate keeps its
 * contract. Pure: no I/O, no logging, never blocks.
 */
#ifndef ROOST_AUTHD_RULES_H
#define ROOST_AUTHD_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* What a rule can match on. client_id NULL: anonymous (only mqtt_client_id
 * rules apply). cert_fingerprint "" or NULL: no certificate. */
typedef struct rules_facts {
    const char *client_id;        /* store client id */
    const char *mqtt_client_id;
    const char *cert_fingerprint;
} rules_facts_t;

/* True when text matches pattern, where '*' matches any run of bytes
 * (including none) and every other byte matches itself. Linear time. */
bool rules_glob(const char *pattern, const char *text);

/* Fills ids with the matched group ids (views into `rules`, valid while it
 * lives), deduplicated, in rule order, at most max. Returns the count, or
 * ROOST_ELIMIT when more than max distinct groups match. */
int rules_evaluate(const store_rule_list_t *rules, const rules_facts_t *f, const char **ids, size_t max);

#endif

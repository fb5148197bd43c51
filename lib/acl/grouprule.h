/* grouprule: which groups a connecting client belongs to (DESIGN.md "Access
 * model", Group rule). Pure: no sockets, clock, logging, globals, and no
 * allocation at all; every string is a borrowed (ptr, len) view.
 *
 * A rule is {match_by, value, groups[]}:
 *   GROUPRULE_CLIENT          value == the client id in the store, exactly.
 *   GROUPRULE_MQTT_CLIENT_ID  value is a pattern on the MQTT client id the
 *                             device sent: exact text, where each '*'
 *                             matches any run of bytes (also empty); no
 *                             other metacharacters, no escapes. Matching is
 *                             greedy and never backtracks (O(len) with
 *                             glibc's two-way memmem, O(pattern x len) at
 *                             worst on any libc), never exponential.
 *   GROUPRULE_CERT_FINGERPRINT value and the presented fingerprint both read
 *                             "SHA256:<hex>"; the "SHA256:" prefix must be
 *                             exact, the rest compares ASCII
 *                             case-insensitively. Never matches when no
 *                             fingerprint was presented.
 * A rule with an empty value matches nothing, except an empty
 * GROUPRULE_MQTT_CLIENT_ID pattern, which is exact text and matches an empty
 * client id only.
 * A client belongs to the union of the groups of every rule it matches,
 * deduplicated (byte equality), in order of first appearance.
 * Nothing in this module blocks or allocates.
 */
#ifndef ROOST_ACL_GROUPRULE_H
#define ROOST_ACL_GROUPRULE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* A (ptr, len) view; ptr == NULL means absent (ptr may be NULL with len 0
 * only). Borrowed everywhere in this module. */
typedef struct grouprule_str {
    const char *ptr;
    size_t len;
} grouprule_str_t;

typedef enum grouprule_match_by {
    GROUPRULE_CLIENT = 0,
    GROUPRULE_MQTT_CLIENT_ID = 1,
    GROUPRULE_CERT_FINGERPRINT = 2,
} grouprule_match_by_t;

typedef struct grouprule {
    grouprule_match_by_t match_by;
    grouprule_str_t value;
    const grouprule_str_t *groups; /* group ids; may be NULL when n_groups is 0 */
    size_t n_groups;
} grouprule_t;

/* What is known about a connecting client. */
typedef struct grouprule_facts {
    grouprule_str_t client_id;      /* id of the client in the store */
    grouprule_str_t mqtt_client_id; /* as sent in CONNECT (may be empty) */
    grouprule_str_t fingerprint;    /* "SHA256:..."; ptr NULL: none presented */
} grouprule_facts_t;

/* True iff rule r matches these facts. An unknown match_by matches nothing. */
bool grouprule_matches(const grouprule_t *r, const grouprule_facts_t *f);

/* Evaluates n rules (rules may be NULL when n is 0) and writes the distinct
 * group ids of the matching rules to out[0 .. *count), in order of first
 * appearance. The views point into the rules' group arrays (borrowed from
 * the caller, valid as long as they are). cap = the sum of n_groups over all
 * rules is always enough. Returns 0, or ROOST_ELIMIT when more than cap
 * distinct groups matched (out then holds the first cap, *count == cap).
 * Allocates nothing; O(groups matched x distinct groups) for deduplication. */
int grouprule_eval(const grouprule_t *rules, size_t n, const grouprule_facts_t *f,
                   grouprule_str_t *out, size_t cap, size_t *count);

/* The '*' pattern matcher used for GROUPRULE_MQTT_CLIENT_ID, exposed for
 * admin previews and tests. Complexity as above; no allocation. */
bool grouprule_pattern_match(const char *pat, size_t pat_len, const char *s, size_t len);

/* Admin-side validation of a rule value: 0, or ROOST_EINVAL when the value is
 * empty, longer than 65535 bytes, contains a control byte, or (for
 * GROUPRULE_CERT_FINGERPRINT) is not "SHA256:" followed by 64 hex digits. */
int grouprule_check_value(grouprule_match_by_t match_by, const char *value, size_t len);

#endif

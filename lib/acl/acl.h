/* acl: compile a connection's ACL entries into a matcher, and decide
 * PUBLISH, SUBSCRIBE and delivery with it (DESIGN.md "Access model"). Pure:
 * no sockets, clock, logging, globals; the only allocation is the matcher.
 *
 * An entry is {allow|deny, publish|subscribe|both, topic filter}. A filter
 * level that is exactly "%u" or "%c" is replaced at compile time by the
 * username or the MQTT client id; any other '%' is literal text ("a%u" stays
 * "a%u"). Values that would change the shape of the filter are refused with
 * ACL_ESUBST so the broker can refuse the CONNECT:
 *   - a value containing '+', '#' or '/';
 *   - an empty value, or no username at all (NULL ptr) for "%u";
 *   - a value starting with '$' substituted into the FIRST level (it would
 *     turn "%c/#" into a "$SYS/#" style grant);
 *   - a substituted filter longer than an MQTT topic allows (65535 bytes).
 * These apply only to entries that use the substitution.
 *
 * Decisions (deny wins, nothing matching is denied):
 *   publish    allowed iff the topic matches an allow entry (publish|both)
 *              and no deny entry (publish|both).
 *   subscribe  DENIED unless some single allow entry (subscribe|both)
 *              COVERS the filter (every topic the filter can match, the
 *              entry matches too); DENIED if a deny entry (subscribe|both)
 *              covers it; GRANTED_FILTERED if a deny entry only OVERLAPS it
 *              (some topic matches both); otherwise GRANTED.
 *   deliver    for a GRANTED_FILTERED subscription, a message is delivered
 *              iff no deny entry (subscribe|both) matches its topic.
 * Topics starting with '$' are not matched by filters whose first level is a
 * wildcard [MQTT-4.7.2-1]; covers/overlaps honour that ("#" does not cover
 * "$SYS/#" and does not overlap it).
 *
 * Invariants of a compiled matcher: immutable after acl_compile, so one may
 * be read from any thread; one heap block (header, entries, substituted
 * strings); every filter in it passed topic_check_filter. Nothing in this
 * module blocks, and only acl_compile allocates.
 */
#ifndef ROOST_ACL_ACL_H
#define ROOST_ACL_ACL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* A substituted %u/%c value was refused (see above). An alias of a code in
 * base/err.h's one space, distinct from everything else acl_compile returns;
 * the broker answers CONNACK "not authorized". */
#define ACL_ESUBST ROOST_EAUTH_NOT_AUTHORIZED

/* A (ptr, len) string view; borrowed. ptr == NULL means "absent" (e.g. no
 * username); ptr may be NULL with len 0 only. */
typedef struct acl_str {
    const char *ptr;
    size_t len;
} acl_str_t;

typedef enum acl_permission {
    ACL_ALLOW = 0,
    ACL_DENY = 1,
} acl_permission_t;

/* A bit set: ACL_BOTH == ACL_PUBLISH | ACL_SUBSCRIBE. */
typedef enum acl_action {
    ACL_PUBLISH = 1,
    ACL_SUBSCRIBE = 2,
    ACL_BOTH = 3,
} acl_action_t;

/* One entry as authd sends it (input of acl_compile), or as a compiled
 * matcher holds it (output of acl_get, topic after substitution). */
typedef struct acl_entry {
    acl_permission_t permission;
    acl_action_t action;
    acl_str_t topic;
} acl_entry_t;

/* Outcome of acl_check_subscribe (not an error code). */
typedef enum acl_sub_result {
    ACL_SUB_DENIED = 0,
    ACL_SUB_GRANTED = 1,          /* no deny entry can match any of its topics */
    ACL_SUB_GRANTED_FILTERED = 2, /* check each message with acl_check_deliver */
} acl_sub_result_t;

typedef struct acl_matcher acl_matcher_t;

/* Compiles n entries (entries may be NULL when n is 0) for a connection with
 * this username (ptr NULL: none) and MQTT client id. On success returns 0 and
 * sets *out; the caller owns the result (acl_destroy). The matcher copies
 * everything it keeps; the arguments are borrowed. On failure *out is NULL
 * and the return is:
 *   ROOST_EINVAL  an entry has an unknown permission or action, or its topic
 *                 is not a valid filter (acl_check_entry_topic fails);
 *   ACL_ESUBST    a %u/%c value was refused (see the top of this file);
 *   ROOST_ELIMIT  the compiled strings would exceed 4 GiB;
 *   -ENOMEM.
 * One bad entry fails the whole compile (fail closed). Never blocks. */
int acl_compile(const acl_entry_t *entries, size_t n, acl_str_t username, acl_str_t client_id,
                acl_matcher_t **out);

/* Frees *m and sets it to NULL; a no-op when *m is NULL. */
void acl_destroy(acl_matcher_t **m);

/* True iff the client may publish to this topic name. An invalid name
 * (topic_check_name fails) is denied. */
bool acl_check_publish(const acl_matcher_t *m, const char *topic, size_t len);

/* The decision for a SUBSCRIBE to this filter. A shared subscription
 * "$share/{name}/{filter}" (mqtt/share.h) is decided on its filter alone, so
 * the prefix neither grants nor bypasses anything. An invalid filter (or
 * shared filter) is ACL_SUB_DENIED. */
acl_sub_result_t acl_check_subscribe(const acl_matcher_t *m, const char *filter, size_t len);

/* Per-message check for ACL_SUB_GRANTED_FILTERED subscriptions: false iff a
 * deny entry (subscribe|both) matches the topic, which must be a valid topic
 * name (it was accepted in a PUBLISH). O(1) when the matcher has no such
 * entry. */
bool acl_check_deliver(const acl_matcher_t *m, const char *topic, size_t len);

/* Number of compiled entries, and entry i (0 <= i < count) in compiled order:
 * deny entries first, then allow entries, each in input order. out->topic is
 * the substituted filter, a view into m valid while m lives. ROOST_EINVAL if
 * i is out of range. For diagnostics and tests. */
size_t acl_count(const acl_matcher_t *m);
int acl_get(const acl_matcher_t *m, size_t i, acl_entry_t *out);

/* Admin-side validation of an entry's topic: 0 if it is a valid MQTT filter
 * once "%u"/"%c" levels are read as plain levels, else ROOST_EINVAL. */
int acl_check_entry_topic(const char *filter, size_t len);

/* Filter algebra over two valid filters (results are unspecified, but memory
 * safe, for invalid ones). */
/* True iff every topic name `sub` matches is matched by `cover`. */
bool acl_filter_covers(const char *cover, size_t cover_len, const char *sub, size_t sub_len);
/* True iff some topic name is matched by both filters. */
bool acl_filter_overlaps(const char *a, size_t a_len, const char *b, size_t b_len);

#endif

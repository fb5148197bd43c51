/* doc: the JSON documents of the admin API (issue 4), through jansson only.
 *
 * Output: store objects -> the API's JSON shapes (never a password, hash or
 * token secret), RFC 3339 UTC times with milliseconds, the error document
 * {"error","code","details"}.
 * Input: strict readers for request bodies: a body must be an object, every
 * member must be one the operation knows (else 400 naming them) and of the
 * right type (else 400 naming the field).
 *
 * Pure apart from allocation; thread-safe. All json_t results are new
 * references the caller owns.
 */
#ifndef ROOST_ADMIN_DOC_H
#define ROOST_ADMIN_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/audit.h"
#include "store/registry.h"
#include "store/store.h"
#include "store/tokens.h"

/* "2026-01-02T03:04:05.678Z" into out (at least 32 bytes). */
void doc_time(int64_t ms, char out[32]);
json_t *doc_time_json(int64_t ms); /* null for 0 */

json_t *doc_client(const store_client_t *c);
/* A client certificate's facts: {fingerprint, subject, issuer, serial,
 * not_before, not_after}. */
json_t *doc_cert(const store_cert_t *c);
json_t *doc_group(const store_group_t *g);
/* One JSON string per line of text ("" or NULL: an empty array). */
json_t *doc_lines(const char *text);
json_t *doc_rule(const store_rule_t *r);
json_t *doc_conn(const store_conn_t *c);
json_t *doc_audit(const store_audit_t *a);
json_t *doc_token(const store_token_t *t);
/* {"items": items (stolen), "next_cursor": cursor or null, "total": total}. */
json_t *doc_page(json_t *items, const char *cursor, uint64_t total);

/* Error document. code: "BAD_REQUEST", ...; details may be NULL (stolen). */
json_t *doc_error(const char *code, const char *message, json_t *details);

/* Field kinds for doc_check. */
typedef enum { DOC_STRING, DOC_ARRAY, DOC_OBJECT, DOC_INT, DOC_BOOL } doc_kind_t;

typedef struct doc_field {
    const char *name;
    doc_kind_t kind;
    bool required;
} doc_field_t;

/* Checks body against the n fields: an object, no unknown members, each
 * present member of its kind, required members present. 0, or -1 with *err
 * set to a 400 error document (caller owns). `where` prefixes field names
 * ("acl[2]." for nested objects; "" at top level). */
int doc_check(const json_t *body, const doc_field_t *fields, size_t n, const char *where, json_t **err);

/* Names the members present in body (never their values), comma-joined,
 * for audit summaries ("name,password"); truncated to cap. */
void doc_changed_fields(const json_t *body, char *out, size_t cap);

/* A member's string value, or NULL when absent (doc_check ran first). */
const char *doc_str(const json_t *body, const char *name);

#endif

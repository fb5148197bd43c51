/* audit: the admin audit log (who did what, when), kept in Redis and listed
 * newest first. Written by admin after each committed write; never holds a
 * password or a token (callers pass summaries without secrets).
 *
 * Key layout (under the prefix P):
 * (G is the global family's prefix "P{g}:" of store/keys.h: one slot.)
 *   G audit   stream  one entry per write: time actor_id actor_name action
 *                     object_id summary; trimmed to about STORE_AUDIT_MAX
 *                     entries (XADD MAXLEN ~)
 * An entry's id is its stream id ("<ms>-<seq>"), which orders entries.
 *
 * Blocking and threads: as store.h. Errors: 0, -ENOMEM, ROOST_EINVAL
 * ("cursor", "limit"), ROOST_EUNAVAILABLE, ROOST_ESTORE.
 */
#ifndef ROOST_STORE_AUDIT_H
#define ROOST_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_AUDIT_MAX 100000

typedef struct store_audit {
    char *id;          /* stream id */
    int64_t time;      /* unix ms */
    char *actor_id;    /* token id */
    char *actor_name;  /* token name */
    char *action;      /* "client.create", ... */
    char *object_id;
    char *summary;
} store_audit_t;

typedef struct store_audit_page {
    store_audit_t *items;
    size_t n;
    char *next_cursor; /* NULL on the last page */
} store_audit_page_t;

/* Appends one entry (all strings borrowed; NULL reads as ""). *id_out, if
 * non-NULL, receives the new entry's id (caller owns, free()). */
int store_audit_append(store_t *s, const store_audit_t *e, char **id_out);
/* Newest first. cursor NULL/"" starts at the newest; else a next_cursor.
 * limit 1..STORE_LIST_MAX. Caller owns *out. */
int store_audit_list(store_t *s, const char *cursor, size_t limit, store_audit_page_t **out);
void store_audit_page_free(store_audit_page_t **pp);

#endif

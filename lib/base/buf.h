/* buf: a growable byte buffer that grows in place (STYLE.md: never return a
 * new pointer the caller must reassign).
 *
 * Invariants: data is NULL iff cap == 0; pos <= len <= cap. Bytes [pos, len)
 * are the unread content; buf_consume advances pos and buf_compact moves the
 * unread bytes to the front. A buffer that empties may be released with
 * buf_release so idle connections hold no memory.
 */
#ifndef ROOST_BASE_BUF_H
#define ROOST_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t pos;  /* first unread byte */
    size_t len;  /* end of content */
    size_t cap;
} buf_t;

/* Embedded lifecycle: buf_init zeroes; buf_fini frees the storage. */
void buf_init(buf_t *b);
void buf_fini(buf_t *b);

/* Makes room for at least n more bytes after len. 0 or -ENOMEM. */
int buf_reserve(buf_t *b, size_t n);
/* Appends n bytes. 0 or -ENOMEM (buffer unchanged on failure). */
int buf_append(buf_t *b, const void *p, size_t n);
/* Unread bytes. */
static inline size_t buf_unread(const buf_t *b) { return b->len - b->pos; }
static inline uint8_t *buf_head(const buf_t *b) { return b->data + b->pos; }
static inline uint8_t *buf_tail(const buf_t *b) { return b->data + b->len; }
static inline size_t buf_space(const buf_t *b) { return b->cap - b->len; }
/* Marks n unread bytes as consumed; resets to empty when all are. */
void buf_consume(buf_t *b, size_t n);
/* Moves unread bytes to offset 0. */
void buf_compact(buf_t *b);
/* Frees the storage when no unread bytes remain; otherwise does nothing.
 * Idle connections call it so they hold no buffer memory. */
void buf_release(buf_t *b);

#endif

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
    uint32_t pos;  /* first unread byte */
    uint32_t len;  /* end of content */
    uint32_t cap;  /* a buffer holds at most 4 GiB - 1 (kept small: one per connection) */
} buf_t;

/* Embedded lifecycle: buf_init zeroes; buf_fini frees the storage. */
void buf_init(buf_t *b);
void buf_fini(buf_t *b);

/* Makes room for at least n more bytes after len. 0, or -ENOMEM (also when
 * the buffer would pass 4 GiB). */
int buf_reserve(buf_t *b, size_t n);
/* Appends n bytes. 0 or -ENOMEM (buffer unchanged on failure). */
int buf_append(buf_t *b, const void *p, size_t n);
/* Unread bytes. */
static inline size_t buf_unread(const buf_t *b) { return b->len - b->pos; }
static inline uint8_t *buf_head(const buf_t *b) { return b->data + b->pos; }
static inline uint8_t *buf_tail(const buf_t *b) { return b->data + b->len; }
static inline size_t buf_space(const buf_t *b) { return b->cap - b->len; }
/* Advances len by n bytes written straight into buf_tail (n <= buf_space). */
static inline void buf_commit(buf_t *b, size_t n) { b->len += (uint32_t)n; }
/* Marks n unread bytes as consumed; resets to empty when all are. */
void buf_consume(buf_t *b, size_t n);
/* Moves unread bytes to offset 0. */
void buf_compact(buf_t *b);
/* Frees the storage when no unread bytes remain; otherwise does nothing.
 * Idle connections call it so they hold no buffer memory. */
void buf_release(buf_t *b);

#endif

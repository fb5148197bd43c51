/* kv: values for Roost's "key=value key=value" text (audit summaries; the
 * same shape as log lines), written so a value cannot pose as more fields.
 *
 * A value made only of printable ASCII other than space, '"', '=' and '\'
 * is written as it is; anything else is written in double quotes with '"'
 * and '\' backslash-escaped, \n \r \t, and \xHH for other bytes below 0x20
 * and 0x7F. UTF-8 above ASCII is kept (it is text, not structure). Pure.
 */
#ifndef ROOST_BASE_KV_H
#define ROOST_BASE_KV_H

#include <stddef.h>

/* Writes the value of v (its first max_in bytes at most; a cut never splits
 * a UTF-8 sequence) into out (cap > 0 bytes, NUL-terminated; cut short if it
 * does not fit, still closed by its quote). Returns out. */
const char *kv_value(char *out, size_t cap, const char *v, size_t max_in);

#endif

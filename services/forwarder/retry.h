/* retry: the Retry-After header of a 429 answer (RFC 9110 section 10.2.3).
 * Pure (libc only): bytes from the receiver in, a delay out. */
#ifndef ROOST_FORWARDER_RETRY_H
#define ROOST_FORWARDER_RETRY_H

#include <stddef.h>
#include <time.h>

/* line: one raw header line as libcurl hands it ("Retry-After: 5\r\n"), not
 * NUL-terminated, len bytes. Returns 1 and *secs (>= 0) for a Retry-After
 * header holding delay-seconds or an IMF-fixdate ("Sun, 06 Nov 1994
 * 08:49:37 GMT", a date in the past is 0 s, relative to now); 0 for any
 * other header or a value it cannot read (the caller backs off instead).
 * Reads at most len bytes. */
int retry_after_parse(const char *line, size_t len, time_t now, long *secs);

#endif

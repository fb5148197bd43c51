/* resp: a Redis command in the protocol's wire form (RESP arrays of bulk
 * strings), made in one pass. hiredis's redisFormatCommandArgv formats each
 * argument's header through sdscatfmt: for the broker's pipeline appends
 * (17 arguments per message, 256 messages per call) that was half of the
 * broker's instructions per mapped PUBLISH (bench/RESULTS.md). Pure. */
#ifndef ROOST_STORE_RESP_H
#define ROOST_STORE_RESP_H

#include <stddef.h>
#include <stdint.h>

/* "*argc\r\n" then "$len\r\narg\r\n" per argument, in a malloc'd buffer
 * (caller frees); *len is its length. NULL on OOM or argc < 1. */
char *resp_format(int argc, const char *const *argv, const size_t *lens, size_t *len);

/* The decimal digits of v at out (no NUL); returns how many (1-20). */
size_t resp_u64(uint64_t v, char out[20]);

#endif

/* log: one line per event on stderr, key=value fields (STYLE.md 13).
 *
 *   2026-11-25T09:00:00.123Z level=info svc=broker event=listening port=1883
 *
 * The level is checked before the arguments are evaluated, formats are
 * printf-checked, and a line is written with one write(2) so lines from
 * threads do not interleave. Never log a password or a token.
 *
 * The level and service name are the one piece of process-wide state in
 * lib/ (a logger handle threaded through every call would touch every
 * signature); they are set once by main before any thread starts.
 */
#ifndef ROOST_BASE_LOG_H
#define ROOST_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

/* Sets the service name printed as svc= and the minimum level. */
void log_setup(const char *service, log_level_t level);
/* Parses "debug", "info", "warn", "error". 0 or ROOST_ECONFIG. */
int log_parse_level(const char *s, log_level_t *out);
bool log_enabled(log_level_t level);
/* What a service main does with its --log-level value: parses level_name
 * and calls log_setup. 0, or ROOST_ECONFIG after writing
 * "error: --log-level: unknown level 'X' (expected debug, info, warn or
 * error)" to err (a usage error: the caller exits with 2). */
int log_setup_from(const char *service, const char *level_name, FILE *err);

/* event is a short snake_case name; fmt adds " key=value ..." fields.
 * Whatever the fields hold, the line is one line: a byte below 0x20 or
 * 0x7f in them is written as \xNN. */
void log_write(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A field value someone outside chose (a topic, a client id), for
 * "key=%s", so it can neither end the line nor forge another field: as it
 * is when it holds no space, '=', '"', '\\' or control byte and fits; else
 * in double quotes with '"' and '\\' escaped by a backslash and bytes below
 * 0x20 and 0x7f as \xNN, cut to fit cap bytes (then ending in ...").
 * "" for an empty value. Returns out. */
#define LOG_QUOTE_CAP 300
const char *log_quote(char *out, size_t cap, const void *value, size_t len);

/* A limit on log lines a client can trigger at will (one per denied
 * PUBLISH, say), kept per client: in each window of window_ms the first
 * `burst` events are logged and the rest only counted; the first event of a
 * later window reports that count. Zero-initialised = a fresh window. */
typedef struct log_limit {
    uint32_t window_start;     /* ms, any clock, taken mod 2^32 */
    uint32_t suppressed;       /* events not logged in the current window */
    uint16_t logged;           /* events logged in the current window */
    bool started;
} log_limit_t;

/* Counts an event at now_ms: true when it is to be logged. *report is set
 * to the number of events suppressed in the window that just ended (0:
 * none; the caller logs the count when it is not). */
bool log_limit_allow(log_limit_t *l, uint32_t now_ms, uint16_t burst, uint32_t window_ms,
                     uint32_t *report);

#define LOG_AT(lvl, event, ...)                                                                \
    do {                                                                                       \
        if (log_enabled(lvl))                                                                  \
            log_write(lvl, event, __VA_ARGS__);                                                \
    } while (0)
#define log_debug(event, ...) LOG_AT(LOG_DEBUG, event, __VA_ARGS__)
#define log_info(event, ...) LOG_AT(LOG_INFO, event, __VA_ARGS__)
#define log_warn(event, ...) LOG_AT(LOG_WARN, event, __VA_ARGS__)
#define log_error(event, ...) LOG_AT(LOG_ERROR, event, __VA_ARGS__)

#endif

#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"

static log_level_t min_level = LOG_INFO;
static char service_name[32] = "roost";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(const char *service, log_level_t level)
{
    snprintf(service_name, sizeof(service_name), "%s", service);
    min_level = level;
}

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return ROOST_ECONFIG;
}

bool log_enabled(log_level_t level) { return level >= min_level; }

int log_setup_from(const char *service, const char *level_name, FILE *err)
{
    log_level_t level;
    if (log_parse_level(level_name, &level)) {
        fprintf(err, "error: --log-level: unknown level '%s' (expected debug, info, warn or error)\n",
                level_name);
        return ROOST_ECONFIG;
    }
    log_setup(service, level);
    return 0;
}

static const char hex[] = "0123456789abcdef";

static bool is_ctl(unsigned char ch) { return ch < 0x20 || ch == 0x7f; }

const char *log_quote(char *out, size_t cap, const void *value, size_t len)
{
    const unsigned char *v = value;
    bool plain = len > 0 && len < cap;
    for (size_t i = 0; i < len && plain; i++)
        plain = !is_ctl(v[i]) && v[i] != ' ' && v[i] != '=' && v[i] != '"' && v[i] != '\\';
    if (plain) { /* nothing to quote: as it is, as logfmt does */
        memcpy(out, v, len);
        out[len] = '\0';
        return out;
    }
    size_t o = 0, room = cap - 5; /* the quotes, "...", NUL */
    out[o++] = '"';
    size_t i = 0;
    for (; i < len; i++) {
        unsigned char ch = v[i];
        size_t need = is_ctl(ch) ? 4 : (ch == '"' || ch == '\\') ? 2 : 1;
        if (o + need > room)
            break;
        if (is_ctl(ch)) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            if (need == 2)
                out[o++] = '\\';
            out[o++] = (char)ch;
        }
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

bool log_limit_allow(log_limit_t *l, uint32_t now_ms, uint16_t burst, uint32_t window_ms,
                     uint32_t *report)
{
    *report = 0;
    if (!l->started || now_ms - l->window_start >= window_ms) {
        *report = l->started ? l->suppressed : 0;
        *l = (log_limit_t){now_ms, 0, 0, true};
    }
    if (l->logged < burst) {
        l->logged++;
        return true;
    }
    l->suppressed++;
    return false;
}

void log_write(log_level_t level, const char *event, const char *fmt, ...)
{
    char line[2048], fields[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], service_name, event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line) - 2 && fmt && fmt[0]) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(fields, sizeof(fields), fmt, ap);
        va_end(ap);
        if (m > 0) {
            size_t flen = (size_t)m < sizeof(fields) ? (size_t)m : sizeof(fields) - 1;
            line[n++] = ' ';
            /* one event, one line: control bytes in a field become \xNN */
            for (size_t i = 0; i < flen && (size_t)n < sizeof(line) - 5; i++) {
                unsigned char ch = (unsigned char)fields[i];
                if (is_ctl(ch)) {
                    line[n++] = '\\';
                    line[n++] = 'x';
                    line[n++] = hex[ch >> 4];
                    line[n++] = hex[ch & 15];
                } else {
                    line[n++] = (char)ch;
                }
            }
        }
    }
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

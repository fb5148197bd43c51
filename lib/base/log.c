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

void log_write(log_level_t level, const char *event, const char *fmt, ...)
{
    char line[2048];
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
        line[n++] = ' ';
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
        else
            n--; /* nothing was added: drop the separator */
    }
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

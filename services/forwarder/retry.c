/* retry: Retry-After (retry.h). */
#define _DEFAULT_SOURCE /* timegm */
#define _XOPEN_SOURCE 700 /* strptime */
#include "retry.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAME "retry-after:"
#define DAY_S 86400L

int retry_after_parse(const char *line, size_t len, time_t now, long *secs)
{
    size_t nl = sizeof(NAME) - 1;
    if (len <= nl || strncasecmp(line, NAME, nl))
        return 0;
    char v[128];
    size_t vl = len - nl;
    if (vl >= sizeof(v))
        return 0;
    memcpy(v, line + nl, vl);
    v[vl] = '\0';
    char *s = v, *e = v + strlen(v);
    while (*s == ' ' || *s == '\t')
        s++;
    while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    if (!*s)
        return 0;
    if (isdigit((unsigned char)*s)) {
        long n = 0;
        for (const char *p = s; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return 0;
            if (n > 365 * DAY_S)
                return 0; /* absurd: let the caller back off */
            n = n * 10 + (*p - '0');
        }
        *secs = n;
        return 1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    *secs = t > now ? (long)(t - now) : 0;
    return 1;
}

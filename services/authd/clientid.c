#include "clientid.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Glob with '*' only, over pattern p[0..pn) and text t (NUL-terminated):
 * the last '*' seen is where a mismatch backtracks to. */
static bool glob(const char *p, size_t pn, const char *t)
{
    size_t pi = 0, star = (size_t)-1;
    const char *mark = NULL;
    while (*t) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = t;
        } else if (pi < pn && p[pi] == *t) {
            pi++;
            t++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* pattern[0..len) with every "%u" replaced by the username; caller frees. */
static char *expand(const char *pattern, size_t len, const char *username)
{
    size_t ulen = strlen(username), n = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (pattern[i] == '%' && pattern[i + 1] == 'u')
            n++;
    char *out = malloc(len + n * ulen + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (i + 1 < len && pattern[i] == '%' && pattern[i + 1] == 'u') {
            memcpy(o, username, ulen);
            o += ulen;
            i++;
        } else {
            *o++ = pattern[i];
        }
    }
    *o = '\0';
    return out;
}

bool clientid_allowed(const char *patterns, const char *username, const char *client_id)
{
    if (!patterns || !*patterns)
        return true;
    /* a username holding '*' must not widen a pattern: it is matched literally
     * only where it stands, so such usernames get no %u patterns at all */
    bool wild_user = username && strchr(username, '*');
    for (const char *p = patterns; *p;) {
        size_t len = strcspn(p, "\n");
        bool has_u = false;
        for (size_t i = 0; i + 1 < len; i++)
            has_u |= p[i] == '%' && p[i + 1] == 'u';
        if (!has_u) {
            if (glob(p, len, client_id))
                return true;
        } else if (username && !wild_user) {
            char *e = expand(p, len, username);
            bool ok = e && glob(e, strlen(e), client_id);
            free(e);
            if (ok)
                return true;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return false;
}

/* store_util: the store's small pure helpers: ids, sort members, reading
 * values out of Redis replies, and the names of the access model's enums
 * (store.h). Split from store.c, which keeps the handle, the connection and
 * the scripts. */
#include "store/store_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/proc.h"

/* ---- helpers ------------------------------------------------------------ */

int64_t store_now_ms(void) { return (int64_t)proc_wall_ms(); }

void store_new_id(char out[STORE_ID_LEN + 1])
{
    unsigned char b[STORE_ID_LEN / 2];
    randombytes_buf(b, sizeof(b));
    sodium_bin2hex(out, STORE_ID_LEN + 1, b, sizeof(b));
}

void store_member(char *out, int64_t created_at, const char *id)
{
    snprintf(out, STORE_MEMBER_LEN + 1, "%013" PRId64 ":%s", created_at, id);
}

const char *store_rstr(const redisReply *r)
{
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) || !r->str)
        return NULL;
    return r->str;
}

int store_ri64(const redisReply *r, int64_t *out)
{
    if (r && r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    const char *v = store_rstr(r);
    if (!v || !*v)
        return ROOST_ESTORE;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end)
        return ROOST_ESTORE;
    *out = n;
    return 0;
}

int store_rdup(const redisReply *r, char **out)
{
    const char *v = store_rstr(r);
    if (!v)
        return ROOST_ESTORE;
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

/* ---- enum names ----------------------------------------------------------- */

static const char *const PERM_NAMES[] = {"allow", "deny"};
static const char *const ACTION_NAMES[] = {NULL, "publish", "subscribe", "both"};
static const char *const MATCH_NAMES[] = {"client", "mqtt_client_id", "certificate_fingerprint"};

const char *store_permission_name(store_permission_t p)
{
    return (unsigned)p < 2 ? PERM_NAMES[p] : "?";
}

const char *store_action_name(store_action_t a)
{
    return a >= STORE_PUBLISH && a <= STORE_BOTH ? ACTION_NAMES[a] : "?";
}

const char *store_match_by_name(store_match_by_t m)
{
    return (unsigned)m < 3 ? MATCH_NAMES[m] : "?";
}

static int parse_name(const char *s, const char *const *names, int lo, int n, int *out)
{
    for (int i = lo; s && i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return ROOST_EINVAL;
}

int store_permission_parse(const char *s, store_permission_t *out)
{
    int v = 0, rc = parse_name(s, PERM_NAMES, 0, 2, &v);
    if (rc == 0)
        *out = (store_permission_t)v;
    return rc;
}

int store_action_parse(const char *s, store_action_t *out)
{
    int v = 0, rc = parse_name(s, ACTION_NAMES, 1, 4, &v);
    if (rc == 0)
        *out = (store_action_t)v;
    return rc;
}

int store_match_by_parse(const char *s, store_match_by_t *out)
{
    int v = 0, rc = parse_name(s, MATCH_NAMES, 0, 3, &v);
    if (rc == 0)
        *out = (store_match_by_t)v;
    return rc;
}

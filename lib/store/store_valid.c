/* store_valid: the field rules of the access model (store.h lists them).
 * Pure checks; each failure records the field and a reason on the handle.
 */
#include <string.h>

#include "base/err.h"
#include "mqtt/topic.h"
#include "store/store_priv.h"

/* What a strict UTF-8 walk found. */
typedef struct {
    size_t chars;   /* code points */
    bool ctrl;      /* C0 (other than tab/newline), DEL or C1 */
    bool tab_nl;    /* tab, CR or LF */
    bool bidi;      /* a bidirectional control: LRM/RLM/ALM, embeddings, overrides, isolates */
} utf8_info_t;

/* Bidirectional formatting characters make text display in another order
 * than it is stored ("admin\u202Exyz" shows as "adminzyx"): one name could
 * pass for another in the console, logs and audit trail. */
static bool bidi_control(unsigned cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Strict UTF-8 (no overlongs, surrogates or > U+10FFFF). false if invalid. */
static bool utf8_scan(const char *str, size_t len, utf8_info_t *info)
{
    const unsigned char *s = (const unsigned char *)str;
    memset(info, 0, sizeof(*info));
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        unsigned cp, n;
        if (c < 0x80) {
            cp = c;
            n = 0;
        } else if (c >= 0xC2 && c <= 0xDF) {
            cp = c & 0x1F;
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            cp = c & 0x0F;
            n = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            cp = c & 0x07;
            n = 3;
        } else {
            return false;
        }
        if (n > 0 && i + n >= len)
            return false; /* truncated sequence */
        for (unsigned k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        if (cp == '\t' || cp == '\n' || cp == '\r')
            info->tab_nl = true;
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            info->ctrl = true;
        else if (bidi_control(cp))
            info->bidi = true;
        info->chars++;
        i += n + 1;
    }
    return true;
}

bool store_id_ok(const char *id)
{
    if (!id || strlen(id) != STORE_ID_LEN)
        return false;
    for (size_t i = 0; i < STORE_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

bool store_cursor_ok(const char *c)
{
    if (!c || strlen(c) != STORE_MEMBER_LEN || c[13] != ':')
        return false;
    for (size_t i = 0; i < 13; i++)
        if (c[i] < '0' || c[i] > '9')
            return false;
    return store_id_ok(c + 14);
}

int store_check_name(store_t *s, const char *field, const char *v)
{
    utf8_info_t u;
    if (!v || !*v)
        return store_fail(s, ROOST_EINVAL, field, "is required");
    if (!utf8_scan(v, strlen(v), &u))
        return store_fail(s, ROOST_EINVAL, field, "must be valid UTF-8");
    if (u.chars > 255)
        return store_fail(s, ROOST_EINVAL, field, "must be at most 255 characters");
    if (u.ctrl || u.tab_nl)
        return store_fail(s, ROOST_EINVAL, field, "must not contain control characters");
    if (u.bidi)
        return store_fail(s, ROOST_EINVAL, field, "must not contain bidirectional control characters (U+202E...)");
    return 0;
}

int store_check_username(store_t *s, const char *v)
{
    utf8_info_t u;
    if (!v || !*v)
        return store_fail(s, ROOST_EINVAL, "username", "is required");
    size_t len = strlen(v);
    if (len > 255)
        return store_fail(s, ROOST_EINVAL, "username", "must be at most 255 bytes");
    if (!utf8_scan(v, len, &u))
        return store_fail(s, ROOST_EINVAL, "username", "must be valid UTF-8");
    if (u.ctrl || u.tab_nl)
        return store_fail(s, ROOST_EINVAL, "username", "must not contain control characters");
    if (u.bidi)
        return store_fail(s, ROOST_EINVAL, "username",
                          "must not contain bidirectional control characters (U+202E...)");
    if (strpbrk(v, "+#/"))
        return store_fail(s, ROOST_EINVAL, "username", "must not contain '+', '#' or '/'");
    return 0;
}

int store_check_password(store_t *s, const char *v)
{
    utf8_info_t u;
    if (!v || !*v)
        return store_fail(s, ROOST_EINVAL, "password", "is required");
    size_t len = strlen(v);
    if (len > 1024)
        return store_fail(s, ROOST_EINVAL, "password", "must be at most 1024 bytes");
    if (!utf8_scan(v, len, &u))
        return store_fail(s, ROOST_EINVAL, "password", "must be valid UTF-8");
    if (u.chars < 8)
        return store_fail(s, ROOST_EINVAL, "password", "must be at least 8 characters");
    return 0;
}

int store_check_description(store_t *s, const char *v)
{
    utf8_info_t u;
    if (!v)
        return 0;
    if (!utf8_scan(v, strlen(v), &u))
        return store_fail(s, ROOST_EINVAL, "description", "must be valid UTF-8");
    if (u.chars > 1024)
        return store_fail(s, ROOST_EINVAL, "description", "must be at most 1024 characters");
    if (u.ctrl)
        return store_fail(s, ROOST_EINVAL, "description", "must not contain control characters");
    return 0;
}

/* A level may be exactly "%u" or "%c"; those letters after '%' elsewhere
 * would be a partial substitution, which DESIGN forbids. */
static bool subst_levels_ok(const char *t, size_t len)
{
    size_t pos = 0;
    while (pos <= len) {
        const char *slash = memchr(t + pos, '/', len - pos);
        size_t end = slash ? (size_t)(slash - t) : len;
        size_t n = end - pos;
        bool whole = n == 2 && t[pos] == '%' && (t[pos + 1] == 'u' || t[pos + 1] == 'c');
        for (size_t i = pos; !whole && i + 1 < end; i++)
            if (t[i] == '%' && (t[i + 1] == 'u' || t[i + 1] == 'c'))
                return false;
        pos = end + 1;
    }
    return true;
}

int store_check_acl(store_t *s, const store_acl_t *acl, size_t n)
{
    if (n > STORE_ACL_MAX)
        return store_fail(s, ROOST_EINVAL, "acl", "too many entries");
    if (n && !acl)
        return store_fail(s, ROOST_EINVAL, "acl", "is required");
    for (size_t i = 0; i < n; i++) {
        const store_acl_t *e = &acl[i];
        utf8_info_t u;
        if (e->permission != STORE_ALLOW && e->permission != STORE_DENY)
            return store_fail(s, ROOST_EINVAL, store_acl_field(s, i, "permission"), "must be allow or deny");
        if (e->action < STORE_PUBLISH || e->action > STORE_BOTH)
            return store_fail(s, ROOST_EINVAL, store_acl_field(s, i, "action"),
                              "must be publish, subscribe or both");
        size_t len = e->topic ? strlen(e->topic) : 0;
        if (len == 0)
            return store_fail(s, ROOST_EINVAL, store_acl_field(s, i, "topic"), "is required");
        if (!utf8_scan(e->topic, len, &u))
            return store_fail(s, ROOST_EINVAL, store_acl_field(s, i, "topic"), "must be valid UTF-8");
        if (topic_check_filter(e->topic, len) < 0)
            return store_fail(s, ROOST_EINVAL, store_acl_field(s, i, "topic"), "is not a valid MQTT topic filter");
        if (!subst_levels_ok(e->topic, len))
            return store_fail(s, ROOST_EINVAL, store_acl_field(s, i, "topic"),
                              "%u and %c must fill a whole level");
    }
    return 0;
}

int store_check_rule_value(store_t *s, store_match_by_t m, const char *v)
{
    utf8_info_t u;
    size_t len = v ? strlen(v) : 0;
    if (len == 0)
        return store_fail(s, ROOST_EINVAL, "value", "is required");
    switch (m) {
    case STORE_MATCH_CLIENT:
        if (!store_id_ok(v))
            return store_fail(s, ROOST_EINVAL, "value", "must be a client id (24 hex characters)");
        return 0;
    case STORE_MATCH_MQTT_CLIENT_ID:
        if (len > 65535 || !utf8_scan(v, len, &u) || u.ctrl || u.tab_nl)
            return store_fail(s, ROOST_EINVAL, "value",
                              "must be 1-65535 bytes of UTF-8 without control characters");
        return 0;
    case STORE_MATCH_CERT_FINGERPRINT:
        if (strncmp(v, "SHA256:", 7) != 0 || len == 7 || len > 7 + 128)
            return store_fail(s, ROOST_EINVAL, "value", "must be SHA256:<fingerprint>");
        for (size_t i = 7; i < len; i++)
            if (v[i] <= ' ' || v[i] > '~')
                return store_fail(s, ROOST_EINVAL, "value",
                                  "fingerprint must be printable ASCII");
        return 0;
    }
    return store_fail(s, ROOST_EINVAL, "match_by",
                      "must be client, mqtt_client_id or certificate_fingerprint");
}

int store_check_rule_groups(store_t *s, const char *const *groups, size_t n)
{
    if (n == 0 || !groups)
        return store_fail(s, ROOST_EINVAL, "groups", "at least one group is required");
    if (n > STORE_RULE_GROUPS_MAX)
        return store_fail(s, ROOST_EINVAL, "groups", "too many groups");
    for (size_t i = 0; i < n; i++) {
        if (!store_id_ok(groups[i]))
            return store_fail(s, ROOST_EINVAL, "groups", "not a group id");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(groups[i], groups[j]))
                return store_fail(s, ROOST_EINVAL, "groups", "a group is listed twice");
    }
    return 0;
}

int store_check_page(store_t *s, const char *cursor, size_t limit)
{
    if (limit < 1 || limit > STORE_LIST_MAX)
        return store_fail(s, ROOST_EINVAL, "limit", "must be 1-1000");
    if (cursor && *cursor && !store_cursor_ok(cursor))
        return store_fail(s, ROOST_EINVAL, "cursor", "is not a cursor from a previous page");
    return 0;
}

int store_check_client_ids(store_t *s, const char *v)
{
    size_t n = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, "\n");
        utf8_info_t u;
        if (len == 0 || len > 255)
            return store_fail(s, ROOST_EINVAL, "allowed_client_ids", "each must be 1-255 bytes");
        if (!utf8_scan(p, len, &u) || u.ctrl || u.tab_nl || u.bidi)
            return store_fail(s, ROOST_EINVAL, "allowed_client_ids",
                              "each must be valid UTF-8 without control characters");
        if (++n > STORE_CLIENT_IDS_MAX)
            return store_fail(s, ROOST_EINVAL, "allowed_client_ids", "at most 32 patterns");
        p += len;
        if (*p == '\n' && !*++p)
            return store_fail(s, ROOST_EINVAL, "allowed_client_ids", "each must be 1-255 bytes");
    }
    return 0;
}

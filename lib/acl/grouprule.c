/* grouprule: group rule evaluation. See grouprule.h for the contract. */
#include "acl/grouprule.h"

#include <string.h>

#define GROUPRULE_VALUE_MAX 65535u
#define FP_PREFIX "SHA256:"
#define FP_PREFIX_LEN (sizeof(FP_PREFIX) - 1)
#define FP_HEX_LEN 64u

/* memcmp that tolerates NULL views of length 0. */
static bool bytes_eq(const char *a, const char *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static bool str_eq(grouprule_str_t a, grouprule_str_t b)
{
    return a.len == b.len && bytes_eq(a.ptr, b.ptr, a.len);
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* '*' globbing without backtracking. Split the pattern at its stars:
 * P0 * P1 * ... * Pk. The text must start with P0 and end with Pk (checked
 * first, and they must not overlap); each middle piece P1..Pk-1 must then
 * occur in order in what lies between. Taking the leftmost occurrence of
 * each middle piece is always right: it leaves the most room for the rest,
 * so if any placement works the greedy one does. Every byte of the text is
 * scanned by at most one memmem call, so there is no blow-up on inputs like
 * "a*a*a*...*b" against "aaaa...". */
bool grouprule_pattern_match(const char *pat, size_t pat_len, const char *s, size_t len)
{
    const char *star = pat_len ? memchr(pat, '*', pat_len) : NULL;
    if (star == NULL)
        return pat_len == len && bytes_eq(pat, s, len);
    const char *last = memrchr(pat, '*', pat_len);
    size_t pre = (size_t)(star - pat);
    size_t suf = (size_t)(pat + pat_len - (last + 1));
    if (pre + suf > len)
        return false;
    if (!bytes_eq(pat, s, pre) || !bytes_eq(last + 1, s + len - suf, suf))
        return false;
    size_t pos = pre, end = len - suf;
    const char *p = star + 1;
    while (p < last) {
        const char *q = memchr(p, '*', (size_t)(last - p) + 1); /* q <= last */
        size_t seg = (size_t)(q - p);
        if (seg > 0) {
            const char *hit = end > pos ? memmem(s + pos, end - pos, p, seg) : NULL;
            if (hit == NULL)
                return false;
            pos = (size_t)(hit - s) + seg;
        }
        p = q + 1;
    }
    return true;
}

/* "SHA256:" exactly on both sides, then the rest ASCII case-insensitively. */
static bool fingerprint_eq(grouprule_str_t rule, grouprule_str_t seen)
{
    if (rule.ptr == NULL || seen.ptr == NULL || rule.len != seen.len)
        return false;
    if (rule.len < FP_PREFIX_LEN || memcmp(rule.ptr, FP_PREFIX, FP_PREFIX_LEN) != 0 ||
        memcmp(seen.ptr, FP_PREFIX, FP_PREFIX_LEN) != 0)
        return false;
    for (size_t i = FP_PREFIX_LEN; i < rule.len; i++)
        if (ascii_lower(rule.ptr[i]) != ascii_lower(seen.ptr[i]))
            return false;
    return true;
}

bool grouprule_matches(const grouprule_t *r, const grouprule_facts_t *f)
{
    switch (r->match_by) {
    case GROUPRULE_CLIENT:
        return r->value.len > 0 && str_eq(r->value, f->client_id);
    case GROUPRULE_MQTT_CLIENT_ID:
        return grouprule_pattern_match(r->value.ptr, r->value.len, f->mqtt_client_id.ptr,
                                       f->mqtt_client_id.len);
    case GROUPRULE_CERT_FINGERPRINT:
        return fingerprint_eq(r->value, f->fingerprint);
    }
    return false;
}

static bool seen_before(const grouprule_str_t *out, size_t k, grouprule_str_t g)
{
    for (size_t i = 0; i < k; i++)
        if (str_eq(out[i], g))
            return true;
    return false;
}

int grouprule_eval(const grouprule_t *rules, size_t n, const grouprule_facts_t *f,
                   grouprule_str_t *out, size_t cap, size_t *count)
{
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const grouprule_t *r = &rules[i];
        if (!grouprule_matches(r, f))
            continue;
        for (size_t j = 0; j < r->n_groups; j++) {
            if (seen_before(out, k, r->groups[j]))
                continue;
            if (k == cap) {
                rc = ROOST_ELIMIT;
                break;
            }
            out[k++] = r->groups[j];
        }
    }
    *count = k;
    return rc;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int grouprule_check_value(grouprule_match_by_t match_by, const char *value, size_t len)
{
    if (value == NULL || len == 0 || len > GROUPRULE_VALUE_MAX)
        return ROOST_EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f)
            return ROOST_EINVAL;
    }
    switch (match_by) {
    case GROUPRULE_CLIENT:
    case GROUPRULE_MQTT_CLIENT_ID:
        return 0;
    case GROUPRULE_CERT_FINGERPRINT:
        if (len != FP_PREFIX_LEN + FP_HEX_LEN || memcmp(value, FP_PREFIX, FP_PREFIX_LEN) != 0)
            return ROOST_EINVAL;
        for (size_t i = FP_PREFIX_LEN; i < len; i++)
            if (!is_hex(value[i]))
                return ROOST_EINVAL;
        return 0;
    }
    return ROOST_EINVAL;
}

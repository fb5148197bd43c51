#include "rules.h"

#include <string.h>

#include "base/err.h"

/* Greedy wildcard match with one backtrack point: on a mismatch after a
 * '*', the star absorbs one more byte. O(len(pattern) * len(text)) worst
 * case, no recursion. */
bool rules_glob(const char *p, const char *t)
{
    const char *star = NULL, *resume = NULL;
    while (*t) {
        if (*p == '*') {
            star = p++;
            resume = t;
        } else if (*p == *t) {
            p++;
            t++;
        } else if (star) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool rule_matches(const store_rule_t *r, const rules_facts_t *f)
{
    switch (r->match_by) {
    case STORE_MATCH_CLIENT:
        return f->client_id && !strcmp(r->value, f->client_id);
    case STORE_MATCH_MQTT_CLIENT_ID:
        return f->mqtt_client_id && rules_glob(r->value, f->mqtt_client_id);
    case STORE_MATCH_CERT_FINGERPRINT:
        return f->client_id && f->cert_fingerprint && f->cert_fingerprint[0] &&
               !strcmp(r->value, f->cert_fingerprint);
    }
    return false;
}

int rules_evaluate(const store_rule_list_t *rules, const rules_facts_t *f, const char **ids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const store_rule_t *r = &rules->items[i];
        if (!rule_matches(r, f))
            continue;
        for (size_t g = 0; g < r->n_groups; g++) {
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = !strcmp(ids[k], r->groups[g]);
            if (seen)
                continue;
            if (n == max)
                return ROOST_ELIMIT;
            ids[n++] = r->groups[g];
        }
    }
    return (int)n;
}

#include "rules.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acl/grouprule.h"
#include "base/err.h"

static grouprule_str_t view(const char *s)
{
    return (grouprule_str_t){.ptr = s, .len = s ? strlen(s) : 0};
}

static grouprule_match_by_t match_by(store_match_by_t m)
{
    switch (m) {
    case STORE_MATCH_CLIENT: return GROUPRULE_CLIENT;
    case STORE_MATCH_MQTT_CLIENT_ID: return GROUPRULE_MQTT_CLIENT_ID;
    case STORE_MATCH_CERT_FINGERPRINT: return GROUPRULE_CERT_FINGERPRINT;
    }
    return (grouprule_match_by_t)-1; /* matches nothing */
}

int rules_evaluate(const store_rule_list_t *rules, const rules_facts_t *f, const char **ids, size_t max)
{
    size_t total = 0;
    for (size_t i = 0; i < rules->n; i++)
        total += rules->items[i].n_groups;
    grouprule_t *gr = calloc(rules->n ? rules->n : 1, sizeof(*gr));
    grouprule_str_t *groups = calloc(total ? total : 1, sizeof(*groups));
    grouprule_str_t *out = calloc(max ? max : 1, sizeof(*out));
    int rc = -ENOMEM;
    if (!gr || !groups || !out)
        goto done;
    size_t g = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const store_rule_t *r = &rules->items[i];
        gr[i] = (grouprule_t){.match_by = match_by(r->match_by), .value = view(r->value),
                              .groups = &groups[g], .n_groups = r->n_groups};
        for (size_t k = 0; k < r->n_groups; k++)
            groups[g++] = view(r->groups[k]);
    }
    bool anonymous = !f->client_id;
    const char *fp = f->cert_fingerprint && f->cert_fingerprint[0] && !anonymous ? f->cert_fingerprint : NULL;
    grouprule_facts_t facts = {.client_id = view(f->client_id), .mqtt_client_id = view(f->mqtt_client_id),
                               .fingerprint = view(fp)};
    size_t n = 0;
    rc = grouprule_eval(gr, rules->n, &facts, out, max, &n);
    if (rc == 0) {
        for (size_t k = 0; k < n; k++)
            ids[k] = out[k].ptr; /* views of the store's NUL-terminated ids */
        rc = (int)n;
    }
done:
    free(gr);
    free(groups);
    free(out);
    return rc;
}

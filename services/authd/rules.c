#include "rules.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

int rules_compile(const store_rule_list_t *rules, rules_compiled_t *out)
{
    *out = (rules_compiled_t){0};
    size_t total = 0;
    for (size_t i = 0; i < rules->n; i++)
        total += rules->items[i].n_groups;
    grouprule_t *gr = malloc((rules->n ? rules->n : 1) * sizeof(*gr));
    grouprule_str_t *ids = malloc((total ? total : 1) * sizeof(*ids));
    if (!gr || !ids) {
        free(gr);
        free(ids);
        return -ENOMEM;
    }
    size_t g = 0;
    for (size_t i = 0; i < rules->n; i++) {
        const store_rule_t *r = &rules->items[i];
        gr[i] = (grouprule_t){.match_by = match_by(r->match_by), .value = view(r->value),
                              .groups = &ids[g], .n_groups = r->n_groups};
        for (size_t k = 0; k < r->n_groups; k++)
            ids[g++] = view(r->groups[k]);
    }
    *out = (rules_compiled_t){.gr = gr, .n = rules->n, .ids = ids, .n_ids = total};
    return 0;
}

void rules_compiled_fini(rules_compiled_t *c)
{
    free(c->gr);
    free(c->ids);
    *c = (rules_compiled_t){0};
}

int rules_eval(const rules_compiled_t *c, const rules_facts_t *f, grouprule_str_t *out, size_t cap)
{
    bool anonymous = !f->client_id;
    const char *fp = f->cert_fingerprint && f->cert_fingerprint[0] && !anonymous ? f->cert_fingerprint : NULL;
    grouprule_facts_t facts = {.client_id = view(f->client_id), .mqtt_client_id = view(f->mqtt_client_id),
                               .fingerprint = view(fp)};
    size_t n = 0;
    int rc = grouprule_eval(c->gr, c->n, &facts, out, cap, &n);
    return rc == 0 ? (int)n : rc;
}

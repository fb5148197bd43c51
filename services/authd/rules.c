#include "rules.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "clientid.h"

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
    *out = (rules_compiled_t){.rules = rules, .gr = gr, .n = rules->n, .ids = ids, .n_ids = total};
    return 0;
}

void rules_compiled_fini(rules_compiled_t *c)
{
    free(c->gr);
    free(c->ids);
    *c = (rules_compiled_t){0};
}

static grouprule_facts_t facts_of(const rules_facts_t *f)
{
    bool anonymous = !f->client_id;
    const char *fp = f->cert_fingerprint && f->cert_fingerprint[0] && !anonymous ? f->cert_fingerprint : NULL;
    return (grouprule_facts_t){.client_id = view(f->client_id), .mqtt_client_id = view(f->mqtt_client_id),
                               .fingerprint = view(fp)};
}

bool rules_client_id_allowed(const rules_compiled_t *c, const rules_facts_t *f, const char *username)
{
    grouprule_facts_t facts = facts_of(f);
    for (size_t i = 0; i < c->n; i++) {
        const char *ids = c->rules->items[i].client_ids;
        if (ids && ids[0] && grouprule_matches(&c->gr[i], &facts) &&
            !clientid_allowed(ids, username, f->mqtt_client_id))
            return false;
    }
    return true;
}

int rules_eval(const rules_compiled_t *c, const rules_facts_t *f, grouprule_str_t *out, size_t cap)
{
    grouprule_facts_t facts = facts_of(f);
    size_t n = 0;
    int rc = grouprule_eval(c->gr, c->n, &facts, out, cap, &n);
    return rc == 0 ? (int)n : rc;
}

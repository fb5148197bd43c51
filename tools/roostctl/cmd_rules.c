/* cmd_rules: `roostctl rules ...`. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char USAGE[] =
    "usage: roostctl [--redis HOST:PORT] [--prefix P] [--json] rules VERB\n"
    "  create --match-by client|mqtt_client_id|certificate_fingerprint --value V\n"
    "         --group GID [GID ...]   (--group may be repeated)\n"
    "  list [--limit N] [--cursor C]\n"
    "  get ID\n"
    "  delete ID\n"
    "Direct-to-store mode (bootstrapping/tests); see roostctl --help.\n";

static void print_rule(ctl_t *c, const store_rule_t *r)
{
    if (c->json) {
        ctl_print_json(ctl_rule_json(r));
        return;
    }
    printf("id: %s\nmatch_by: %s\nvalue: %s\n", r->id, store_match_by_name(r->match_by),
           r->value);
    for (size_t i = 0; i < r->n_groups; i++)
        printf("group: %s\n", r->groups[i]);
}

static int do_create(ctl_t *c, int argc, char **argv)
{
    store_rule_spec_t spec = {0};
    const char *groups[STORE_RULE_GROUPS_MAX];
    const char *match = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--group")) {
            if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
                return ctl_usage("rules create: --group needs a value");
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (spec.n_groups == STORE_RULE_GROUPS_MAX)
                    return ctl_usage("rules create: too many groups");
                groups[spec.n_groups++] = argv[++i];
            }
            continue;
        }
        const char **slot = ctl_opt(argc, argv, &i, "match-by", &v) ? &match
                            : ctl_opt(argc, argv, &i, "value", &v)  ? &spec.value
                                                                    : NULL;
        if (!slot || !v)
            return ctl_usage("rules create: bad argument '%s'", argv[i]);
        *slot = v;
    }
    if (!match || store_match_by_parse(match, &spec.match_by) < 0)
        return ctl_usage("rules create: --match-by client|mqtt_client_id|certificate_fingerprint");
    spec.groups = groups;
    store_rule_t *r = NULL;
    int rc = store_rule_create(c->s, &spec, &r);
    if (rc < 0)
        return ctl_fail(c, rc, "rules create");
    print_rule(c, r);
    store_rule_free(&r);
    return 0;
}

static int do_list(ctl_t *c, int argc, char **argv)
{
    ctl_list_opts_t o;
    int rc = ctl_list_opts("rules", argc, argv, false, &o);
    if (rc)
        return rc;
    store_rule_list_t *l = NULL;
    rc = store_rule_list(c->s, o.cursor, o.limit, &l);
    if (rc < 0)
        return ctl_fail(c, rc, "rules list");
    if (c->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(items, ctl_rule_json(&l->items[i]));
        ctl_print_json(ctl_page_json(items, l->next_cursor, l->total));
    } else {
        for (size_t i = 0; i < l->n; i++)
            printf("%s  %-15s  %s  (%zu groups)\n", l->items[i].id,
                   store_match_by_name(l->items[i].match_by), l->items[i].value,
                   l->items[i].n_groups);
        ctl_print_next(l->next_cursor);
    }
    store_rule_list_free(&l);
    return 0;
}

int ctl_rules(ctl_t *c, int argc, char **argv)
{
    int code;
    if (ctl_noun_help(argc, argv, USAGE, &code))
        return code;
    const char *verb = argv[0];
    if (!strcmp(verb, "create"))
        return do_create(c, argc, argv);
    if (!strcmp(verb, "list"))
        return do_list(c, argc, argv);
    if ((code = ctl_id_verb("rules", argc, argv)))
        return code;
    if (!strcmp(verb, "delete"))
        return ctl_deleted(c, store_rule_delete(c->s, argv[1]), "rules delete", argv[1]);
    store_rule_t *r = NULL;
    int rc = store_rule_get(c->s, argv[1], &r);
    if (rc < 0)
        return ctl_fail(c, rc, "rules get");
    print_rule(c, r);
    store_rule_free(&r);
    return 0;
}

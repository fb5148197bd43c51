/* cmd_groups: `roostctl groups ...`. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "ctl.h"

static const char USAGE[] =
    "usage: roostctl [--redis HOST:PORT] [--prefix P] [--json] groups VERB\n"
    "  create --name N [--description D] [--acl PERM:ACTION:TOPIC ...]\n"
    "         PERM allow|deny, ACTION publish|subscribe|both, TOPIC an MQTT filter\n"
    "         where a whole level may be %u (username) or %c (client id);\n"
    "         --acl may be repeated or followed by several entries, in order\n"
    "  list [--limit N] [--cursor C] [--search TEXT]\n"
    "  get ID\n"
    "  delete ID      (refused, exit 3, while a rule uses the group)\n"
    "Direct-to-store mode (bootstrapping/tests); see roostctl --help.\n";

static void print_group(ctl_t *c, const store_group_t *g)
{
    if (c->json) {
        ctl_print_json(ctl_group_json(g));
        return;
    }
    printf("id: %s\nname: %s\ndescription: %s\n", g->id, g->name, g->description);
    for (size_t i = 0; i < g->n_acl; i++)
        printf("acl: %s %s %s\n", store_permission_name(g->acl[i].permission),
               store_action_name(g->acl[i].action), g->acl[i].topic);
}

/* "allow:publish:a/b" -> entry; the topic (after the second ':') is
 * borrowed from arg. */
static int parse_acl(char *arg, store_acl_t *e)
{
    char *c1 = strchr(arg, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return ctl_usage("groups: --acl wants PERM:ACTION:TOPIC, got '%s'", arg);
    *c1 = *c2 = '\0';
    int bad = store_permission_parse(arg, &e->permission) < 0 ||
              store_action_parse(c1 + 1, &e->action) < 0;
    *c1 = *c2 = ':';
    if (bad)
        return ctl_usage("groups: --acl '%s': PERM is allow|deny, ACTION publish|subscribe|both",
                         arg);
    e->topic = c2 + 1;
    return 0;
}

static int do_create(ctl_t *c, int argc, char **argv)
{
    store_group_spec_t spec = {0};
    store_acl_t acl[STORE_ACL_MAX];
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--acl")) {
            if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
                return ctl_usage("groups create: --acl needs a value");
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (spec.n_acl == STORE_ACL_MAX)
                    return ctl_usage("groups create: too many --acl entries");
                int rc = parse_acl(argv[++i], &acl[spec.n_acl++]);
                if (rc)
                    return rc;
            }
            continue;
        }
        const char **slot = ctl_opt(argc, argv, &i, "name", &v)          ? &spec.name
                            : ctl_opt(argc, argv, &i, "description", &v) ? &spec.description
                                                                         : NULL;
        if (!slot || !v)
            return ctl_usage("groups create: bad argument '%s'", argv[i]);
        *slot = v;
    }
    spec.acl = acl;
    store_group_t *g = NULL;
    int rc = store_group_create(c->s, &spec, &g);
    if (rc < 0)
        return ctl_fail(c, rc, "groups create");
    print_group(c, g);
    store_group_free(&g);
    return 0;
}

static int do_list(ctl_t *c, int argc, char **argv)
{
    ctl_list_opts_t o;
    int rc = ctl_list_opts("groups", argc, argv, true, &o);
    if (rc)
        return rc;
    store_group_list_t *l = NULL;
    rc = store_group_list(c->s, o.cursor, o.limit, o.search, &l);
    if (rc < 0)
        return ctl_fail(c, rc, "groups list");
    if (c->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < l->n; i++)
            json_array_append_new(items, ctl_group_json(&l->items[i]));
        ctl_print_json(ctl_page_json(items, l->next_cursor, l->total));
    } else {
        for (size_t i = 0; i < l->n; i++)
            printf("%s  %-24s  %zu acl entries\n", l->items[i].id, l->items[i].name,
                   l->items[i].n_acl);
        ctl_print_next(l->next_cursor);
    }
    store_group_list_free(&l);
    return 0;
}

int ctl_groups(ctl_t *c, int argc, char **argv)
{
    int code;
    if (ctl_noun_help(argc, argv, USAGE, &code))
        return code;
    const char *verb = argv[0];
    if (!strcmp(verb, "create"))
        return do_create(c, argc, argv);
    if (!strcmp(verb, "list"))
        return do_list(c, argc, argv);
    if ((code = ctl_id_verb("groups", argc, argv)))
        return code;
    if (!strcmp(verb, "delete"))
        return ctl_deleted(c, store_group_delete(c->s, argv[1]), "groups delete", argv[1]);
    store_group_t *g = NULL;
    int rc = store_group_get(c->s, argv[1], &g);
    if (rc < 0)
        return ctl_fail(c, rc, "groups get");
    print_group(c, g);
    store_group_free(&g);
    return 0;
}

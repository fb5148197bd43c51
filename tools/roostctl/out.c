/* out: roostctl's shared output, error mapping and option helpers. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "ctl.h"

int ctl_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("roostctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    return CTL_USAGE;
}

static int exit_code(int rc)
{
    switch (rc) {
    case ROOST_ENOTFOUND: return CTL_NOTFOUND;
    case ROOST_ECONFLICT: return CTL_CONFLICT;
    case ROOST_EINVAL: return CTL_INVALID;
    default: return CTL_UNAVAILABLE;
    }
}

int ctl_fail(ctl_t *c, int rc, const char *what)
{
    const store_error_t *e = store_last_error(c->s);
    fprintf(stderr, "roostctl: %s: %s", what, roost_strerror(rc));
    if (e->field)
        fprintf(stderr, ": %s", e->field);
    if (e->reason)
        fprintf(stderr, ": %s", e->reason);
    for (size_t i = 0; i < e->n_ids; i++)
        fprintf(stderr, "%s%s", i ? ", " : " (", e->ids[i]);
    fputs(e->n_ids ? ")\n" : "\n", stderr);
    if (c->json) {
        json_t *ids = json_array();
        for (size_t i = 0; i < e->n_ids; i++)
            json_array_append_new(ids, json_string(e->ids[i]));
        json_t *j = json_pack("{s:s, s:i, s:s?, s:s?, s:o}", "error", roost_strerror(rc), "code",
                              exit_code(rc), "field", e->field, "reason", e->reason, "ids", ids);
        ctl_print_json(j);
    }
    return exit_code(rc);
}

bool ctl_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
        return false;
    if (a[2 + n] == '=') {
        *val = a + 3 + n;
        return true;
    }
    if (a[2 + n] != '\0')
        return false;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

bool ctl_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

bool ctl_noun_help(int argc, char **argv, const char *usage, int *code)
{
    if (argc >= 1 && !ctl_is_help(argv[0]) && !(argc > 1 && ctl_is_help(argv[1])))
        return false;
    fputs(usage, argc < 1 ? stderr : stdout);
    *code = argc < 1 ? 1 : 0;
    return true;
}

int ctl_id_verb(const char *noun, int argc, char **argv)
{
    const char *verb = argv[0];
    if (strcmp(verb, "get") && strcmp(verb, "delete"))
        return ctl_usage("%s: unknown verb '%s'", noun, verb);
    if (argc != 2)
        return ctl_usage("%s %s: want exactly one ID", noun, verb);
    return 0;
}

int ctl_list_opts(const char *noun, int argc, char **argv, bool with_search, ctl_list_opts_t *o)
{
    const char *limit = "100";
    o->cursor = o->search = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const char **slot = ctl_opt(argc, argv, &i, "cursor", &v)                  ? &o->cursor
                            : with_search && ctl_opt(argc, argv, &i, "search", &v) ? &o->search
                            : ctl_opt(argc, argv, &i, "limit", &v)                 ? &limit
                                                                                   : NULL;
        if (!slot || !v)
            return ctl_usage("%s list: bad argument '%s'", noun, argv[i]);
        *slot = v;
    }
    o->limit = strtoul(limit, NULL, 10);
    return 0;
}

int ctl_deleted(ctl_t *c, int rc, const char *what, const char *id)
{
    if (rc < 0)
        return ctl_fail(c, rc, what);
    if (c->json)
        ctl_print_json(json_pack("{s:s, s:b}", "id", id, "deleted", 1));
    return 0;
}

void ctl_print_next(const char *next_cursor)
{
    if (next_cursor)
        printf("next cursor: %s\n", next_cursor);
}

json_t *ctl_client_json(const store_client_t *cl)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I}", "id", cl->id, "name", cl->name,
                     "auth_type", cl->auth_type, "username", cl->username, "has_password",
                     cl->has_password, "created_at", (json_int_t)cl->created_at, "updated_at",
                     (json_int_t)cl->updated_at);
}

json_t *ctl_group_json(const store_group_t *g)
{
    json_t *acl = json_array();
    for (size_t i = 0; i < g->n_acl; i++)
        json_array_append_new(acl, json_pack("{s:s, s:s, s:s}", "permission",
                                             store_permission_name(g->acl[i].permission),
                                             "action", store_action_name(g->acl[i].action),
                                             "topic", g->acl[i].topic));
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "id", g->id, "name", g->name,
                     "description", g->description, "acl", acl, "created_at",
                     (json_int_t)g->created_at, "updated_at", (json_int_t)g->updated_at);
}

json_t *ctl_rule_json(const store_rule_t *r)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < r->n_groups; i++)
        json_array_append_new(groups, json_string(r->groups[i]));
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "id", r->id, "match_by",
                     store_match_by_name(r->match_by), "value", r->value, "groups", groups,
                     "created_at", (json_int_t)r->created_at, "updated_at",
                     (json_int_t)r->updated_at);
}

json_t *ctl_page_json(json_t *items, const char *next_cursor, unsigned long long total)
{
    return json_pack("{s:o, s:s?, s:I}", "items", items, "next_cursor", next_cursor, "total",
                     (json_int_t)total);
}

void ctl_print_json(json_t *j)
{
    if (!j)
        return;
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (txt)
        puts(txt);
    free(txt);
    json_decref(j);
}

/* cmd_clients: `roostctl clients ...`. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char USAGE[] =
    "usage: roostctl [--redis HOST:PORT] [--prefix P] [--json] clients VERB\n"
    "  create --name N --username U (--password-stdin | --password P)\n"
    "  list [--limit N] [--cursor C] [--search TEXT]\n"
    "  get ID\n"
    "  edit ID [--name N] [--username U] [--password-stdin | --password P]\n"
    "  delete ID\n"
    "Passwords: at least 8 characters; --password-stdin reads one line.\n"
    "Direct-to-store mode (bootstrapping/tests); see roostctl --help.\n";

static void print_client(ctl_t *c, const store_client_t *cl)
{
    if (c->json) {
        ctl_print_json(ctl_client_json(cl));
        return;
    }
    printf("id: %s\nname: %s\nusername: %s\nauth_type: %s\npassword: %s\ncreated_at: %lld\n"
           "updated_at: %lld\n",
           cl->id, cl->name, cl->username, cl->auth_type, cl->has_password ? "set" : "not set",
           (long long)cl->created_at, (long long)cl->updated_at);
}

/* Reads one line from stdin into buf (newline stripped). */
static int read_password(char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, stdin))
        return ctl_usage("--password-stdin: nothing on stdin");
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Parses create/edit options after the verb (and ID). */
static int parse_spec(int argc, char **argv, int i, store_client_spec_t *spec, char *pw,
                      size_t pwcap)
{
    for (; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--password-stdin")) {
            int rc = read_password(pw, pwcap);
            if (rc)
                return rc;
            spec->password = pw;
            continue;
        }
        const char **slot = ctl_opt(argc, argv, &i, "name", &v)       ? &spec->name
                            : ctl_opt(argc, argv, &i, "username", &v) ? &spec->username
                            : ctl_opt(argc, argv, &i, "password", &v) ? &spec->password
                                                                      : NULL;
        if (!slot)
            return ctl_usage("clients: unexpected argument '%s'", argv[i]);
        if (!v)
            return ctl_usage("clients: %s needs a value", argv[i]);
        *slot = v;
    }
    return 0;
}

static int do_write(ctl_t *c, int argc, char **argv, bool create)
{
    store_client_spec_t spec = {0};
    char pw[1100] = "";
    if (!create && argc < 2)
        return ctl_usage("clients edit: missing ID");
    int rc = parse_spec(argc, argv, create ? 1 : 2, &spec, pw, sizeof(pw));
    store_client_t *cl = NULL;
    if (rc == 0) {
        rc = create ? store_client_create(c->s, &spec, &cl)
                    : store_client_update(c->s, argv[1], &spec, &cl);
        rc = rc < 0 ? ctl_fail(c, rc, create ? "clients create" : "clients edit") : 0;
    }
    sodium_memzero(pw, sizeof(pw));
    if (rc == 0)
        print_client(c, cl);
    store_client_free(&cl);
    return rc;
}

static int do_list(ctl_t *c, int argc, char **argv)
{
    ctl_list_opts_t o;
    int rc = ctl_list_opts("clients", argc, argv, true, &o);
    if (rc)
        return rc;
    store_client_page_t *p = NULL;
    rc = store_client_list(c->s, o.cursor, o.limit, o.search, &p);
    if (rc < 0)
        return ctl_fail(c, rc, "clients list");
    if (c->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < p->n; i++)
            json_array_append_new(items, ctl_client_json(&p->items[i]));
        ctl_print_json(ctl_page_json(items, p->next_cursor, p->total));
    } else {
        for (size_t i = 0; i < p->n; i++)
            printf("%s  %-24s  %s\n", p->items[i].id, p->items[i].username, p->items[i].name);
        ctl_print_next(p->next_cursor);
    }
    store_client_page_free(&p);
    return 0;
}

int ctl_clients(ctl_t *c, int argc, char **argv)
{
    int code;
    if (ctl_noun_help(argc, argv, USAGE, &code))
        return code;
    const char *verb = argv[0];
    if (!strcmp(verb, "create"))
        return do_write(c, argc, argv, true);
    if (!strcmp(verb, "edit"))
        return do_write(c, argc, argv, false);
    if (!strcmp(verb, "list"))
        return do_list(c, argc, argv);
    if ((code = ctl_id_verb("clients", argc, argv)))
        return code;
    if (!strcmp(verb, "delete"))
        return ctl_deleted(c, store_client_delete(c->s, argv[1]), "clients delete", argv[1]);
    store_client_t *cl = NULL;
    int rc = store_client_get(c->s, argv[1], &cl);
    if (rc < 0)
        return ctl_fail(c, rc, "clients get");
    print_client(c, cl);
    store_client_free(&cl);
    return 0;
}

/* rpc_mode: roostctl's default mode: commands over the admin RPC (ctl.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char USAGE[] =
    "usage: roostctl [--admin tcp://HOST:PORT] [--token T | --token-file F] [--json] NOUN VERB [ARGS]\n"
    "\n"
    "Talks to roost-admin over its ZeroMQ RPC: every write is validated, audited and\n"
    "announced to authd/brokers. With --redis HOST:PORT roostctl instead writes\n"
    "straight to Redis, without audit or events, for bootstrapping and tests\n"
    "(see `roostctl --redis X --help`).\n"
    "\n"
    "global options:\n"
    "  --admin EP        admin RPC endpoint (env ROOST_ADMIN_ENDPOINT; default tcp://127.0.0.1:5570)\n"
    "  --token T         operator token (env ROOST_ADMIN_TOKEN); visible to other users\n"
    "                    in ps: prefer --token-file or the variable\n"
    "  --token-file F    read the token from a file, '-' for stdin (env ROOST_ADMIN_TOKEN_FILE)\n"
    "  --timeout-ms N    how long to wait for admin (default 15000)\n"
    "  --admin-key K     admin's CurveZMQ public key (Z85 or a file), when admin runs with\n"
    "                    --curve-secret (env ROOST_ADMIN_CURVE_PUBLIC)\n"
    "  --json            print admin's JSON answers (and errors) on stdout\n"
    "  --help            this text; `roostctl NOUN --help` for each noun\n"
    "\n"
    "nouns: clients, groups, rules, connections, explain, tokens, audit, bans, pipelines, mappings, certificates, status\n"
    "`roostctl keygen`: a CurveZMQ key pair (bus and authd encryption), offline\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 not found, 3 conflict, 4 invalid value,\n"
    "            5 unavailable (admin or Redis), 6 unauthorized (token)\n";

typedef enum { O_STR, O_LIST, O_ACL, O_LIMIT, O_CURSOR, O_SEARCH, O_PWSTDIN, O_INT, O_FILE, O_BOOL } okind_t;

typedef struct opt {
    const char *flag, *key;
    okind_t kind;
} opt_t;

typedef struct cmd {
    const char *noun, *verb;
    rpc_admin_op_t op;
    const char *usage; /* arguments after the verb */
    bool want_id;
    opt_t opts[12];
} cmd_t;

#define PIPELINE_USAGE                                                                                    \
    "[--description D] [--status active|paused] [--authorization-token T] [--network-token T] "         \
    "[--batch-size N] [--linger-ms N] [--max-attempts N] [--max-queue N] [--timeout-ms N] [--max-age S]"
#define PIPELINE_OPTS                                                                                     \
    {"name", "name", O_STR}, {"url", "url", O_STR}, {"description", "description", O_STR},               \
        {"status", "status", O_STR}, {"authorization-token", "authorization_token", O_STR},               \
        {"network-token", "network_token", O_STR}, {"batch-size", "batch_size", O_INT},                   \
        {"linger-ms", "linger_ms", O_INT}, {"max-attempts", "max_attempts", O_INT},                       \
        {"max-queue", "max_queue", O_INT}, {"timeout-ms", "timeout_ms", O_INT}, {"max-age", "max_age_s", O_INT}
#define LIST_OPTS {"limit", NULL, O_LIMIT}, {"cursor", NULL, O_CURSOR}, {"search", NULL, O_SEARCH}

static const cmd_t CMDS[] = {
    {"clients", "list", RPC_ADMIN_CLIENT_LIST, "[--search S] [--limit N] [--cursor C]", false, {LIST_OPTS}},
    {"clients", "get", RPC_ADMIN_CLIENT_GET, "ID", true, {{0}}},
    {"clients", "create", RPC_ADMIN_CLIENT_CREATE,
     "--name N (--username U (--password-stdin | --password P) | --certificate PEM_FILE | both)"
     " [--allowed-client-id PATTERN]...", false,
     {{"name", "name", O_STR}, {"username", "username", O_STR}, {"password", "password", O_STR},
      {"password-stdin", "password", O_PWSTDIN}, {"certificate", "certificate", O_FILE},
      {"allowed-client-id", "allowed_client_ids", O_LIST}}},
    {"clients", "edit", RPC_ADMIN_CLIENT_UPDATE,
     "ID [--name N] [--username U] [--password-stdin | --password P] [--certificate PEM_FILE]"
     " [--allowed-client-id PATTERN]...", true,
     {{"name", "name", O_STR}, {"username", "username", O_STR}, {"password", "password", O_STR},
      {"password-stdin", "password", O_PWSTDIN}, {"certificate", "certificate", O_FILE},
      {"allowed-client-id", "allowed_client_ids", O_LIST}}},
    {"clients", "delete", RPC_ADMIN_CLIENT_DELETE, "ID", true, {{0}}},
    {"groups", "list", RPC_ADMIN_GROUP_LIST, "[--search S] [--limit N] [--cursor C]", false, {LIST_OPTS}},
    {"groups", "get", RPC_ADMIN_GROUP_GET, "ID", true, {{0}}},
    {"groups", "create", RPC_ADMIN_GROUP_CREATE, "--name N [--description D] [--acl allow:publish:TOPIC]... "
     "[--max-msg-rate N] [--max-byte-rate N]", false,
     {{"name", "name", O_STR}, {"description", "description", O_STR}, {"acl", "acl", O_ACL},
      {"max-msg-rate", "max_msg_rate", O_INT}, {"max-byte-rate", "max_byte_rate", O_INT}}},
    {"groups", "edit", RPC_ADMIN_GROUP_UPDATE, "ID [--name N] [--description D] [--acl PERM:ACTION:TOPIC]... "
     "[--max-msg-rate N] [--max-byte-rate N]", true,
     {{"name", "name", O_STR}, {"description", "description", O_STR}, {"acl", "acl", O_ACL},
      {"max-msg-rate", "max_msg_rate", O_INT}, {"max-byte-rate", "max_byte_rate", O_INT}}},
    {"groups", "delete", RPC_ADMIN_GROUP_DELETE, "ID", true, {{0}}},
    {"rules", "list", RPC_ADMIN_RULE_LIST, "[--limit N] [--cursor C]", false, {LIST_OPTS}},
    {"rules", "get", RPC_ADMIN_RULE_GET, "ID", true, {{0}}},
    {"rules", "create", RPC_ADMIN_RULE_CREATE, "--match-by client|mqtt_client_id|certificate_fingerprint --value V "
                                                "--group GROUP_ID [--group ...] [--allowed-client-id P]...", false,
     {{"match-by", "match_by", O_STR}, {"value", "value", O_STR}, {"group", "groups", O_LIST},
      {"allowed-client-id", "allowed_client_ids", O_LIST}}},
    {"rules", "edit", RPC_ADMIN_RULE_UPDATE, "ID [--match-by M] [--value V] [--group GROUP_ID]... [--allowed-client-id P]...", true,
     {{"match-by", "match_by", O_STR}, {"value", "value", O_STR}, {"group", "groups", O_LIST},
      {"allowed-client-id", "allowed_client_ids", O_LIST}}},
    {"rules", "delete", RPC_ADMIN_RULE_DELETE, "ID", true, {{0}}},
    {"connections", "list", RPC_ADMIN_CONNECTION_LIST, "[--search MQTT_CLIENT_ID] [--limit N] [--cursor C]", false,
     {LIST_OPTS}},
    {"connections", "kick", RPC_ADMIN_CONNECTION_KICK, "MQTT_CLIENT_ID", true, {{0}}},
    {"explain", NULL, RPC_ADMIN_EXPLAIN,
     "--username U --client-id C --action publish|subscribe --topic T [--fingerprint SHA256:...]", false,
     {{"username", "username", O_STR}, {"client-id", "mqtt_client_id", O_STR}, {"action", "action", O_STR},
      {"topic", "topic", O_STR}, {"fingerprint", "certificate_fingerprint", O_STR}}},
    {"certificates", "get", RPC_ADMIN_CERTIFICATES_GET, "", false, {{0}}},
    {"certificates", "set", RPC_ADMIN_CERTIFICATES_PUT,
     "[--enabled true|false] [--mtls none|optional|required] [--ca PEM_FILE] [--server-cert PEM_FILE] "
     "[--server-key PEM_FILE]", false,
     {{"enabled", "enabled", O_BOOL}, {"mtls", "mtls", O_STR}, {"ca", "ca_certificate", O_FILE},
      {"server-cert", "server_certificate", O_FILE}, {"server-key", "server_key", O_FILE}}},
    {"tokens", "list", RPC_ADMIN_TOKEN_LIST, "", false, {{0}}},
    {"tokens", "create", RPC_ADMIN_TOKEN_CREATE, "--name N", false, {{"name", "name", O_STR}}},
    {"tokens", "revoke", RPC_ADMIN_TOKEN_REVOKE, "ID", true, {{0}}},
    {"bans", "list", RPC_ADMIN_BAN_LIST, "", false, {{0}}},
    {"bans", "create", RPC_ADMIN_BAN_CREATE,
     "--kind client_id|username|cidr --value V [--reason R] [--expires-in SECONDS]", false,
     {{"kind", "kind", O_STR}, {"value", "value", O_STR}, {"reason", "reason", O_STR},
      {"expires-in", "expires_in_s", O_INT}}},
    {"bans", "delete", RPC_ADMIN_BAN_DELETE, "ID (kind:value)", true, {{0}}},
    {"audit", "list", RPC_ADMIN_AUDIT_LIST, "[--limit N] [--cursor C]", false, {LIST_OPTS}},
    {"pipelines", "list", RPC_ADMIN_PIPELINE_LIST, "[--search S] [--limit N] [--cursor C]", false, {LIST_OPTS}},
    {"pipelines", "get", RPC_ADMIN_PIPELINE_GET, "ID", true, {{0}}},
    {"pipelines", "create", RPC_ADMIN_PIPELINE_CREATE, "--name N --url http(s)://... " PIPELINE_USAGE, false,
     {PIPELINE_OPTS}},
    {"pipelines", "edit", RPC_ADMIN_PIPELINE_UPDATE, "ID [--name N] [--url U] " PIPELINE_USAGE, true,
     {PIPELINE_OPTS}},
    {"pipelines", "pause", RPC_ADMIN_PIPELINE_UPDATE, "ID   (its queue keeps filling)", true, {{0}}},
    {"pipelines", "resume", RPC_ADMIN_PIPELINE_UPDATE, "ID", true, {{0}}},
    {"pipelines", "delete", RPC_ADMIN_PIPELINE_DELETE, "ID   (refused, exit 3, while mappings feed it)", true,
     {{0}}},
    {"mappings", "list", RPC_ADMIN_MAPPING_LIST, "[--search TOPIC] [--limit N] [--cursor C]", false, {LIST_OPTS}},
    {"mappings", "get", RPC_ADMIN_MAPPING_GET, "ID", true, {{0}}},
    {"mappings", "create", RPC_ADMIN_MAPPING_CREATE, "--topic FILTER --pipeline PIPELINE_ID", false,
     {{"topic", "topic", O_STR}, {"pipeline", "pipeline", O_STR}}},
    {"mappings", "edit", RPC_ADMIN_MAPPING_UPDATE, "ID [--topic FILTER] [--pipeline PIPELINE_ID]", true,
     {{"topic", "topic", O_STR}, {"pipeline", "pipeline", O_STR}}},
    {"mappings", "delete", RPC_ADMIN_MAPPING_DELETE, "ID", true, {{0}}},
    {"status", NULL, RPC_ADMIN_OVERVIEW, "(the cluster now: endpoints, Redis, every broker and authd)", false,
     {{0}}},
};
#define N_CMDS (sizeof(CMDS) / sizeof(CMDS[0]))

static void noun_usage(const char *noun, FILE *f)
{
    fprintf(f, "usage (global options: roostctl --help):\n");
    for (size_t i = 0; i < N_CMDS; i++)
        if (!strcmp(CMDS[i].noun, noun))
            fprintf(f, "roostctl %s %s%s%s\n", noun, CMDS[i].verb ? CMDS[i].verb : "",
                    CMDS[i].verb ? " " : "", CMDS[i].usage);
    if (!strcmp(noun, "groups"))
        fprintf(f, "roostctl groups acl add GROUP_ID --permission allow|deny --action publish|subscribe|both "
                   "--topic T\nroostctl groups acl remove GROUP_ID (--index N | --permission P --action A "
                   "--topic T)\n");
}

/* "allow:publish:a/b/#" -> {permission, action, topic}. */
static json_t *acl_entry(const char *spec)
{
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return NULL;
    return json_pack("{s:s%, s:s%, s:s}", "permission", spec, (size_t)(c1 - spec), "action", c1 + 1,
                     (size_t)(c2 - c1 - 1), "topic", c2 + 1);
}

static int read_stdin_line(char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, stdin))
        return ctl_usage("--password-stdin: nothing on stdin");
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Fills req (and body) from the options after the verb. */
static int parse_opts(const cmd_t *c, int argc, char **argv, rpc_admin_request_t *req, json_t *body, char *pw,
                      size_t pwcap)
{
    for (int i = 0; i < argc; i++) {
        const opt_t *o = NULL;
        const char *v = NULL;
        for (size_t k = 0; k < 12 && c->opts[k].flag && !o; k++)
            if (c->opts[k].kind == O_PWSTDIN ? !strcmp(argv[i], "--password-stdin")
                                             : ctl_opt(argc, argv, &i, c->opts[k].flag, &v))
                o = &c->opts[k];
        if (!o)
            return ctl_usage("unexpected argument '%s'", argv[i]);
        if (o->kind != O_PWSTDIN && !v)
            return ctl_usage("--%s needs a value", o->flag);
        json_t *arr = o->kind == O_LIST || o->kind == O_ACL ? json_object_get(body, o->key) : NULL;
        if ((o->kind == O_LIST || o->kind == O_ACL) && !arr)
            json_object_set_new(body, o->key, arr = json_array());
        switch (o->kind) {
        case O_STR:
            if (!strcmp(o->key, "password"))
                fputs("roostctl: note: --password on the command line is visible to other users (ps); "
                      "use --password-stdin\n", stderr);
            json_object_set_new(body, o->key, json_string(v));
            break;
        case O_INT: {
            char *end = NULL;
            long long n = strtoll(v, &end, 10);
            if (!*v || *end)
                return ctl_usage("--%s wants an integer, got '%s'", o->flag, v);
            json_object_set_new(body, o->key, json_integer(n));
            break;
        }
        case O_LIST: json_array_append_new(arr, json_string(v)); break;
        case O_ACL: {
            json_t *e = acl_entry(v);
            if (!e)
                return ctl_usage("--acl wants PERMISSION:ACTION:TOPIC, got '%s'", v);
            json_array_append_new(arr, e);
            break;
        }
        case O_LIMIT: req->limit = (uint32_t)strtoul(v, NULL, 10); if (!req->limit) return ctl_usage("--limit wants 1-1000"); break;
        case O_CURSOR: req->cursor = v; break;
        case O_SEARCH: req->search = v; break;
        case O_BOOL:
            if (strcmp(v, "true") && strcmp(v, "false"))
                return ctl_usage("--%s wants true or false, got '%s'", o->flag, v);
            json_object_set_new(body, o->key, json_boolean(!strcmp(v, "true")));
            break;
        case O_FILE: {
            /* a small text file (a PEM certificate) sent as a string */
            char buf[65536];
            FILE *f = fopen(v, "r");
            size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
            bool bad = !f || ferror(f) || !feof(f);
            if (f)
                fclose(f);
            if (bad)
                return ctl_usage("--%s: cannot read '%s' (at most 64 KiB of text)", o->flag, v);
            buf[n] = '\0';
            json_object_set_new(body, o->key, json_string(buf));
            sodium_memzero(buf, n); /* may be a private key */
            break;
        }
        case O_PWSTDIN:
            if (read_stdin_line(pw, pwcap))
                return CTL_USAGE;
            json_object_set_new(body, o->key, json_string(pw));
            break;
        }
    }
    return 0;
}

/* Sends req with body (if non-empty object or needed) and prints. */
static int exchange(const ctl_rpc_t *r, const char *noun, rpc_admin_request_t *req, json_t *body, json_t **keep)
{
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    req->body = txt;
    unsigned status = 0;
    json_t *doc = NULL;
    int rc = ctl_rpc_call(r, req, &status, &doc);
    if (txt) {
        sodium_memzero(txt, strlen(txt)); /* may hold a password */
        free(txt);
    }
    if (rc == CTL_OK && status >= 300)
        rc = ctl_rpc_fail(status, doc, r->json);
    else if (rc == CTL_OK && keep)
        *keep = json_incref(doc);
    else if (rc == CTL_OK && status == 204) {
        json_t *gone = json_pack("{s:s, s:b}", "id", req->id ? req->id : "", "deleted", 1);
        ctl_rpc_print(noun, gone, r->json);
        json_decref(gone);
    }
    else if (rc == CTL_OK)
        ctl_rpc_print(noun, doc, r->json);
    json_decref(doc);
    return rc;
}

/* groups acl add|remove GROUP_ID ...: read the group, change its list,
 * write the whole list back (last writer wins, like any edit). */
static int group_acl(const ctl_rpc_t *r, int argc, char **argv)
{
    if (argc < 2 || ctl_is_help(argv[0]) || (strcmp(argv[0], "add") && strcmp(argv[0], "remove")))
        return argc && ctl_is_help(argv[0]) ? (noun_usage("groups", stdout), CTL_OK)
                                            : ctl_usage("groups acl: want add|remove GROUP_ID ...");
    bool add = !strcmp(argv[0], "add");
    const char *perm = NULL, *action = NULL, *topic = NULL, *index = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        const char **slot = ctl_opt(argc, argv, &i, "permission", &v) ? &perm
                            : ctl_opt(argc, argv, &i, "action", &v)   ? &action
                            : ctl_opt(argc, argv, &i, "topic", &v)    ? &topic
                            : ctl_opt(argc, argv, &i, "index", &v)    ? &index
                                                                      : NULL;
        if (!slot || !v)
            return ctl_usage("groups acl: bad argument '%s'", argv[i]);
        *slot = v;
    }
    if ((add || !index) && (!perm || !action || !topic))
        return ctl_usage("groups acl %s: want --permission, --action and --topic", argv[0]);
    rpc_admin_request_t req = {.op = RPC_ADMIN_GROUP_GET, .id = argv[1]};
    json_t *g = NULL;
    int rc = exchange(r, "groups", &req, NULL, &g);
    if (rc)
        return rc;
    json_t *acl = json_deep_copy(json_object_get(g, "acl"));
    json_decref(g);
    if (add) {
        json_array_append_new(acl, json_pack("{s:s, s:s, s:s}", "permission", perm, "action", action, "topic", topic));
    } else {
        size_t at = index ? strtoul(index, NULL, 10) : SIZE_MAX, i;
        json_t *e;
        json_array_foreach(acl, i, e) if (at == SIZE_MAX && !strcmp(perm, json_string_value(json_object_get(e, "permission"))) &&
                                          !strcmp(action, json_string_value(json_object_get(e, "action"))) &&
                                          !strcmp(topic, json_string_value(json_object_get(e, "topic")))) at = i;
        if (at >= json_array_size(acl)) {
            json_decref(acl);
            fputs("roostctl: groups acl remove: no such entry in the group\n", stderr);
            return CTL_NOTFOUND;
        }
        json_array_remove(acl, at);
    }
    json_t *body = json_pack("{s:o}", "acl", acl);
    req = (rpc_admin_request_t){.op = RPC_ADMIN_GROUP_UPDATE, .id = argv[1]};
    rc = exchange(r, "groups", &req, body, NULL);
    json_decref(body);
    return rc;
}

static int run_cmd(const ctl_rpc_t *r, const char *noun, int argc, char **argv)
{
    if (!strcmp(noun, "groups") && argc > 0 && !strcmp(argv[0], "acl"))
        return group_acl(r, argc - 1, argv + 1);
    bool verbless = !strcmp(noun, "explain") || !strcmp(noun, "status");
    if (argc < (verbless ? 0 : 1) || (argc > 0 && ctl_is_help(argv[0])) ||
        (argc > 1 && ctl_is_help(argv[1]))) {
        bool asked = argc > 0;
        noun_usage(noun, asked ? stdout : stderr);
        return asked ? CTL_OK : CTL_USAGE;
    }
    const cmd_t *c = NULL;
    for (size_t i = 0; i < N_CMDS && !c; i++)
        if (!strcmp(CMDS[i].noun, noun) && (verbless || !strcmp(CMDS[i].verb, argv[0])))
            c = &CMDS[i];
    if (!c)
        return ctl_usage("%s: unknown verb '%s'", noun, argc ? argv[0] : "");
    int at = verbless ? 0 : 1;
    rpc_admin_request_t req = {.op = c->op};
    if (c->want_id) {
        if (at >= argc || argv[at][0] == '-')
            return ctl_usage("%s %s: missing %s", noun, c->verb, c->usage);
        req.id = argv[at++];
    }
    json_t *body = json_object();
    char pw[1100] = "";
    int rc = parse_opts(c, argc - at, argv + at, &req, body, pw, sizeof(pw));
    if (!strcmp(noun, "pipelines") && (!strcmp(c->verb, "pause") || !strcmp(c->verb, "resume")))
        json_object_set_new(body, "status", json_string(!strcmp(c->verb, "pause") ? "paused" : "active"));
    bool has_body = c->op == RPC_ADMIN_CLIENT_CREATE || c->op == RPC_ADMIN_CLIENT_UPDATE ||
                    c->op == RPC_ADMIN_GROUP_CREATE || c->op == RPC_ADMIN_GROUP_UPDATE ||
                    c->op == RPC_ADMIN_RULE_CREATE || c->op == RPC_ADMIN_RULE_UPDATE || c->op == RPC_ADMIN_EXPLAIN ||
                    c->op == RPC_ADMIN_TOKEN_CREATE || c->op == RPC_ADMIN_PIPELINE_CREATE ||
                    c->op == RPC_ADMIN_PIPELINE_UPDATE || c->op == RPC_ADMIN_MAPPING_CREATE ||
                    c->op == RPC_ADMIN_MAPPING_UPDATE || c->op == RPC_ADMIN_CERTIFICATES_PUT;
    if (c->op == RPC_ADMIN_OVERVIEW)
        req.cursor = "9999999999999"; /* the figures now, no history */
    if (rc == 0 && c->op == RPC_ADMIN_RULE_LIST && !r->json)
        rc = ctl_rules_list(r, &req); /* names, as the console shows them */
    else if (rc == 0)
        rc = exchange(r, noun, &req, has_body ? body : NULL, NULL);
    sodium_memzero(pw, sizeof(pw));
    json_decref(body);
    return rc;
}

bool ctl_wants_direct(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--redis") || !strncmp(argv[i], "--redis=", 8) ||
            !strcmp(argv[i], "--redis-sentinels") || !strncmp(argv[i], "--redis-sentinels=", 18))
            return true;
    return false;
}

static char *read_token_file(const char *path)
{
    bool std = !strcmp(path, "-");
    FILE *f = std ? stdin : fopen(path, "r");
    char line[600];
    if (!f || !fgets(line, sizeof(line), f)) {
        if (f && !std)
            fclose(f);
        return NULL;
    }
    if (!std)
        fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    char *t = strdup(line);
    sodium_memzero(line, sizeof(line));
    return t;
}

int ctl_rpc_main(int argc, char **argv)
{
    ctl_rpc_t r = {.endpoint = getenv("ROOST_ADMIN_ENDPOINT"), .token = getenv("ROOST_ADMIN_TOKEN"),
                   .admin_key = getenv("ROOST_ADMIN_CURVE_PUBLIC"), .timeout_ms = 15000};
    const char *token_file = getenv("ROOST_ADMIN_TOKEN_FILE"), *timeout = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *v = NULL;
        const char **slot = NULL;
        if (ctl_is_help(argv[i])) {
            fputs(USAGE, stdout);
            return CTL_OK;
        } else if (!strcmp(argv[i], "--json")) {
            r.json = true;
            continue;
        }
        slot = ctl_opt(argc, argv, &i, "admin", &v)        ? &r.endpoint
               : ctl_opt(argc, argv, &i, "token", &v)      ? &r.token
               : ctl_opt(argc, argv, &i, "token-file", &v) ? &token_file
               : ctl_opt(argc, argv, &i, "timeout-ms", &v) ? &timeout
               : ctl_opt(argc, argv, &i, "admin-key", &v)  ? &r.admin_key
                                                           : NULL;
        if (!slot)
            return ctl_usage("unknown option %s", argv[i]);
        if (!v)
            return ctl_usage("%s needs a value", argv[i]);
        if (slot == &r.token)
            fputs("roostctl: note: --token on the command line is visible to other users (ps); "
                  "use --token-file or ROOST_ADMIN_TOKEN\n", stderr);
        *slot = v;
    }
    /* --json may also come after the noun */
    int n = i;
    for (int k = i; k < argc; k++) {
        if (!strcmp(argv[k], "--json"))
            r.json = true;
        else
            argv[n++] = argv[k];
    }
    argc = n;
    if (i >= argc) {
        fputs(USAGE, stderr);
        return CTL_USAGE;
    }
    if (!r.endpoint)
        r.endpoint = "tcp://127.0.0.1:5570";
    if (timeout && (r.timeout_ms = atoi(timeout)) <= 0)
        return ctl_usage("--timeout-ms wants a positive number");
    char *from_file = NULL;
    if ((!r.token || !r.token[0]) && token_file && !(r.token = from_file = read_token_file(token_file)))
        return ctl_usage("cannot read a token from %s", token_file);
    const char *noun = argv[i];
    static const char *const NOUNS[] = {"clients", "groups", "rules", "connections", "explain", "tokens", "audit", "bans", "pipelines", "mappings", "certificates",
                                        "status"};
    bool known = false;
    for (size_t k = 0; k < sizeof(NOUNS) / sizeof(NOUNS[0]); k++)
        known |= !strcmp(noun, NOUNS[k]);
    int rc = known ? run_cmd(&r, noun, argc - i - 1, argv + i + 1) : ctl_usage("unknown noun '%s'", noun);
    if (from_file) {
        sodium_memzero(from_file, strlen(from_file));
        free(from_file);
    }
    return rc;
}

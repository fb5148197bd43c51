/* roost-authd-seed: writes test data straight through lib/store for
 * tests/integration/test_30_authd.py (independent of roostctl), with
 * control over the argon2 cost of stored hashes. Prints one JSON object.
 *
 *   roost-authd-seed --redis H:P [--prefix P] [--ops N --mem BYTES] CMD ...
 *     client NAME USERNAME PASSWORD        -> {"id":"..."}
 *     password CLIENT_ID NEW_PASSWORD      -> {"id":"..."}
 *     group NAME [perm:action:topic ...]   -> {"id":"..."}
 *     rule MATCH_BY VALUE GROUP_ID...      -> {"id":"..."}
 * Exit 0 on success, 1 with {"error":...} otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/store.h"

static int fail(store_t *s, int rc)
{
    const store_error_t *e = s ? store_last_error(s) : NULL;
    printf("{\"error\":\"%s\",\"rc\":%d,\"field\":\"%s\",\"reason\":\"%s\"}\n", roost_strerror(rc), rc,
           e && e->field ? e->field : "", e && e->reason ? e->reason : "");
    return 1;
}

static int parse_acl(const char *spec, store_acl_t *out)
{
    char perm[16], action[16];
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || c1 - spec >= 16 || c2 - c1 - 1 >= 16)
        return ROOST_EINVAL;
    memcpy(perm, spec, (size_t)(c1 - spec));
    perm[c1 - spec] = '\0';
    memcpy(action, c1 + 1, (size_t)(c2 - c1 - 1));
    action[c2 - c1 - 1] = '\0';
    out->topic = c2 + 1;
    int rc = store_permission_parse(perm, &out->permission);
    return rc ? rc : store_action_parse(action, &out->action);
}

static int run(store_t *s, int argc, char **argv)
{
    int rc = ROOST_EINVAL;
    const char *cmd = argv[0];
    char id[STORE_ID_LEN + 1] = "";
    if (!strcmp(cmd, "client") && argc == 4) {
        store_client_t *c = NULL;
        store_client_spec_t spec = {.name = argv[1], .username = argv[2], .password = argv[3]};
        if (!(rc = store_client_create(s, &spec, &c)))
            memcpy(id, c->id, sizeof(id));
        store_client_free(&c);
    } else if (!strcmp(cmd, "password") && argc == 3) {
        store_client_spec_t spec = {.password = argv[2]};
        if (!(rc = store_client_update(s, argv[1], &spec, NULL)))
            snprintf(id, sizeof(id), "%s", argv[1]);
    } else if (!strcmp(cmd, "group") && argc >= 2) {
        store_acl_t acl[64];
        size_t n = 0;
        for (int i = 2; i < argc && n < 64; i++)
            if ((rc = parse_acl(argv[i], &acl[n++])))
                return rc;
        store_group_t *g = NULL;
        store_group_spec_t spec = {.name = argv[1], .acl = acl, .n_acl = n};
        if (!(rc = store_group_create(s, &spec, &g)))
            memcpy(id, g->id, sizeof(id));
        store_group_free(&g);
    } else if (!strcmp(cmd, "rule") && argc >= 4) {
        store_rule_spec_t spec = {.set_match_by = true, .value = argv[2], .set_groups = true,
                                  .groups = (const char *const *)&argv[3], .n_groups = (size_t)(argc - 3)};
        store_rule_t *r = NULL;
        if (!(rc = store_match_by_parse(argv[1], &spec.match_by)) && !(rc = store_rule_create(s, &spec, &r)))
            memcpy(id, r->id, sizeof(id));
        store_rule_free(&r);
    }
    if (!rc)
        printf("{\"id\":\"%s\"}\n", id);
    return rc;
}

int main(int argc, char **argv)
{
    const char *redis = "127.0.0.1:6379", *prefix = NULL;
    store_cost_t cost = {0, 0};
    int i = 1;
    for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (!strcmp(argv[i], "--redis")) redis = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix")) prefix = argv[i + 1];
        else if (!strcmp(argv[i], "--ops")) cost.opslimit = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--mem")) cost.memlimit = strtoull(argv[i + 1], NULL, 10);
    }
    if (i >= argc)
        return fail(NULL, ROOST_EINVAL);
    char host[256];
    const char *colon = strrchr(redis, ':');
    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - redis) : (int)strlen(redis), redis);
    store_t *s = store_new(host, colon ? atoi(colon + 1) : 6379, prefix, &cost);
    int rc = s ? run(s, argc - i, argv + i) : -ENOMEM;
    int status = rc ? fail(s, rc) : 0;
    store_destroy(&s);
    return status;
}

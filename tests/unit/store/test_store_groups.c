/* Unit tests for lib/store's groups with their ACL entries (store_group.c)
 * and group rules (store_rule.c) against a private redis-server
 * (store_test.h): create, read, update, delete, name and match
 * conflicts, validation of every field. */
#include "store_test.h"

/* ---- groups and rules ---- */

static void test_group_crud(void **state)
{
    store_t *s = open_store("t-group:");
    store_acl_t acl[] = {{STORE_ALLOW, STORE_PUBLISH, "devices/%u/#"},
                         {STORE_DENY, STORE_SUBSCRIBE, "devices/+/secret"},
                         {STORE_ALLOW, STORE_BOTH, "clients/%c/cmd"}};
    store_group_spec_t spec = {.name = "sensors", .description = "all sensors", .acl = acl,
                               .n_acl = 3};
    store_group_t *g = NULL, *h = NULL;
    assert_int_equal(store_group_create(s, &spec, &g), 0);
    assert_int_equal(g->n_acl, 3);
    assert_int_equal(store_group_get(s, g->id, &h), 0);
    assert_string_equal(h->name, "sensors");
    assert_string_equal(h->description, "all sensors");
    assert_int_equal(h->n_acl, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h->acl[i].permission, acl[i].permission);
        assert_int_equal(h->acl[i].action, acl[i].action);
        assert_string_equal(h->acl[i].topic, acl[i].topic);
    }
    store_group_free(&h);
    /* name conflict, on create and on rename */
    store_group_spec_t dup = {.name = "sensors"};
    assert_int_equal(store_group_create(s, &dup, &h), ROOST_ECONFLICT);
    assert_string_equal(bad_field(s), "name");
    store_group_spec_t other = {.name = "other"};
    assert_int_equal(store_group_create(s, &other, &h), 0);
    assert_string_equal(h->description, "");
    assert_int_equal(h->n_acl, 0);
    assert_int_equal(store_group_update(s, h->id, &dup, NULL), ROOST_ECONFLICT);
    /* update: description and ACL replaced, name kept */
    store_group_spec_t up = {.description = "", .acl = acl + 1, .n_acl = 1, .set_acl = true};
    store_group_t *u = NULL;
    assert_int_equal(store_group_update(s, g->id, &up, &u), 0);
    assert_string_equal(u->name, "sensors");
    assert_string_equal(u->description, "");
    assert_int_equal(u->n_acl, 1);
    assert_string_equal(u->acl[0].topic, "devices/+/secret");
    store_group_free(&u);
    /* list and get_many */
    store_group_list_t *l = NULL;
    assert_int_equal(store_group_list(s, NULL, 10, NULL, &l), 0);
    assert_int_equal(l->n, 2);
    store_group_list_free(&l);
    assert_int_equal(store_group_list(s, NULL, 10, "SENS", &l), 0);
    assert_int_equal(l->n, 1);
    assert_string_equal(l->items[0].id, g->id);
    store_group_list_free(&l);
    const char *ids[] = {h->id, "000000000000000000000000", "junk", g->id};
    assert_int_equal(store_group_get_many(s, ids, 4, &l), 0);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[0].id, h->id);
    assert_string_equal(l->items[1].id, g->id);
    assert_true(l->config_version >= 3);
    store_group_list_free(&l);
    /* delete */
    assert_int_equal(store_group_delete(s, h->id), 0);
    assert_int_equal(store_group_get(s, h->id, &u), ROOST_ENOTFOUND);
    assert_int_equal(store_group_delete(s, h->id), ROOST_ENOTFOUND);
    assert_int_equal(store_group_create(s, &other, &u), 0); /* name is free again */
    store_group_free(&u);
    store_group_free(&g);
    store_group_free(&h);
    store_destroy(&s);
}

static void expect_acl_invalid(store_t *s, store_acl_t e, const char *field)
{
    store_acl_t acl[2] = {{STORE_ALLOW, STORE_PUBLISH, "ok/#"}, e};
    store_group_spec_t spec = {.name = "g", .acl = acl, .n_acl = 2};
    assert_int_equal(store_group_create(s, &spec, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), field);
}

static void test_group_validation(void **state)
{
    store_t *s = open_store("t-gvalid:");
    char d1025[1026];
    memset(d1025, 'd', 1025);
    d1025[1025] = '\0';
    store_group_spec_t spec = {.name = ""};
    assert_int_equal(store_group_create(s, &spec, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "name");
    spec = (store_group_spec_t){.name = "g", .description = d1025};
    assert_int_equal(store_group_create(s, &spec, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "description");
    d1025[1024] = '\0';
    spec.description = d1025; /* 1024 is fine */
    store_group_t *g = NULL;
    assert_int_equal(store_group_create(s, &spec, &g), 0);
    store_group_free(&g);
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, "a/#/b"}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, "a/b+"}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, ""}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, NULL}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, "a/x%u"}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, "%cx/a"}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, STORE_PUBLISH, "a/\xff"}, "acl[1].topic");
    expect_acl_invalid(s, (store_acl_t){(store_permission_t)7, STORE_PUBLISH, "a"},
                       "acl[1].permission");
    expect_acl_invalid(s, (store_acl_t){STORE_ALLOW, (store_action_t)0, "a"}, "acl[1].action");
    /* literal percent signs elsewhere are fine */
    store_acl_t ok[] = {{STORE_ALLOW, STORE_PUBLISH, "a/100%/%u"}};
    spec = (store_group_spec_t){.name = "pct", .acl = ok, .n_acl = 1};
    assert_int_equal(store_group_create(s, &spec, NULL), 0);
    store_destroy(&s);
}

static void test_rule_crud_and_conflict(void **state)
{
    store_t *s = open_store("t-rule:");
    char *g1 = mk_group(s, "g1"), *g2 = mk_group(s, "g2");
    const char *both[] = {g1, g2};
    store_rule_spec_t spec = {.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "dev-*",
                              .groups = both, .n_groups = 2};
    store_rule_t *r = NULL, *q = NULL;
    assert_int_equal(store_rule_create(s, &spec, &r), 0);
    assert_int_equal(r->match_by, STORE_MATCH_MQTT_CLIENT_ID);
    assert_string_equal(r->value, "dev-*");
    assert_int_equal(r->n_groups, 2);
    assert_string_equal(r->groups[1], g2);
    assert_int_equal(store_rule_get(s, r->id, &q), 0);
    assert_string_equal(q->groups[0], g1);
    store_rule_free(&q);

    /* a referenced group cannot go; the error names the rule */
    assert_int_equal(store_group_delete(s, g2), ROOST_ECONFLICT);
    const store_error_t *e = store_last_error(s);
    assert_string_equal(e->field, "rules");
    assert_int_equal(e->n_ids, 1);
    assert_string_equal(e->ids[0], r->id);
    store_group_t *g = NULL;
    assert_int_equal(store_group_get(s, g2, &g), 0); /* still there */
    store_group_free(&g);

    /* update: drop g2, then g2 can be deleted */
    const char *only1[] = {g1};
    store_rule_spec_t up = {.set_groups = true, .groups = only1, .n_groups = 1};
    assert_int_equal(store_rule_update(s, r->id, &up, &q), 0);
    assert_int_equal(q->n_groups, 1);
    assert_string_equal(q->value, "dev-*");
    store_rule_free(&q);
    assert_int_equal(store_group_delete(s, g2), 0);

    /* update match_by and value together; a mismatched pair is refused */
    store_rule_spec_t bad = {.set_match_by = true, .match_by = STORE_MATCH_CLIENT};
    assert_int_equal(store_rule_update(s, r->id, &bad, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "value");
    store_rule_spec_t fp = {.set_match_by = true, .match_by = STORE_MATCH_CERT_FINGERPRINT,
                            .value = "SHA256:abcdef"};
    assert_int_equal(store_rule_update(s, r->id, &fp, &q), 0);
    assert_int_equal(q->match_by, STORE_MATCH_CERT_FINGERPRINT);
    store_rule_free(&q);

    /* list, list_all, delete */
    store_rule_list_t *l = NULL;
    assert_int_equal(store_rule_list(s, NULL, 10, &l), 0);
    assert_int_equal(l->n, 1);
    store_rule_list_free(&l);
    assert_int_equal(store_rule_list_all(s, &l), 0);
    assert_int_equal(l->n, 1);
    int64_t v = 0;
    assert_int_equal(store_config_version(s, &v), 0);
    assert_int_equal(l->config_version, v);
    store_rule_list_free(&l);
    assert_int_equal(store_rule_delete(s, r->id), 0);
    assert_int_equal(store_rule_get(s, r->id, &q), ROOST_ENOTFOUND);
    assert_int_equal(store_rule_delete(s, r->id), ROOST_ENOTFOUND);
    assert_int_equal(store_group_delete(s, g1), 0); /* no longer referenced */
    store_rule_free(&r);
    free(g1);
    free(g2);
    store_destroy(&s);
}

static void test_rule_validation(void **state)
{
    store_t *s = open_store("t-rvalid:");
    char *g1 = mk_group(s, "g1");
    const char *one[] = {g1};
    const char *missing[] = {g1, "0123456789abcdef01234567"};
    const char *dup[] = {g1, g1};
    const char *junk[] = {"G1"};
    struct {
        store_rule_spec_t spec;
        const char *field;
    } cases[] = {
        {{.match_by = STORE_MATCH_CLIENT, .value = "dev-1", .groups = one, .n_groups = 1}, "value"},
        {{.match_by = STORE_MATCH_CLIENT, .value = "0123456789ABCDEF01234567", .groups = one,
          .n_groups = 1},
         "value"},
        {{.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "", .groups = one, .n_groups = 1},
         "value"},
        {{.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "a\x01", .groups = one, .n_groups = 1},
         "value"},
        {{.match_by = STORE_MATCH_CERT_FINGERPRINT, .value = "MD5:x", .groups = one,
          .n_groups = 1},
         "value"},
        {{.match_by = STORE_MATCH_CERT_FINGERPRINT, .value = "SHA256:", .groups = one,
          .n_groups = 1},
         "value"},
        {{.match_by = (store_match_by_t)9, .value = "x", .groups = one, .n_groups = 1},
         "match_by"},
        {{.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "x", .groups = NULL, .n_groups = 0},
         "groups"},
        {{.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "x", .groups = dup, .n_groups = 2},
         "groups"},
        {{.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "x", .groups = junk, .n_groups = 1},
         "groups"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(store_rule_create(s, &cases[i].spec, NULL), ROOST_EINVAL);
        assert_string_equal(bad_field(s), cases[i].field);
    }
    store_rule_spec_t m = {.match_by = STORE_MATCH_MQTT_CLIENT_ID, .value = "x",
                           .groups = missing, .n_groups = 2};
    assert_int_equal(store_rule_create(s, &m, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "groups");
    assert_int_equal(store_last_error(s)->n_ids, 1);
    assert_string_equal(store_last_error(s)->ids[0], missing[1]);
    store_rule_list_t *l = NULL;
    assert_int_equal(store_rule_list_all(s, &l), 0);
    assert_int_equal(l->n, 0);
    store_rule_list_free(&l);
    free(g1);
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_crud),
        cmocka_unit_test(test_group_validation),
        cmocka_unit_test(test_rule_crud_and_conflict),
        cmocka_unit_test(test_rule_validation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* Unit tests for lib/store's clients (store_client.c) against a private
 * redis-server (store_test.h): create, read, update, delete; certificate
 * clients; username conflicts; validation; argon2id password hashes;
 * pagination, search, and key prefixes that isolate deployments.
 * Groups and rules: test_store_groups.c; versions, schema, migration,
 * concurrency and availability: test_store_state.c. */
#include "store_test.h"

/* ---- clients ---- */

#define FP1 "SHA256:932e50d1c0170388b2258081699741f8aa3f4d859826a2ffa33feaf930c5c4a2"
#define FP2 "SHA256:0000000000000000000000000000000000000000000000000000000000000001"

/* Certificate clients: no credentials, looked up by fingerprint, which is
 * unique and leaves the index with the client. */
static void test_certificate_clients(void **state)
{
    store_t *s = open_store("t-cert:");
    store_cert_t cert = {FP1, "CN=dev", "CN=CA", "1A2B", 100, 200};
    store_client_spec_t spec = {.name = "Boiler", .cert = &cert};
    store_client_t *c = NULL, *both = NULL;
    assert_int_equal(store_client_create(s, &spec, &c), 0);
    assert_string_equal(c->auth_type, "certificate");
    assert_string_equal(c->username, "");
    assert_false(c->has_password);
    store_cert_t got;
    assert_int_equal(store_client_get_cert(s, c->id, &got), 0);
    assert_string_equal(got.fingerprint, FP1);
    assert_string_equal(got.subject, "CN=dev");
    assert_string_equal(got.serial, "1A2B");
    assert_int_equal(got.not_after, 200);
    store_cert_fini(&got);
    store_auth_t *a = NULL;
    assert_int_equal(store_auth_lookup_cert(s, FP1, &a), 0);
    assert_string_equal(a->client_id, c->id);
    assert_string_equal(a->password_hash, "");
    assert_string_equal(a->cert_fingerprint, FP1);
    store_auth_free(&a);
    assert_int_equal(store_auth_lookup_cert(s, FP2, &a), ROOST_ENOTFOUND);
    /* a second holder of the same certificate is a conflict */
    store_client_spec_t dup = {.name = "Other", .username = "other", .password = "password123", .cert = &cert};
    assert_int_equal(store_client_create(s, &dup, &both), ROOST_ECONFLICT);
    assert_string_equal(bad_field(s), "certificate");
    /* a malformed fingerprint is refused */
    store_cert_t bad = {"SHA256:ABC", "", "", "", 0, 0};
    dup.cert = &bad;
    assert_int_equal(store_client_create(s, &dup, &both), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "certificate");
    /* credentials and a certificate: both */
    store_cert_t cert2 = {FP2, "CN=two", "CN=CA", "2", 1, 2};
    dup.cert = &cert2;
    assert_int_equal(store_client_create(s, &dup, &both), 0);
    assert_string_equal(both->auth_type, "both");
    assert_int_equal(store_auth_lookup(s, "other", &a), 0);
    assert_string_equal(a->cert_fingerprint, FP2);
    store_auth_free(&a);
    /* deleting the client frees its certificate */
    assert_int_equal(store_client_delete(s, c->id), 0);
    assert_int_equal(store_auth_lookup_cert(s, FP1, &a), ROOST_ENOTFOUND);
    assert_int_equal(store_client_create(s, &spec, NULL), 0);
    store_client_free(&c);
    store_client_free(&both);
    store_destroy(&s);
}

static void test_client_crud(void **state)
{
    store_t *s = open_store("t-crud:");
    store_client_t *c = NULL, *g = NULL;
    assert_int_equal(mk_client(s, "Sensor 1", "sensor-1", "password123", &c), 0);
    assert_int_equal(strlen(c->id), STORE_ID_LEN);
    assert_string_equal(c->name, "Sensor 1");
    assert_string_equal(c->username, "sensor-1");
    assert_string_equal(c->auth_type, "username_password");
    assert_true(c->has_password);
    assert_true(c->created_at > 0 && c->created_at == c->updated_at);

    assert_int_equal(store_client_get(s, c->id, &g), 0);
    assert_string_equal(g->username, "sensor-1");
    store_client_free(&g);
    assert_null(g);
    assert_int_equal(store_client_get_by_username(s, "sensor-1", &g), 0);
    assert_string_equal(g->id, c->id);
    store_client_free(&g);

    redis_fixture_sleep_ms(2);
    store_client_spec_t up = {.name = "Sensor One", .username = "sensor-one"};
    assert_int_equal(store_client_update(s, c->id, &up, &g), 0);
    assert_string_equal(g->name, "Sensor One");
    assert_string_equal(g->username, "sensor-one");
    assert_true(g->updated_at > g->created_at);
    store_client_free(&g);
    assert_int_equal(store_client_get_by_username(s, "sensor-1", &g), ROOST_ENOTFOUND);
    assert_int_equal(store_client_get_by_username(s, "sensor-one", &g), 0);
    store_client_free(&g);
    /* the old username is free again */
    store_client_t *c2 = NULL;
    assert_int_equal(mk_client(s, "other", "sensor-1", "password123", &c2), 0);

    assert_int_equal(store_client_delete(s, c->id), 0);
    assert_int_equal(store_client_get(s, c->id, &g), ROOST_ENOTFOUND);
    assert_int_equal(store_client_delete(s, c->id), ROOST_ENOTFOUND);
    assert_int_equal(store_client_get_by_username(s, "sensor-one", &g), ROOST_ENOTFOUND);
    assert_int_equal(store_client_update(s, c->id, &up, NULL), ROOST_ENOTFOUND);
    assert_int_equal(store_client_get(s, "nothex", &g), ROOST_ENOTFOUND);
    assert_int_equal(store_client_get(s, "../../x", &g), ROOST_ENOTFOUND);
    store_client_free(&c);
    store_client_free(&c2);
    store_client_free(&c); /* NULL pointee is a no-op */
    store_destroy(&s);
    assert_null(s);
    store_destroy(&s);
}

static void test_username_conflict(void **state)
{
    store_t *s = open_store("t-conflict:");
    store_client_t *a = NULL, *b = NULL;
    assert_int_equal(mk_client(s, "a", "alice", "password123", &a), 0);
    assert_int_equal(mk_client(s, "b", "alice", "password123", &b), ROOST_ECONFLICT);
    assert_string_equal(bad_field(s), "username");
    assert_null(b);
    assert_int_equal(mk_client(s, "b", "bob", "password123", &b), 0);
    store_client_spec_t up = {.username = "alice"};
    assert_int_equal(store_client_update(s, b->id, &up, NULL), ROOST_ECONFLICT);
    assert_string_equal(bad_field(s), "username");
    /* renaming to itself is not a conflict */
    up.username = "bob";
    assert_int_equal(store_client_update(s, b->id, &up, NULL), 0);
    store_client_free(&a);
    store_client_free(&b);
    store_destroy(&s);
}

static void expect_client_invalid(store_t *s, const char *name, const char *user, const char *pw,
                                  const char *field)
{
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, name, user, pw, &c), ROOST_EINVAL);
    assert_null(c);
    assert_non_null(bad_field(s));
    assert_string_equal(bad_field(s), field);
    assert_non_null(store_last_error(s)->reason);
}

static void test_client_validation(void **state)
{
    store_t *s = open_store("t-valid:");
    char n256[257], u256[257];
    memset(n256, 'n', 256);
    n256[256] = '\0';
    memset(u256, 'u', 256);
    u256[256] = '\0';
    expect_client_invalid(s, "", "u", "password123", "name");
    expect_client_invalid(s, NULL, "u", "password123", "name");
    expect_client_invalid(s, n256, "u", "password123", "name");
    expect_client_invalid(s, "a\x01", "u", "password123", "name");
    expect_client_invalid(s, "a\nb", "u", "password123", "name");
    expect_client_invalid(s, "\xff\xfe", "u", "password123", "name");
    expect_client_invalid(s, "n", "", "password123", "username");
    expect_client_invalid(s, "n", u256, "password123", "username");
    expect_client_invalid(s, "n", "a+b", "password123", "username");
    expect_client_invalid(s, "n", "a#b", "password123", "username");
    expect_client_invalid(s, "n", "a/b", "password123", "username");
    expect_client_invalid(s, "n", "a\tb", "password123", "username");
    expect_client_invalid(s, "n", "a\x7f", "password123", "username");
    expect_client_invalid(s, "n", "\xc0\xaf", "password123", "username"); /* overlong '/' */
    expect_client_invalid(s, "n", "u", "short77", "password");
    expect_client_invalid(s, "n", "u", "", "password");
    expect_client_invalid(s, "n", "u", NULL, "password");
    expect_client_invalid(s, "n", "u", "\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9", "password");
    /* 255 characters of 2 bytes each is a fine name; 255 bytes a fine username */
    char n255[511];
    for (int i = 0; i < 255; i++)
        memcpy(n255 + 2 * i, "\xc3\xa9", 2);
    n255[510] = '\0';
    u256[255] = '\0';
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, n255, u256, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9xxxx", &c), 0);
    store_client_free(&c);
    /* update validates too */
    assert_int_equal(mk_client(s, "ok", "ok", "password123", &c), 0);
    store_client_spec_t up = {.password = "1234567"};
    assert_int_equal(store_client_update(s, c->id, &up, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "password");
    store_client_spec_t up2 = {.username = "x/y"};
    assert_int_equal(store_client_update(s, c->id, &up2, NULL), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "username");
    store_client_free(&c);
    /* nothing invalid was written */
    store_client_page_t *p = NULL;
    assert_int_equal(store_client_list(s, NULL, 100, NULL, &p), 0);
    assert_int_equal(p->total, 2);
    store_client_page_free(&p);
    store_destroy(&s);
}

static void test_password_hashed(void **state)
{
    store_t *s = open_store("t-pw:");
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, "n", "pw-user", "correct horse", &c), 0);
    redisContext *raw = raw_connect();
    assert_non_null(raw);
    redisReply *r = redisCommand(raw, "HGETALL t-pw:{g}:client:%s", c->id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    bool saw_hash = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        assert_null(strstr(r->element[i + 1]->str, "correct horse"));
        if (!strcmp(r->element[i]->str, "password_hash")) {
            assert_memory_equal(r->element[i + 1]->str, "$argon2id$", 10);
            saw_hash = true;
        }
    }
    assert_true(saw_hash);
    freeReplyObject(r);
    redisFree(raw);

    store_auth_t *a = NULL;
    assert_int_equal(store_auth_lookup(s, "pw-user", &a), 0);
    assert_string_equal(a->client_id, c->id);
    assert_string_equal(a->name, "n");
    assert_true(a->config_version >= 1);
    assert_int_equal(crypto_pwhash_str_verify(a->password_hash, "correct horse", 13), 0);
    assert_int_not_equal(crypto_pwhash_str_verify(a->password_hash, "wrong horse", 11), 0);
    store_auth_free(&a);
    assert_null(a);
    /* a new password replaces the hash */
    store_client_spec_t up = {.password = "battery staple"};
    assert_int_equal(store_client_update(s, c->id, &up, NULL), 0);
    assert_int_equal(store_auth_lookup(s, "pw-user", &a), 0);
    assert_int_equal(crypto_pwhash_str_verify(a->password_hash, "battery staple", 14), 0);
    store_auth_free(&a);
    assert_int_equal(store_auth_lookup(s, "nobody", &a), ROOST_ENOTFOUND);
    assert_null(a);
    store_client_free(&c);
    store_destroy(&s);
}

static void test_pagination(void **state)
{
    store_t *s = open_store("t-page:");
    char ids[25][STORE_ID_LEN + 1];
    for (int i = 0; i < 25; i++) {
        char user[32];
        snprintf(user, sizeof(user), "user-%02d", i);
        store_client_t *c = NULL;
        assert_int_equal(mk_client(s, user, user, "password123", &c), 0);
        memcpy(ids[i], c->id, sizeof(ids[i]));
        store_client_free(&c);
    }
    int seen[25] = {0};
    char *cursor = NULL;
    int pages = 0, total = 0;
    do {
        store_client_page_t *p = NULL;
        assert_int_equal(store_client_list(s, cursor, 10, NULL, &p), 0);
        assert_int_equal(p->total, 25);
        assert_true(p->n <= 10);
        for (size_t i = 0; i < p->n; i++)
            for (int k = 0; k < 25; k++)
                if (!strcmp(ids[k], p->items[i].id))
                    seen[k]++;
        total += (int)p->n;
        free(cursor);
        cursor = p->next_cursor ? strdup(p->next_cursor) : NULL;
        pages++;
        store_client_page_free(&p);
    } while (cursor);
    assert_int_equal(total, 25);
    assert_int_equal(pages, 3);
    for (int k = 0; k < 25; k++)
        assert_int_equal(seen[k], 1);
    store_client_page_t *p = NULL;
    assert_int_equal(store_client_list(s, "garbage", 10, NULL, &p), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "cursor");
    assert_int_equal(store_client_list(s, NULL, 0, NULL, &p), ROOST_EINVAL);
    assert_string_equal(bad_field(s), "limit");
    assert_int_equal(store_client_list(s, NULL, 1001, NULL, &p), ROOST_EINVAL);
    store_destroy(&s);
}

static void test_search(void **state)
{
    store_t *s = open_store("t-search:");
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, "Kitchen Thermostat", "dev-001", "password123", &c), 0);
    store_client_free(&c);
    assert_int_equal(mk_client(s, "Garage door", "dev-002", "password123", &c), 0);
    store_client_free(&c);
    assert_int_equal(mk_client(s, "Porch light", "THERMO-3", "password123", &c), 0);
    store_client_free(&c);
    store_client_page_t *p = NULL;
    assert_int_equal(store_client_list(s, NULL, 10, "thermo", &p), 0);
    assert_int_equal(p->n, 2); /* name match and username match, any case */
    assert_null(p->next_cursor);
    assert_int_equal(p->total, 3);
    store_client_page_free(&p);
    assert_int_equal(store_client_list(s, NULL, 10, "DEV-00", &p), 0);
    assert_int_equal(p->n, 2);
    store_client_page_free(&p);
    assert_int_equal(store_client_list(s, NULL, 1, "dev-00", &p), 0);
    assert_int_equal(p->n, 1);
    assert_non_null(p->next_cursor);
    store_client_page_t *p2 = NULL;
    assert_int_equal(store_client_list(s, p->next_cursor, 1, "dev-00", &p2), 0);
    assert_int_equal(p2->n, 1);
    assert_string_not_equal(p2->items[0].id, p->items[0].id);
    store_client_page_free(&p2);
    store_client_page_free(&p);
    assert_int_equal(store_client_list(s, NULL, 10, "zzz", &p), 0);
    assert_int_equal(p->n, 0);
    store_client_page_free(&p);
    store_destroy(&s);
}

static void test_prefix_isolation(void **state)
{
    store_t *a = open_store("tenant-a:");
    store_t *b = open_store("tenant-b:");
    store_client_t *c = NULL;
    assert_int_equal(mk_client(a, "n", "same-user", "password123", &c), 0);
    store_client_t *d = NULL;
    assert_int_equal(store_client_get(b, c->id, &d), ROOST_ENOTFOUND);
    assert_int_equal(store_client_get_by_username(b, "same-user", &d), ROOST_ENOTFOUND);
    assert_int_equal(mk_client(b, "n", "same-user", "password123", &d), 0); /* no conflict */
    store_client_page_t *p = NULL;
    assert_int_equal(store_client_list(b, NULL, 10, NULL, &p), 0);
    assert_int_equal(p->n, 1);
    assert_string_equal(p->items[0].id, d->id);
    store_client_page_free(&p);
    int64_t va = 0, vb = 0;
    assert_int_equal(store_config_version(a, &va), 0);
    assert_int_equal(store_config_version(b, &vb), 0);
    assert_int_equal(va, 1);
    assert_int_equal(vb, 1);
    store_client_free(&c);
    store_client_free(&d);
    store_destroy(&a);
    store_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_crud),
        cmocka_unit_test(test_certificate_clients),
        cmocka_unit_test(test_username_conflict),
        cmocka_unit_test(test_client_validation),
        cmocka_unit_test(test_password_hashed),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_prefix_isolation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

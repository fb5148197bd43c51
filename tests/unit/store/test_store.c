/* Unit tests for lib/store against a private redis-server.
 *
 * The group setup starts `redis-server --port P --save '' --appendonly no`
 * on a free loopback port in a temp dir; teardown stops it by PID. Each test
 * uses its own key prefix so tests never see each other's data.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "redis_fixture.h"
#include "store/store.h"

static redis_fixture_t g_redis;

static redisContext *raw_connect(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g_redis.port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static int group_setup(void **state)
{
    if (redis_fixture_init(&g_redis, "store-test") < 0)
        return -1;
    return redis_fixture_start(&g_redis);
}

static int group_teardown(void **state)
{
    redis_fixture_fini(&g_redis);
    return 0;
}

static store_t *open_store(const char *prefix)
{
    store_cost_t cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    store_t *s = store_new("127.0.0.1", g_redis.port, prefix, &cost);
    assert_non_null(s);
    store_set_timeouts(s, 500, 1000);
    assert_int_equal(store_open(s), 0);
    return s;
}

static int mk_client(store_t *s, const char *name, const char *user, const char *pw,
                     store_client_t **out)
{
    store_client_spec_t spec = {.name = name, .username = user, .password = pw};
    return store_client_create(s, &spec, out);
}

static const char *bad_field(store_t *s) { return store_last_error(s)->field; }

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

static char *mk_group(store_t *s, const char *name)
{
    store_group_spec_t spec = {.name = name};
    store_group_t *g = NULL;
    assert_int_equal(store_group_create(s, &spec, &g), 0);
    char *id = strdup(g->id);
    store_group_free(&g);
    return id;
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

/* ---- atomicity, versions, schema, availability ---- */

struct racer {
    store_t *s;
    const char *username;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    store_client_spec_t spec = {.name = "racer", .username = r->username, .password = "password123"};
    r->rc = store_client_create(r->s, &spec, NULL);
    return NULL;
}

static void test_concurrent_create(void **state)
{
    store_t *a = open_store("t-race:"), *b = open_store("t-race:");
    for (int round = 0; round < 10; round++) {
        char user[32];
        snprintf(user, sizeof(user), "race-%d", round);
        struct racer ra = {a, user, 1}, rb = {b, user, 1};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race, &ra), 0);
        assert_int_equal(pthread_create(&tb, NULL, race, &rb), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_true((ra.rc == 0 && rb.rc == ROOST_ECONFLICT) ||
                    (rb.rc == 0 && ra.rc == ROOST_ECONFLICT));
    }
    store_client_page_t *p = NULL;
    assert_int_equal(store_client_list(a, NULL, 100, NULL, &p), 0);
    assert_int_equal(p->total, 10);
    store_client_page_free(&p);
    store_destroy(&a);
    store_destroy(&b);
}

static void expect_version(store_t *s, int64_t want)
{
    int64_t v = -1;
    assert_int_equal(store_config_version(s, &v), 0);
    assert_int_equal(v, want);
}

static void test_version_bump(void **state)
{
    store_t *s = open_store("t-version:");
    expect_version(s, 0);
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, "n", "v-user", "password123", &c), 0);
    expect_version(s, 1);
    store_client_spec_t up = {.name = "m"};
    assert_int_equal(store_client_update(s, c->id, &up, NULL), 0);
    expect_version(s, 2);
    assert_int_equal(mk_client(s, "n", "v-user", "password123", NULL), ROOST_ECONFLICT);
    expect_version(s, 2); /* failed writes do not bump */
    char *g = mk_group(s, "vg");
    expect_version(s, 3);
    store_group_spec_t gu = {.description = "d"};
    assert_int_equal(store_group_update(s, g, &gu, NULL), 0);
    expect_version(s, 4);
    const char *gs[] = {g};
    store_rule_spec_t rs = {.match_by = STORE_MATCH_CLIENT, .value = c->id, .groups = gs,
                            .n_groups = 1};
    store_rule_t *r = NULL;
    assert_int_equal(store_rule_create(s, &rs, &r), 0);
    expect_version(s, 5);
    store_rule_spec_t ru = {.value = c->id};
    assert_int_equal(store_rule_update(s, r->id, &ru, NULL), 0);
    expect_version(s, 6);
    assert_int_equal(store_rule_delete(s, r->id), 0);
    expect_version(s, 7);
    assert_int_equal(store_group_delete(s, g), 0);
    expect_version(s, 8);
    assert_int_equal(store_client_delete(s, c->id), 0);
    expect_version(s, 9);
    store_auth_t *a = NULL;
    assert_int_equal(store_auth_lookup(s, "v-user", &a), ROOST_ENOTFOUND);
    store_rule_free(&r);
    store_client_free(&c);
    free(g);
    store_destroy(&s);
}

static void test_schema(void **state)
{
    redisContext *raw = raw_connect();
    assert_non_null(raw);
    store_t *s = open_store("t-schema:");
    redisReply *r = redisCommand(raw, "GET t-schema:{g}:schema");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    store_destroy(&s);

    freeReplyObject(redisCommand(raw, "SET t-schema-new:{g}:schema 3"));
    store_cost_t cost = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    s = store_new("127.0.0.1", g_redis.port, "t-schema-new:", &cost);
    assert_int_equal(store_open(s), ROOST_ESCHEMA);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), ROOST_ESCHEMA); /* every call refuses */
    store_destroy(&s);

    freeReplyObject(redisCommand(raw, "SET t-schema-bad:{g}:schema banana"));
    s = store_new("127.0.0.1", g_redis.port, "t-schema-bad:", &cost);
    assert_int_equal(store_open(s), ROOST_ESTORE);
    store_destroy(&s);
    redisFree(raw);
}

/* A schema-1 store (keys without hash tags) is renamed in place to the
 * layout of store/keys.h at the first connect: session keys to the client
 * tag, everything else to {g}, TTLs kept, data readable through the API. */
static void test_migrate_v1(void **state)
{
    (void)state;
    redisContext *raw = raw_connect();
    assert_non_null(raw);
    const char *cmds[] = {"SET t-mig:schema 1", "SET t-mig:version 7",
                          "HSET t-mig:client:aaaaaaaaaaaaaaaaaaaaaaaa id aaaaaaaaaaaaaaaaaaaaaaaa",
                          "HSET t-mig:idx:client:username u1 aaaaaaaaaaaaaaaaaaaaaaaa",
                          "RPUSH t-mig:q:dev}1 e1", "HSET t-mig:qm:dev}1 e1 blob",
                          "HSET t-mig:sess:dev}1 owner b1", "SET t-mig:lease:dev}1 b1 PX 600000",
                          "HSET t-mig:psubs x 1", "HSET t-mig:retained a/b blob",
                          "SET t-mig:done:{c:x} 1" /* schema 2 already: left alone */};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        freeReplyObject(redisCommand(raw, cmds[i]));
    store_t *s = open_store("t-mig:");
    int64_t v = 0;
    assert_int_equal(store_config_version(s, &v), 0);
    assert_int_equal(v, 7);
    const char *moved[] = {"t-mig:{g}:schema", "t-mig:{g}:version",
                           "t-mig:{g}:client:aaaaaaaaaaaaaaaaaaaaaaaa",
                           "t-mig:{g}:idx:client:username", "t-mig:q:{c:dev}1}",
                           "t-mig:qm:{c:dev}1}", "t-mig:sess:{c:dev}1}", "t-mig:lease:{c:dev}1}",
                           "t-mig:{g}:psubs", "t-mig:{g}:retained", "t-mig:done:{c:x}"};
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
        redisReply *r = redisCommand(raw, "EXISTS %s", moved[i]);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(raw, "KEYS t-mig:*");
    assert_int_equal(r->elements, sizeof(moved) / sizeof(moved[0])); /* nothing left behind */
    freeReplyObject(r);
    r = redisCommand(raw, "PTTL t-mig:lease:{c:dev}1}");
    assert_true(r->integer > 0);
    freeReplyObject(r);
    r = redisCommand(raw, "GET t-mig:{g}:schema");
    assert_string_equal(r->str, "2");
    freeReplyObject(r);
    store_destroy(&s);
    /* a prefix that would capture the tag is refused */
    s = store_new("127.0.0.1", g_redis.port, "t-{x}:", NULL);
    assert_int_equal(store_open(s), ROOST_EINVAL);
    assert_string_equal(store_last_error(s)->field, "prefix");
    store_destroy(&s);
    redisFree(raw);
}

static void test_unavailable_and_recovery(void **state)
{
    store_t *s = open_store("t-down:");
    store_client_t *c = NULL;
    assert_int_equal(mk_client(s, "n", "down-user", "password123", &c), 0);
    redis_fixture_stop(&g_redis);
    store_auth_t *a = NULL;
    assert_int_equal(store_auth_lookup(s, "down-user", &a), ROOST_EUNAVAILABLE);
    assert_null(a);
    assert_non_null(store_last_error(s)->reason);
    assert_int_equal(store_auth_lookup(s, "down-user", &a), ROOST_EUNAVAILABLE);
    store_client_t *g = NULL;
    assert_int_equal(store_client_get(s, c->id, &g), ROOST_EUNAVAILABLE);
    assert_int_equal(mk_client(s, "n", "x-user", "password123", NULL), ROOST_EUNAVAILABLE);
    int64_t v;
    assert_int_equal(store_config_version(s, &v), ROOST_EUNAVAILABLE);
    store_t *fresh = store_new("127.0.0.1", g_redis.port, "t-down:", NULL);
    assert_int_equal(store_open(fresh), ROOST_EUNAVAILABLE);

    assert_int_equal(redis_fixture_start(&g_redis), 0); /* same port; data gone (no persistence) */
    assert_int_equal(store_auth_lookup(s, "down-user", &a), ROOST_ENOTFOUND);
    assert_int_equal(mk_client(s, "n", "down-user", "password123", NULL), 0);
    assert_int_equal(store_auth_lookup(s, "down-user", &a), 0);
    store_auth_free(&a);
    assert_int_equal(store_open(fresh), 0);
    assert_int_equal(store_config_version(fresh, &v), 0);
    assert_int_equal(v, 1);
    store_destroy(&fresh);
    store_client_free(&c);
    store_destroy(&s);
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
        cmocka_unit_test(test_group_crud),
        cmocka_unit_test(test_group_validation),
        cmocka_unit_test(test_rule_crud_and_conflict),
        cmocka_unit_test(test_rule_validation),
        cmocka_unit_test(test_concurrent_create),
        cmocka_unit_test(test_version_bump),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_migrate_v1),
        cmocka_unit_test(test_unavailable_and_recovery),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

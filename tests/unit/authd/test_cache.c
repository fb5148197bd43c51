/* Unit tests for services/authd/cache.c: the verified-credential cache key
 * (every input changes it, length-prefixed inputs cannot collide by
 * shifting bytes, the per-process key makes keys differ between caches) and
 * the cache's TTL, LRU eviction, per-user drops and the disabled mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cache.h"

typedef struct {
    const char *name;
    const char *user;
    const char *pass;
    const char *hash;
} key_case_t;

static void key(cache_t *c, const key_case_t *k, uint8_t out[CACHE_KEY_LEN])
{
    cache_key(c, k->user, (const uint8_t *)k->pass, strlen(k->pass), k->hash, out);
}

/* Every case must give a key different from every other one. */
static void keys_differ_for_any_input_change(void **state)
{
    static const key_case_t cases[] = {
        {"base", "alice", "password-1", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
        {"other user", "alicf", "password-1", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
        {"other password", "alice", "password-2", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
        {"edited password (new stored hash)", "alice", "password-1", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBC"},
        {"bytes moved from user to password", "alic", "epassword-1", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
        {"bytes moved from password to hash", "alice", "password-", "1$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
        {"empty password", "alice", "", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    cache_t *c = cache_new(16, 60000);
    assert_non_null(c);
    uint8_t k[8][CACHE_KEY_LEN];
    for (size_t i = 0; i < n; i++)
        key(c, &cases[i], k[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (memcmp(k[i], k[j], CACHE_KEY_LEN) == 0)
                fail_msg("'%s' and '%s' share a key", cases[i].name, cases[j].name);
    /* the same inputs give the same key */
    uint8_t again[CACHE_KEY_LEN];
    key(c, &cases[0], again);
    assert_memory_equal(again, k[0], CACHE_KEY_LEN);
    cache_destroy(&c);
    assert_null(c);
}

static void keys_are_per_process(void **state)
{
    const key_case_t k = {"base", "alice", "password-1", "$argon2id$x"};
    cache_t *a = cache_new(4, 1000), *b = cache_new(4, 1000);
    uint8_t ka[CACHE_KEY_LEN], kb[CACHE_KEY_LEN];
    key(a, &k, ka);
    key(b, &k, kb);
    assert_memory_not_equal(ka, kb, CACHE_KEY_LEN); /* each cache has its own random key */
    cache_destroy(&a);
    cache_destroy(&b);
}

static void ttl_lru_drop_clear(void **state)
{
    cache_t *c = cache_new(2, 1000);
    const key_case_t u1 = {"", "u1", "p", "h"}, u2 = {"", "u2", "p", "h"}, u3 = {"", "u3", "p", "h"};
    uint8_t k1[CACHE_KEY_LEN], k2[CACHE_KEY_LEN], k3[CACHE_KEY_LEN];
    key(c, &u1, k1);
    key(c, &u2, k2);
    key(c, &u3, k3);
    assert_false(cache_lookup(c, k1, 0));
    assert_int_equal(cache_insert(c, k1, "u1", 0), 0);
    assert_true(cache_lookup(c, k1, 999));
    assert_false(cache_lookup(c, k1, 1001)); /* expired */
    assert_int_equal(cache_insert(c, k1, "u1", 2000), 0);
    assert_int_equal(cache_insert(c, k2, "u2", 2001), 0);
    assert_true(cache_lookup(c, k1, 2002)); /* k1 most recently used now */
    assert_int_equal(cache_insert(c, k3, "u3", 2003), 0); /* evicts k2 */
    assert_int_equal(cache_count(c), 2);
    assert_false(cache_lookup(c, k2, 2004));
    assert_true(cache_lookup(c, k1, 2004));
    assert_true(cache_lookup(c, k3, 2004));
    assert_int_equal(cache_drop_user(c, "u3"), 1);
    assert_false(cache_lookup(c, k3, 2005));
    assert_int_equal(cache_clear(c), 1);
    assert_int_equal(cache_count(c), 0);
    cache_destroy(&c);
}

static void disabled_cache_never_hits(void **state)
{
    cache_t *c = cache_new(0, 1000);
    const key_case_t u = {"", "u", "p", "h"};
    uint8_t k[CACHE_KEY_LEN];
    key(c, &u, k);
    cache_insert(c, k, "u", 0);
    assert_false(cache_lookup(c, k, 1));
    assert_int_equal(cache_count(c), 0);
    cache_destroy(&c);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_differ_for_any_input_change),
        cmocka_unit_test(keys_are_per_process),
        cmocka_unit_test(ttl_lru_drop_clear),
        cmocka_unit_test(disabled_cache_never_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

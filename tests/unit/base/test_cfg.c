/* Unit tests for lib/base/cfg.c: flag > environment > default, value checks
 * with clear errors, --flag=value and --bool forms, --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "base/err.h"

typedef struct {
    const char *name;
    int64_t port;
    bool verbose;
} conf_t;

static int parse(conf_t *c, int argc, char **argv, char *err, size_t errcap, char *out, size_t outcap)
{
    *c = (conf_t){.name = "roost", .port = 1883, .verbose = false};
    const cfg_opt_t opts[] = {
        {"name", "TEST_CFG_NAME", CFG_STR, &c->name, 0, 0, "A name."},
        {"port", "TEST_CFG_PORT", CFG_INT, &c->port, 1, 65535, "A port."},
        {"verbose", "TEST_CFG_VERBOSE", CFG_BOOL, &c->verbose, 0, 0, "Chatty."},
    };
    FILE *e = fmemopen(err, errcap, "w"), *o = fmemopen(out, outcap, "w");
    int rc = cfg_parse(opts, 3, argc, argv, "test: summary", o, e);
    fclose(e);
    fclose(o);
    return rc;
}

static void defaults_env_flags(void **state)
{
    conf_t c;
    char err[256] = "", out[2048] = "";
    char *a0[] = {"t", NULL};
    unsetenv("TEST_CFG_PORT");
    assert_int_equal(parse(&c, 1, a0, err, sizeof(err), out, sizeof(out)), CFG_RUN);
    assert_int_equal(c.port, 1883);
    setenv("TEST_CFG_PORT", "2000", 1);
    setenv("TEST_CFG_VERBOSE", "yes", 1);
    assert_int_equal(parse(&c, 1, a0, err, sizeof(err), out, sizeof(out)), CFG_RUN);
    assert_int_equal(c.port, 2000);
    assert_true(c.verbose);
    char *a1[] = {"t", "--port", "3000", "--name=edge", "--verbose=false", NULL};
    assert_int_equal(parse(&c, 5, a1, err, sizeof(err), out, sizeof(out)), CFG_RUN);
    assert_int_equal(c.port, 3000); /* flag beats environment */
    assert_string_equal(c.name, "edge");
    assert_false(c.verbose);
    char *a2[] = {"t", "--verbose", NULL}; /* a bare boolean flag means true */
    setenv("TEST_CFG_VERBOSE", "0", 1);
    assert_int_equal(parse(&c, 2, a2, err, sizeof(err), out, sizeof(out)), CFG_RUN);
    assert_true(c.verbose);
    unsetenv("TEST_CFG_PORT");
    unsetenv("TEST_CFG_VERBOSE");
}

static void bad_values_are_named(void **state)
{
    static const struct {
        const char *arg, *val, *expect;
    } cases[] = {
        {"--port", "70000", "--port: 70000 is out of range [1, 65535]"},
        {"--port", "12ab", "--port: expected an integer, got '12ab'"},
        {"--verbose=maybe", NULL, "--verbose: expected true/false, got 'maybe'"},
        {"--nope", NULL, "unknown option '--nope'"},
        {"stray", NULL, "unexpected argument 'stray'"},
        {"--port", NULL, "option '--port' needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conf_t c;
        char err[256] = "", out[64] = "";
        char *argv[] = {"t", (char *)cases[i].arg, (char *)cases[i].val, NULL};
        int argc = cases[i].val ? 3 : 2;
        assert_int_equal(parse(&c, argc, argv, err, sizeof(err), out, sizeof(out)), ROOST_ECONFIG);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: error '%s' does not say '%s'", i, err, cases[i].expect);
    }
    setenv("TEST_CFG_PORT", "0", 1); /* a bad environment value names the variable */
    conf_t c;
    char err[256] = "", out[64] = "";
    char *a0[] = {"t", NULL};
    assert_int_equal(parse(&c, 1, a0, err, sizeof(err), out, sizeof(out)), ROOST_ECONFIG);
    assert_non_null(strstr(err, "TEST_CFG_PORT: 0 is out of range"));
    unsetenv("TEST_CFG_PORT");
}

static void help_lists_every_option(void **state)
{
    conf_t c;
    char err[64] = "", out[2048] = "";
    char *argv[] = {"t", "--help", NULL};
    assert_int_equal(parse(&c, 2, argv, err, sizeof(err), out, sizeof(out)), CFG_EXIT_HELP);
    assert_non_null(strstr(out, "test: summary"));
    assert_non_null(strstr(out, "--name VALUE"));
    assert_non_null(strstr(out, "[env TEST_CFG_PORT] (default: 1883)"));
    assert_non_null(strstr(out, "--verbose"));
}

/* A credential taken from the environment is never echoed by --help. */
static void help_hides_secret_values(void **state)
{
    const char *name = "", *password = "", *key = "";
    const cfg_opt_t opts[] = {
        {"name", "TEST_CFG_NAME2", CFG_STR, &name, 0, 0, "A name."},
        {"redis-password", "TEST_CFG_PASSWORD", CFG_STR, &password, 0, 0, "A password."},
        {"client-key", "TEST_CFG_KEY", CFG_STR, &key, 0, 0, "A key."},
    };
    setenv("TEST_CFG_NAME2", "visible-name", 1);
    setenv("TEST_CFG_PASSWORD", "hunter2-secret", 1);
    setenv("TEST_CFG_KEY", "Z85-secret-key", 1);
    char out[2048] = "", err[64] = "";
    char *argv[] = {"t", "--help", NULL};
    FILE *o = fmemopen(out, sizeof(out), "w"), *e = fmemopen(err, sizeof(err), "w");
    assert_int_equal(cfg_parse(opts, 3, 2, argv, "s", o, e), CFG_EXIT_HELP);
    fclose(o);
    fclose(e);
    unsetenv("TEST_CFG_NAME2");
    unsetenv("TEST_CFG_PASSWORD");
    unsetenv("TEST_CFG_KEY");
    assert_non_null(strstr(out, "(default: visible-name)"));
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "Z85-secret"));
    assert_non_null(strstr(out, "[env TEST_CFG_PASSWORD] (default: set, not shown)"));
    assert_string_equal(password, "hunter2-secret"); /* still parsed */
}

/* Two tables parse as one: flags of either, help lists both in order, an
 * option in neither is unknown. */
static void tables_parse_as_one(void **state)
{
    const char *name = "a", *host = "h";
    int64_t n = 1;
    const cfg_opt_t one[] = {{"name", NULL, CFG_STR, &name, 0, 0, "A name."}};
    const cfg_opt_t two[] = {{"host", NULL, CFG_STR, &host, 0, 0, "A host."},
                             {"n", NULL, CFG_INT, &n, 0, 9, "A count."}};
    const cfg_table_t t[] = {{one, 1}, {two, 2}};
    char out[1024] = "", err[256] = "";
    char *a1[] = {"t", "--host=x", "--name", "y", "--n", "7", NULL};
    FILE *o = fmemopen(out, sizeof(out), "w"), *e = fmemopen(err, sizeof(err), "w");
    assert_int_equal(cfg_parse_tables(t, 2, 6, a1, "s", o, e), CFG_RUN);
    assert_string_equal(host, "x");
    assert_string_equal(name, "y");
    assert_int_equal(n, 7);
    char *a2[] = {"t", "--n", "10", NULL};
    assert_int_equal(cfg_parse_tables(t, 2, 3, a2, "s", o, e), ROOST_ECONFIG);
    char *a3[] = {"t", "--other", NULL};
    assert_int_equal(cfg_parse_tables(t, 2, 2, a3, "s", o, e), ROOST_ECONFIG);
    char *a4[] = {"t", "--help", NULL};
    assert_int_equal(cfg_parse_tables(t, 2, 2, a4, "s", o, e), CFG_EXIT_HELP);
    fclose(o);
    fclose(e);
    assert_non_null(strstr(err, "--n: 10 is out of range"));
    assert_non_null(strstr(err, "unknown option '--other'"));
    char *pn = strstr(out, "--name"), *ph = strstr(out, "--host");
    assert_true(pn && ph && pn < ph);
}

/* cfg_take: one of the table's flags or not, for a tool's own loop. */
static void take_one_flag(void **state)
{
    const char *host = "h";
    bool on = false;
    const cfg_opt_t opts[] = {{"host", "TEST_CFG_HOST", CFG_STR, &host, 0, 0, "A host."},
                              {"on", NULL, CFG_BOOL, &on, 0, 0, "A switch."}};
    char err[256] = "";
    FILE *e = fmemopen(err, sizeof(err), "w");
    char *argv[] = {"t", "--host", "x", "--on", "--json", "noun", "--host", NULL};
    int i = 1;
    assert_int_equal(cfg_take(opts, 2, 7, argv, &i, e), 1);
    assert_int_equal(i, 2); /* past the value */
    assert_string_equal(host, "x");
    i = 3;
    assert_int_equal(cfg_take(opts, 2, 7, argv, &i, e), 1);
    assert_true(on);
    i = 4;
    assert_int_equal(cfg_take(opts, 2, 7, argv, &i, e), 0); /* not ours */
    i = 5;
    assert_int_equal(cfg_take(opts, 2, 7, argv, &i, e), 0); /* not a flag */
    i = 6;
    assert_int_equal(cfg_take(opts, 2, 7, argv, &i, e), ROOST_ECONFIG); /* no value */
    setenv("TEST_CFG_HOST", "from-env", 1);
    assert_int_equal(cfg_env(opts, 2, e), 0);
    unsetenv("TEST_CFG_HOST");
    fclose(e);
    assert_string_equal(host, "from-env");
    assert_non_null(strstr(err, "option '--host' needs a value"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_env_flags),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(help_lists_every_option),
        cmocka_unit_test(help_hides_secret_values),
        cmocka_unit_test(tables_parse_as_one),
        cmocka_unit_test(take_one_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

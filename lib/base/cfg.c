#include "base/cfg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "base/err.h"

static int set_value(const cfg_opt_t *o, const char *val, const char *source, FILE *err)
{
    switch (o->type) {
    case CFG_STR:
        *(const char **)o->target = val;
        return 0;
    case CFG_BOOL:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on")) {
            *(bool *)o->target = true;
            return 0;
        }
        if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "off") ||
            !strcmp(val, "")) {
            *(bool *)o->target = false;
            return 0;
        }
        fprintf(err, "error: %s: expected true/false, got '%s'\n", source, val);
        return ROOST_ECONFIG;
    case CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            fprintf(err, "error: %s: expected an integer, got '%s'\n", source, val);
            return ROOST_ECONFIG;
        }
        if (v < o->min || v > o->max) {
            fprintf(err, "error: %s: %lld is out of range [%" PRId64 ", %" PRId64 "]\n", source, v,
                    o->min, o->max);
            return ROOST_ECONFIG;
        }
        *(int64_t *)o->target = v;
        return 0;
    }
    }
    return ROOST_ECONFIG;
}

/* Options whose values are credentials: --help says whether they are set,
 * never what they hold (it shows values taken from the environment). */
static bool is_secret(const char *flag)
{
    size_t n = strlen(flag);
    return strstr(flag, "password") || strstr(flag, "secret") ||
           (n >= 4 && !strcmp(flag + n - 4, "-key"));
}

void cfg_print_options(const cfg_opt_t *opts, int n, FILE *out)
{
    for (int i = 0; i < n; i++) {
        const cfg_opt_t *o = &opts[i];
        char def[64] = "";
        const char *arg = "";
        switch (o->type) {
        case CFG_STR:
            arg = " VALUE";
            snprintf(def, sizeof(def), "%s", *(const char **)o->target ? *(const char **)o->target : "");
            if (def[0] && is_secret(o->flag))
                snprintf(def, sizeof(def), "set, not shown");
            break;
        case CFG_INT:
            arg = " N";
            snprintf(def, sizeof(def), "%" PRId64, *(int64_t *)o->target);
            break;
        case CFG_BOOL:
            snprintf(def, sizeof(def), "%s", *(bool *)o->target ? "on" : "off");
            break;
        }
        fprintf(out, "  --%s%s\n      %s", o->flag, arg, o->help);
        if (o->env)
            fprintf(out, "  [env %s]", o->env);
        if (def[0])
            fprintf(out, " (default: %s)", def);
        fputc('\n', out);
    }
}

int cfg_env(const cfg_opt_t *opts, int n, FILE *err)
{
    for (int i = 0; i < n; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && set_value(&opts[i], v, opts[i].env, err))
            return ROOST_ECONFIG;
    }
    return 0;
}

static const cfg_opt_t *find(const cfg_opt_t *opts, int n, const char *name, size_t nlen)
{
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].flag) == nlen && !strncmp(opts[i].flag, name, nlen))
            return &opts[i];
    return NULL;
}

int cfg_take(const cfg_opt_t *opts, int n, int argc, char **argv, int *a, FILE *err)
{
    const char *arg = argv[*a];
    if (strncmp(arg, "--", 2) != 0)
        return 0;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    const cfg_opt_t *o = find(opts, n, name, eq ? (size_t)(eq - name) : strlen(name));
    if (!o)
        return 0;
    const char *val;
    if (eq) {
        val = eq + 1;
    } else if (o->type == CFG_BOOL) {
        val = "true";
    } else if (*a + 1 < argc) {
        val = argv[++*a];
    } else {
        fprintf(err, "error: option '--%s' needs a value\n", o->flag);
        return ROOST_ECONFIG;
    }
    char source[80];
    snprintf(source, sizeof(source), "--%s", o->flag);
    return set_value(o, val, source, err) ? ROOST_ECONFIG : 1;
}

int cfg_parse_tables(const cfg_table_t *t, int nt, int argc, char **argv, const char *summary,
                     FILE *out, FILE *err)
{
    for (int k = 0; k < nt; k++)
        if (cfg_env(t[k].opts, t[k].n, err))
            return ROOST_ECONFIG;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fprintf(out, "%s\n\nOptions (flag, environment variable, default):\n", summary);
            for (int k = 0; k < nt; k++)
                cfg_print_options(t[k].opts, t[k].n, out);
            fprintf(out, "  --help\n      Print this help and exit.\n");
            return CFG_EXIT_HELP;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "error: unexpected argument '%s' (see --help)\n", arg);
            return ROOST_ECONFIG;
        }
        int rc = 0;
        for (int k = 0; k < nt && rc == 0; k++)
            rc = cfg_take(t[k].opts, t[k].n, argc, argv, &a, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            fprintf(err, "error: unknown option '%s' (see --help)\n", arg);
            return ROOST_ECONFIG;
        }
    }
    return CFG_RUN;
}

int cfg_parse(const cfg_opt_t *opts, int n, int argc, char **argv, const char *summary,
              FILE *out, FILE *err)
{
    const cfg_table_t t = {opts, n};
    return cfg_parse_tables(&t, 1, argc, argv, summary, out, err);
}

int cfg_host_port(const char *flag, const char *s, char *host, size_t host_cap, int *port, FILE *err)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == s || (size_t)(colon - s) >= host_cap || !end || *end || p < 1 || p > 65535) {
        fprintf(err, "error: --%s: expected HOST:PORT, got '%s'\n", flag, s);
        return ROOST_ECONFIG;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (int)p;
    return 0;
}

/* cfg: command-line flags and ROOST_* environment variables from one table.
 *
 * Each option has a long flag (--max-inflight), an environment variable
 * (ROOST_MAX_INFLIGHT), a type, a default (already in the target variable),
 * and a help line. Precedence: flag > environment > default. --help prints
 * every option with its variable and default. Values are validated (numbers
 * in range); a bad value is a clear error naming the flag or variable.
 */
#ifndef ROOST_BASE_CFG_H
#define ROOST_BASE_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CFG_STR, CFG_INT, CFG_BOOL } cfg_type_t;

typedef struct cfg_opt {
    const char *flag;   /* "max-inflight" (no dashes) */
    const char *env;    /* "ROOST_MAX_INFLIGHT", or NULL */
    cfg_type_t type;
    void *target;       /* const char ** (CFG_STR), int64_t * (CFG_INT), bool * (CFG_BOOL) */
    int64_t min, max;   /* CFG_INT range */
    const char *help;
} cfg_opt_t;

/* Outcomes of cfg_parse besides errors. */
enum { CFG_RUN = 0, CFG_EXIT_HELP = 1 };

/* Parses environment then argv over the table (n options). Strings point
 * into argv/environ (borrowed for the life of the process). On --help prints
 * usage (`summary` first) to `out` and returns CFG_EXIT_HELP. On a bad flag
 * or value prints one line to `err` and returns ROOST_ECONFIG. */
int cfg_parse(const cfg_opt_t *opts, int n, int argc, char **argv, const char *summary,
              FILE *out, FILE *err);

/* Several tables parsed as one (a service's own options and rows shared by
 * several services, e.g. store/redis_conf.h): environment first, then argv;
 * --help lists the tables in order. Same outcomes as cfg_parse. */
typedef struct cfg_table {
    const cfg_opt_t *opts;
    int n;
} cfg_table_t;
int cfg_parse_tables(const cfg_table_t *t, int nt, int argc, char **argv, const char *summary,
                     FILE *out, FILE *err);

/* For tools with their own argument loop (roostctl): cfg_env applies the
 * table's environment variables (0 or ROOST_ECONFIG after a line to err);
 * cfg_take parses argv[*a] when it is one of the table's flags ("--f V",
 * "--f=V", a bare boolean), advancing *a past a separate value: 1 taken,
 * 0 not one of them, ROOST_ECONFIG (bad or missing value, a line to err);
 * cfg_print_options prints the rows as --help does. */
int cfg_env(const cfg_opt_t *opts, int n, FILE *err);
int cfg_take(const cfg_opt_t *opts, int n, int argc, char **argv, int *a, FILE *err);
void cfg_print_options(const cfg_opt_t *opts, int n, FILE *out);

/* Splits "HOST:PORT" (the last ':'; HOST non-empty and under host_cap bytes,
 * PORT 1..65535) into host and *port. 0, or ROOST_ECONFIG after printing
 * "error: --<flag>: expected HOST:PORT, got '<s>'" to err. */
int cfg_host_port(const char *flag, const char *s, char *host, size_t host_cap, int *port, FILE *err);

#endif

/* ctl: what roostctl's command files share (internal to tools/roostctl).
 *
 * Each noun (clients, groups, rules) is one file with one entry point that
 * takes the arguments after the noun and returns a process exit code.
 */
#ifndef ROOSTCTL_CTL_H
#define ROOSTCTL_CTL_H

#include <jansson.h>
#include <stdbool.h>

#include "store/store.h"

/* Exit codes (also in --help). */
enum {
    CTL_OK = 0,
    CTL_USAGE = 1,
    CTL_NOTFOUND = 2,
    CTL_CONFLICT = 3,
    CTL_INVALID = 4,
    CTL_UNAVAILABLE = 5 /* also any other store failure */
};

typedef struct ctl {
    store_t *s;
    bool json;
} ctl_t;

int ctl_clients(ctl_t *c, int argc, char **argv);
int ctl_groups(ctl_t *c, int argc, char **argv);
int ctl_rules(ctl_t *c, int argc, char **argv);

/* Prints a usage error (and the hint) to stderr; returns CTL_USAGE. */
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a store failure (rc < 0) with the field, reason and ids from
 * store_last_error, on stderr, and as {"error":...} on stdout with --json.
 * Returns the exit code for rc. */
int ctl_fail(ctl_t *c, int rc, const char *what);
/* True if argv[*i] is --name (value in argv[*i+1]) or --name=value; sets
 * *val and advances *i past what it consumed. A missing value sets *val
 * to NULL. */
bool ctl_opt(int argc, char **argv, int *i, const char *name, const char **val);
bool ctl_is_help(const char *arg);

/* JSON views (new references) and printing (steals the reference). */
json_t *ctl_client_json(const store_client_t *cl);
json_t *ctl_group_json(const store_group_t *g);
json_t *ctl_rule_json(const store_rule_t *r);
json_t *ctl_page_json(json_t *items, const char *next_cursor, unsigned long long total);
void ctl_print_json(json_t *j);

#endif

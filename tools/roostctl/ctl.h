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
    CTL_UNAVAILABLE = 5, /* also any other store failure */
    CTL_UNAUTHORIZED = 6 /* RPC mode: missing, wrong or revoked token */
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
/* A noun with no verb, or with --help as verb or after it: prints usage
 * (to stderr when the verb is missing) and sets *code (1 missing, 0 help).
 * False when there is a verb to run. */
bool ctl_noun_help(int argc, char **argv, const char *usage, int *code);
/* Checks a `NOUN get|delete ID` line (argv[0] is the verb). 0, or
 * CTL_USAGE after printing why. */
int ctl_id_verb(const char *noun, int argc, char **argv);

/* `NOUN list` options. */
typedef struct ctl_list_opts {
    const char *cursor; /* NULL: the first page */
    const char *search; /* NULL: no filter; only when the noun allows it */
    size_t limit;       /* default 100 */
} ctl_list_opts_t;
/* Parses --cursor, --limit and (with_search) --search after argv[0].
 * 0, or CTL_USAGE after printing "<noun> list: bad argument". */
int ctl_list_opts(const char *noun, int argc, char **argv, bool with_search, ctl_list_opts_t *o);
/* Ends a `NOUN delete ID`: rc < 0 goes to ctl_fail(what); otherwise with
 * --json prints {"id":..., "deleted":true}. Returns the exit code. */
int ctl_deleted(ctl_t *c, int rc, const char *what, const char *id);
/* Prints "next cursor: C" when there is a next page (table output). */
void ctl_print_next(const char *next_cursor);

/* JSON views (new references) and printing (steals the reference). */
json_t *ctl_client_json(const store_client_t *cl);
json_t *ctl_group_json(const store_group_t *g);
json_t *ctl_rule_json(const store_rule_t *r);
json_t *ctl_page_json(json_t *items, const char *next_cursor, unsigned long long total);
void ctl_print_json(json_t *j);

/* ---- RPC mode (rpc_client.c, rpc_mode.c, rpc_out.c) ----------------------
 * The default: every command goes to roost-admin over its ZeroMQ RPC
 * (lib/rpc/admin.h), so writes are validated, audited and announced. Chosen
 * unless --redis is on the command line (the direct-to-store mode above). */

#include "rpc/admin.h"

typedef struct ctl_rpc {
    const char *endpoint; /* --admin / ROOST_ADMIN_ENDPOINT */
    const char *token;    /* --token / ROOST_ADMIN_TOKEN / --token-file */
    const char *admin_key; /* --admin-key / ROOST_ADMIN_CURVE_PUBLIC: CurveZMQ, "" = plain */
    int timeout_ms;
    bool json;
} ctl_rpc_t;

/* True when argv selects the direct-to-store mode (--redis given). */
bool ctl_wants_direct(int argc, char **argv);
/* roostctl in RPC mode; returns the exit code. */
int ctl_rpc_main(int argc, char **argv);
/* One request and its reply: CTL_OK with *status and *doc (caller owns,
 * NULL for an empty body), or CTL_UNAVAILABLE / CTL_USAGE after printing why.
 * request_id, deadline and token are filled in here. Blocks up to
 * timeout_ms. */
int ctl_rpc_call(const ctl_rpc_t *r, const rpc_admin_request_t *req, unsigned *status, json_t **doc);
/* Prints a reply: --json as is; otherwise a table for lists, key: value
 * lines for objects. noun picks the list columns. */
void ctl_rpc_print(const char *noun, const json_t *doc, bool json);
/* `roostctl rules list` as text: client and group names (rpc_rules.c). */
int ctl_rules_list(const ctl_rpc_t *r, const rpc_admin_request_t *req);
/* `roostctl status`'s text form of an overview document (rpc_status.c). */
void ctl_status_print(const json_t *doc);
/* Reports an error reply on stderr (and stdout with --json); returns the
 * exit code for status. */
int ctl_rpc_fail(unsigned status, const json_t *doc, bool json);

#endif

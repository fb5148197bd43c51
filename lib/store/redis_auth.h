/* redis_auth: the Redis AUTH credentials shared by store (sync) and sstore
 * (async): copying and wiping them, the AUTH command's arguments, and which
 * error replies mean "not you" rather than "not now". Private to lib/store.
 */
#ifndef ROOST_STORE_REDIS_AUTH_H
#define ROOST_STORE_REDIS_AUTH_H

#include <stdbool.h>

typedef struct redis_auth {
    char *user, *pass; /* pass NULL: no AUTH; user NULL: the default user */
} redis_auth_t;

/* Copies user and password (NULL or "" for none; a user without a password
 * is dropped), wiping the previous password. 0 or -ENOMEM (unchanged). */
int redis_auth_set(redis_auth_t *a, const char *user, const char *password);
/* Wipes and frees. */
void redis_auth_clear(redis_auth_t *a);
/* Fills argv with AUTH [user] password; returns argc, 0 when no AUTH. The
 * strings stay owned by a. */
int redis_auth_argv(const redis_auth_t *a, const char *argv[3]);
/* True for an error reply that refuses these credentials or their rights
 * (NOAUTH, WRONGPASS, NOPERM, and older servers' AUTH errors). */
bool redis_auth_refused(const char *error);

#endif

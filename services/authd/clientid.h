/* clientid: a client's allowed MQTT client ids (store.h "client_ids"), so a
 * credential cannot connect as another device's id, kick it and take over
 * its session. Patterns, one per line: '*' matches any run of characters
 * (none included), "%u" stands for the username, everything else is
 * literal. No patterns: any id. Pure.
 */
#ifndef ROOST_AUTHD_CLIENTID_H
#define ROOST_AUTHD_CLIENTID_H

#include <stdbool.h>

/* patterns: newline-separated, NULL or "" = any id. */
bool clientid_allowed(const char *patterns, const char *username, const char *client_id);

#endif

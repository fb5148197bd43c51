/* ss_dns: see ss_dns.h.
 *
 * A small table of names. An entry's gaicb is handed to getaddrinfo_a
 * (GAI_NOWAIT, no notification) and stays where it is while the lookup
 * runs; gai_error() says when it is done, and the next call for any name
 * collects every finished lookup. Entries are reused least recently used
 * first, never while their lookup runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getaddrinfo_a */
#endif
#include "store/ss_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/err.h"
#include "base/log.h"

#define SLOTS 32

typedef struct entry {
    char host[256];
    bool used;
    bool running;          /* cb is with getaddrinfo_a */
    struct gaicb cb;
    struct addrinfo hints;
    char addr[SS_DNS_ADDR_MAX]; /* the last answer, "" when none yet */
    char why[128];              /* the last failure, when addr is "" */
    bool answered;              /* a lookup ended: addr or why is set */
    uint64_t answered_ms;       /* when */
    uint64_t used_ms;
} entry_t;

static entry_t table[SLOTS];

/* A numeric host needs no lookup: copies it to out. */
static bool numeric(const char *host, char out[SS_DNS_ADDR_MAX])
{
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
        return false;
    snprintf(out, SS_DNS_ADDR_MAX, "%s", host);
    return true;
}

/* Takes the outcome of e's lookup if it ended; says in the log when the
 * address of a name changes or a lookup fails for a new reason. */
static void collect(entry_t *e, uint64_t now_ms)
{
    int rc = gai_error(&e->cb);
    if (rc == EAI_INPROGRESS)
        return;
    e->running = false;
    e->answered = true;
    e->answered_ms = now_ms;
    struct addrinfo *ai = e->cb.ar_result;
    e->cb.ar_result = NULL;
    char addr[SS_DNS_ADDR_MAX] = "", why[sizeof(e->why)] = "";
    if (rc == 0) {
        for (struct addrinfo *p = ai; p && !addr[0]; p = p->ai_next) {
            if (p->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)p->ai_addr)->sin_addr, addr, sizeof(addr));
            else if (p->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)p->ai_addr)->sin6_addr, addr, sizeof(addr));
        }
        if (!addr[0])
            snprintf(why, sizeof(why), "no IPv4 or IPv6 address");
    } else {
        snprintf(why, sizeof(why), "%s", gai_strerror(rc));
    }
    if (ai)
        freeaddrinfo(ai);
    if (addr[0]) {
        if (strcmp(addr, e->addr) != 0)
            log_info("dns_resolved", "host=%s addr=%s", e->host, addr);
        snprintf(e->addr, sizeof(e->addr), "%s", addr);
        e->why[0] = '\0';
    } else if (strcmp(why, e->why) != 0) {
        log_warn("dns_failed", "host=%s detail=\"%s\"%s", e->host, why,
                 e->addr[0] ? " kept=last_address" : "");
        snprintf(e->why, sizeof(e->why), "%s", why); /* a failed refresh keeps the address it had */
    }
}

static int start(entry_t *e)
{
    memset(&e->hints, 0, sizeof(e->hints));
    e->hints.ai_family = AF_UNSPEC;
    e->hints.ai_socktype = SOCK_STREAM;
    memset(&e->cb, 0, sizeof(e->cb));
    e->cb.ar_name = e->host;
    e->cb.ar_request = &e->hints;
    struct gaicb *list[1] = {&e->cb};
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0)
        return -ENOMEM; /* EAI_AGAIN or EAI_MEMORY: out of threads or memory */
    e->running = true;
    return 0;
}

/* The entry of host, made (lookup not started) if new. NULL when every
 * slot has a lookup running. */
static entry_t *find(const char *host, uint64_t now_ms)
{
    entry_t *spare = NULL;
    for (size_t i = 0; i < SLOTS; i++) {
        entry_t *e = &table[i];
        if (e->running)
            collect(e, now_ms);
        if (e->used && strcmp(e->host, host) == 0)
            return e;
        if (!e->running && (!spare || !e->used || (spare->used && e->used_ms < spare->used_ms)))
            spare = e;
    }
    if (!spare)
        return NULL;
    memset(spare, 0, sizeof(*spare));
    snprintf(spare->host, sizeof(spare->host), "%s", host);
    spare->used = true;
    return spare;
}

int ss_dns_addr(const char *host, uint64_t now_ms, char out[SS_DNS_ADDR_MAX], char *why, size_t whylen)
{
    if (whylen)
        why[0] = '\0';
    if (numeric(host, out))
        return 0;
    if (strlen(host) >= sizeof(table[0].host)) {
        snprintf(why, whylen, "host name too long");
        return ROOST_EUNAVAILABLE;
    }
    entry_t *e = find(host, now_ms);
    if (!e)
        return -EAGAIN; /* every slot busy looking up: later */
    e->used_ms = now_ms;
    bool fresh = e->answered && now_ms - e->answered_ms < (e->addr[0] ? SS_DNS_TTL_MS : SS_DNS_RETRY_MS);
    if (!e->running && !fresh && start(e) < 0 && !e->addr[0]) {
        snprintf(why, whylen, "cannot start a lookup (out of memory or threads)");
        return -ENOMEM;
    }
    if (e->addr[0]) {
        snprintf(out, SS_DNS_ADDR_MAX, "%s", e->addr);
        return 0;
    }
    if (e->running)
        return -EAGAIN;
    snprintf(why, whylen, "%s: %s", host, e->why);
    return ROOST_EUNAVAILABLE;
}

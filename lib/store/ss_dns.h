/* ss_dns: host names of Redis, Sentinels and Redis Cluster nodes resolved
 * without blocking the caller, for the async store's links (ss_io.h).
 * hiredis resolves a name with a blocking getaddrinfo: inside the broker's
 * loop a slow or silent DNS server (seconds per try, per search domain)
 * would freeze every connection on the broker. Here a name is looked up
 * in the background (glibc's getaddrinfo_a) and the link connects to the
 * address found:
 *
 * - an address (IPv4 or IPv6 literal) is used as it is, at once;
 * - a name seen for the first time starts a lookup and answers -EAGAIN:
 *   the caller's attempt fails and is retried (the store's backoff starts
 *   at 100 ms, an ask moves to the next node), and a later call takes the
 *   address once the lookup is done;
 * - a name resolved before answers its address at once; when that answer
 *   is older than SS_DNS_TTL_MS a fresh lookup starts beside it (a pod
 *   restarted under a new address is followed by the next attempt after
 *   that lookup ends; connects are rare, lookups off the loop, so the TTL
 *   is short); a lookup that fails keeps the last address;
 * - a name that did not resolve answers ROOST_EUNAVAILABLE with the
 *   resolver's reason, and is looked up again after SS_DNS_RETRY_MS.
 *
 * One table for the process (the broker runs one loop); lookups finish on
 * glibc's threads and are collected by the next call, so nothing here runs
 * on its own.
 */
#ifndef ROOST_STORE_SS_DNS_H
#define ROOST_STORE_SS_DNS_H

#include <stddef.h>
#include <stdint.h>

#define SS_DNS_TTL_MS 1000u
#define SS_DNS_RETRY_MS 1000u
#define SS_DNS_ADDR_MAX 64 /* an IPv6 address as text, with room */

/* The address to connect to for host, now_ms the caller's clock (loop
 * time). 0 and out (an address as text); -EAGAIN (a lookup under way);
 * ROOST_EUNAVAILABLE with why (the resolver's reason, why[0] otherwise
 * empty); -ENOMEM. */
int ss_dns_addr(const char *host, uint64_t now_ms, char out[SS_DNS_ADDR_MAX], char *why, size_t whylen);

#endif

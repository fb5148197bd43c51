#include "base/cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int cidr_parse(const char *text, size_t len, cidr_t *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        if (!slash[1] || slash[1] == '-' || slash[1] == '+')
            return -1;
        bits = strtol(slash + 1, &end, 10);
        if (*end)
            return -1;
    }
    memset(out, 0, sizeof(*out));
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        if (bits > 32)
            return -1;
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, &v4, 4);
        out->bits = (uint8_t)(96 + (bits < 0 ? 32 : bits));
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        if (bits > 128)
            return -1;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
        return 0;
    }
    return -1;
}

int cidr_list_parse(const char *text, cidr_list_t *out, size_t *bad_at)
{
    out->n = 0;
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = p + strcspn(p, ",");
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        if (out->n == CIDR_MAX || cidr_parse(p, (size_t)(last - p), &out->items[out->n]) < 0) {
            *bad_at = (size_t)(p - text);
            return -1;
        }
        out->n++;
        p = *end ? end + 1 : end;
        if (*end && !*p) { /* a trailing comma */
            *bad_at = (size_t)(p - text);
            return -1;
        }
    }
    return 0;
}

bool cidr_match(const cidr_t *c, const uint8_t addr[16])
{
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, full))
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

bool cidr_list_match(const cidr_list_t *l, const uint8_t addr[16])
{
    for (size_t i = 0; i < l->n; i++)
        if (cidr_match(&l->items[i], addr))
            return true;
    return false;
}

size_t cidr_peer_host(const char *peer, const char **host)
{
    peer = peer ? peer : "";
    /* the port follows the last colon (the broker writes v6 peers as
     * "2001:db8::1:5" as well as "[2001:db8::1]:5") */
    const char *colon = strrchr(peer, ':');
    size_t len = colon && !strchr(colon, ']') ? (size_t)(colon - peer) : strlen(peer);
    if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']') {
        peer++;
        len -= 2;
    }
    *host = peer;
    return len;
}

int cidr_parse_peer(const char *peer, cidr_t *out)
{
    const char *host;
    size_t len = cidr_peer_host(peer, &host);
    return cidr_parse(host, len, out);
}

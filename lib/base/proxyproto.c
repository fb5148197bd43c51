#include "base/proxyproto.h"

#include <arpa/inet.h>
#include <string.h>

#include "base/err.h"

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

#define V1_MAX 107

static int parse_port(const char *s, uint16_t *out)
{
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int parse_v1(const uint8_t *buf, size_t len, size_t *consumed, proxy_info_t *out)
{
    const uint8_t *nl = memchr(buf, '\n', len < V1_MAX ? len : V1_MAX);
    if (!nl)
        return len < V1_MAX ? PROXY_NEED_MORE : ROOST_EPROTO_MALFORMED;
    size_t n = (size_t)(nl - buf) + 1;
    if (n < 8 || nl[-1] != '\r')
        return ROOST_EPROTO_MALFORMED;
    char line[V1_MAX + 1];
    memcpy(line, buf, n - 2);
    line[n - 2] = '\0';
    char *save = NULL;
    char *tok[7];
    int ntok = 0;
    for (char *t = strtok_r(line, " ", &save); t && ntok < 7; t = strtok_r(NULL, " ", &save))
        tok[ntok++] = t;
    memset(out, 0, sizeof(*out));
    if (ntok < 2 || strcmp(tok[0], "PROXY") != 0)
        return ROOST_EPROTO_MALFORMED;
    if (strcmp(tok[1], "UNKNOWN") == 0) {
        *consumed = n;
        return 0;
    }
    if (ntok != 6)
        return ROOST_EPROTO_MALFORMED;
    uint16_t dport;
    if (parse_port(tok[4], &out->port) || parse_port(tok[5], &dport))
        return ROOST_EPROTO_MALFORMED;
    if (strcmp(tok[1], "TCP4") == 0) {
        out->addr[10] = out->addr[11] = 0xff;
        if (inet_pton(AF_INET, tok[2], out->addr + 12) != 1)
            return ROOST_EPROTO_MALFORMED;
    } else if (strcmp(tok[1], "TCP6") == 0) {
        if (inet_pton(AF_INET6, tok[2], out->addr) != 1)
            return ROOST_EPROTO_MALFORMED;
    } else {
        return ROOST_EPROTO_MALFORMED;
    }
    out->has_addr = true;
    *consumed = n;
    return 0;
}

static int parse_v2(const uint8_t *buf, size_t len, size_t *consumed, proxy_info_t *out)
{
    if (len < 16)
        return PROXY_NEED_MORE;
    uint8_t ver_cmd = buf[12], fam = buf[13];
    size_t body = ((size_t)buf[14] << 8) | buf[15];
    if ((ver_cmd >> 4) != 2 || (ver_cmd & 0x0F) > 1)
        return ROOST_EPROTO_MALFORMED;
    if (len < 16 + body)
        return PROXY_NEED_MORE;
    const uint8_t *a = buf + 16;
    memset(out, 0, sizeof(*out));
    *consumed = 16 + body;
    if ((ver_cmd & 0x0F) == 0)
        return 0; /* LOCAL: the proxy's own connection (health check) */
    switch (fam) {
    case 0x11: /* TCP over IPv4: src, dst, sport, dport */
        if (body < 12)
            return ROOST_EPROTO_MALFORMED;
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, a, 4);
        out->port = (uint16_t)((a[8] << 8) | a[9]);
        out->has_addr = true;
        return 0;
    case 0x21: /* TCP over IPv6 */
        if (body < 36)
            return ROOST_EPROTO_MALFORMED;
        memcpy(out->addr, a, 16);
        out->port = (uint16_t)((a[32] << 8) | a[33]);
        out->has_addr = true;
        return 0;
    default: /* UNSPEC, UDP, unix sockets: no usable client address */
        return 0;
    }
}

int proxy_parse(const uint8_t *buf, size_t len, size_t *consumed, proxy_info_t *out)
{
    /* decide the version from the bytes we have; a prefix of either
     * signature is "need more" */
    size_t k = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
    if (k && memcmp(buf, v2_sig, k) == 0)
        return len < sizeof(v2_sig) ? PROXY_NEED_MORE : parse_v2(buf, len, consumed, out);
    k = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", k) != 0)
        return ROOST_EPROTO_MALFORMED;
    return len < 6 ? PROXY_NEED_MORE : parse_v1(buf, len, consumed, out);
}

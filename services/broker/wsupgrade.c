#include "wsupgrade.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/cidr.h"
#include "base/err.h"

static int fail(wsup_request_t *r, const char *why)
{
    r->error = why;
    return ROOST_EPROTO_MALFORMED;
}

/* RFC 9110 5.6.2 token characters. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value characters: visible, space, tab, obs-text. */
static bool is_vchar(unsigned char c) { return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f); }

static bool ows(char c) { return c == ' ' || c == '\t'; }

static bool str_is(wsup_str_t s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Whether the comma-separated list v holds tok (case-insensitively when
 * icase), each element trimmed of optional whitespace. */
static bool list_has(wsup_str_t v, const char *tok, bool icase)
{
    size_t tn = strlen(tok), i = 0;
    while (i <= v.n) {
        size_t j = i;
        while (j < v.n && v.p[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && ows(v.p[a]))
            a++;
        while (b > a && ows(v.p[b - 1]))
            b--;
        if (b - a == tn && (icase ? strncasecmp(v.p + a, tok, tn) : memcmp(v.p + a, tok, tn)) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* The request line p[0..n) (without its CRLF), complete or not yet. */
static int request_line(const char *p, size_t n, bool complete, wsup_request_t *r)
{
    static const char ver[] = "HTTP/1.1";
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == n)
        return complete ? fail(r, "malformed request line") : WSUP_NEED_MORE;
    if (i == 0 || p[i] != ' ')
        return fail(r, "malformed request line");
    r->method = (wsup_str_t){p, i};
    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == n)
        return complete ? fail(r, "malformed request line") : WSUP_NEED_MORE;
    if (i == t || p[i] != ' ')
        return fail(r, "malformed request line");
    r->target = (wsup_str_t){p + t, i - t};
    size_t m = n - ++i;
    if (m > sizeof(ver) - 1 || memcmp(p + i, ver, m) != 0)
        return fail(r, "not an HTTP/1.1 request");
    if (!complete)
        return WSUP_NEED_MORE;
    return m == sizeof(ver) - 1 ? 0 : fail(r, "not an HTTP/1.1 request");
}

static int set_once(wsup_request_t *r, wsup_str_t *field, wsup_str_t v, const char *dup)
{
    if (field->p)
        return fail(r, dup);
    *field = v;
    return 0;
}

/* One complete header line: name and trimmed value. */
static int header(wsup_request_t *r, wsup_str_t name, wsup_str_t v)
{
#define NAME_IS(lit) (name.n == sizeof(lit) - 1 && strncasecmp(name.p, lit, name.n) == 0)
    if (NAME_IS("host"))
        return set_once(r, &r->host, v, "duplicate Host");
    if (NAME_IS("sec-websocket-key"))
        return set_once(r, &r->key, v, "duplicate Sec-WebSocket-Key");
    if (NAME_IS("sec-websocket-version"))
        return set_once(r, &r->version, v, "duplicate Sec-WebSocket-Version");
    if (NAME_IS("origin"))
        return set_once(r, &r->origin, v, "duplicate Origin");
    if (NAME_IS("upgrade"))
        r->upgrade_websocket |= list_has(v, "websocket", true);
    else if (NAME_IS("connection"))
        r->connection_upgrade |= list_has(v, "upgrade", true);
    else if (NAME_IS("x-forwarded-for"))
        r->forwarded_for = v; /* the last line: its last entry is the nearest proxy's */
    else if (NAME_IS("sec-websocket-protocol")) {
        /* subprotocol names compare exactly; "mqtt" is preferred */
        r->protocol_offered = true;
        if (list_has(v, "mqtt", false))
            r->subprotocol = "mqtt";
        else if (!r->subprotocol && list_has(v, "mqttv3.1", false))
            r->subprotocol = "mqttv3.1";
    }
    return 0;
#undef NAME_IS
}

/* A header line p[0..n) (without its CRLF), complete or not yet. */
static int header_line(const char *p, size_t n, bool complete, wsup_request_t *r)
{
    if (n && ows(p[0]))
        return fail(r, "folded header line");
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == n)
        return complete ? fail(r, "malformed header line") : WSUP_NEED_MORE;
    if (i == 0 || p[i] != ':')
        return fail(r, "malformed header line");
    for (size_t j = i + 1; j < n; j++)
        if (!is_vchar((unsigned char)p[j]))
            return fail(r, "control character in a header value");
    if (!complete)
        return WSUP_NEED_MORE;
    size_t a = i + 1, b = n;
    while (a < b && ows(p[a]))
        a++;
    while (b > a && ows(p[b - 1]))
        b--;
    return header(r, (wsup_str_t){p, i}, (wsup_str_t){p + a, b - a});
}

int wsup_parse(const uint8_t *buf, size_t len, wsup_request_t *r, size_t *used)
{
    *r = (wsup_request_t){0};
    const char *p = (const char *)buf;
    size_t pos = 0;
    for (unsigned line = 0;; line++) {
        if (line > WSUP_MAX_HEADERS)
            return fail(r, "too many header lines");
        size_t e = pos;
        while (e < len && p[e] != '\r' && p[e] != '\n')
            e++;
        /* the line's content is judged first (garbage is named as such),
         * then its end: CRLF, or more to come */
        bool ended = e < len, blank = line > 0 && e == pos;
        int rc = 0;
        if (line == 0)
            rc = request_line(p + pos, e - pos, ended, r);
        else if (!blank)
            rc = header_line(p + pos, e - pos, ended, r);
        if (rc < 0)
            return rc;
        if (ended && p[e] == '\n')
            return fail(r, "line not ended by CRLF");
        if (e + 1 >= len) {
            if (len >= WSUP_MAX_HEAD) {
                r->error = "request head larger than 8192 bytes";
                return ROOST_EPROTO_TOO_LARGE;
            }
            return WSUP_NEED_MORE;
        }
        if (p[e + 1] != '\n')
            return fail(r, "line not ended by CRLF");
        if (blank) {
            *used = e + 2;
            if (*used > WSUP_MAX_HEAD) {
                r->error = "request head larger than 8192 bytes";
                return ROOST_EPROTO_TOO_LARGE;
            }
            return 0;
        }
        pos = e + 2;
    }
}

wsup_verdict_t wsup_malformed(const wsup_request_t *r, int rc)
{
    return (wsup_verdict_t){rc == ROOST_EPROTO_TOO_LARGE ? 431 : 400,
                            r->error ? r->error : "malformed request"};
}

/* Whether origin is one of the comma-separated allowed values (scheme and
 * host compare case-insensitively, as browsers send them in lower case). */
static bool origin_allowed(wsup_str_t origin, const char *allowed)
{
    if (!allowed[0] || !origin.p)
        return true;
    char tmp[256];
    if (origin.n >= sizeof(tmp))
        return false;
    memcpy(tmp, origin.p, origin.n);
    tmp[origin.n] = 0;
    return list_has((wsup_str_t){allowed, strlen(allowed)}, tmp, true);
}

/* Sec-WebSocket-Key: base64 of 16 bytes (22 characters, the last carrying
 * only 2 bits, then "=="). */
static bool key_valid(wsup_str_t k)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (k.n != 24 || k.p[22] != '=' || k.p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!k.p[i] || !strchr(b64, k.p[i]))
            return false;
    return strchr("AQgw", k.p[21]) != NULL;
}

wsup_verdict_t wsup_check(const wsup_request_t *r, const wsup_policy_t *p)
{
    if (!str_is(r->method, "GET"))
        return (wsup_verdict_t){400, "not a GET request"};
    if (!r->upgrade_websocket || !r->connection_upgrade)
        return (wsup_verdict_t){426, "not a WebSocket upgrade (needs Upgrade: websocket and "
                                     "Connection: Upgrade)"};
    size_t plen = 0;
    while (plen < r->target.n && r->target.p[plen] != '?')
        plen++;
    if (!str_is((wsup_str_t){r->target.p, plen}, p->path))
        return (wsup_verdict_t){404, "no WebSocket endpoint at this path"};
    if (!r->host.p)
        return (wsup_verdict_t){400, "no Host header"};
    if (!r->version.p)
        return (wsup_verdict_t){400, "no Sec-WebSocket-Version"};
    if (!str_is(r->version, "13"))
        return (wsup_verdict_t){426, "unsupported Sec-WebSocket-Version (13 only)"};
    if (!r->key.p)
        return (wsup_verdict_t){400, "no Sec-WebSocket-Key"};
    if (!key_valid(r->key))
        return (wsup_verdict_t){400, "Sec-WebSocket-Key is not 16 bytes in base64"};
    if (!origin_allowed(r->origin, p->origins))
        return (wsup_verdict_t){403, "Origin not allowed (--ws-allowed-origins)"};
    if (!r->protocol_offered)
        return (wsup_verdict_t){400, "no Sec-WebSocket-Protocol (mqtt or mqttv3.1)"};
    if (!r->subprotocol)
        return (wsup_verdict_t){400, "unsupported Sec-WebSocket-Protocol (mqtt or mqttv3.1)"};
    return (wsup_verdict_t){101, "upgraded"};
}

int wsup_forwarded_for(const wsup_request_t *r, uint8_t addr[16])
{
    if (!r->forwarded_for.p)
        return 0;
    const char *p = r->forwarded_for.p;
    size_t a = r->forwarded_for.n, b = r->forwarded_for.n;
    while (a > 0 && p[a - 1] != ',')
        a--;
    while (a < b && ows(p[a]))
        a++;
    while (b > a && ows(p[b - 1]))
        b--;
    if (b - a >= 2 && p[a] == '[' && p[b - 1] == ']')
        a++, b--;
    cidr_t c;
    if (a == b || memchr(p + a, '/', b - a) || cidr_parse(p + a, b - a, &c) < 0 || c.bits != 128)
        return -1;
    memcpy(addr, c.addr, 16);
    return 1;
}

void wsup_accept_key(const char *key, size_t n, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, n) ||
        !EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) || !EVP_DigestFinal_ex(ctx, md, &mdlen) ||
        mdlen != 20) {
        out[0] = 0; /* OOM: no valid accept value; the client fails the handshake */
    } else {
        EVP_EncodeBlock((unsigned char *)out, md, 20);
    }
    EVP_MD_CTX_free(ctx);
}

static const char *status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    default: return "Bad Request";
    }
}

size_t wsup_response(const wsup_request_t *r, const wsup_verdict_t *v, char *out, size_t cap)
{
    int n;
    if (v->status == 101) {
        char accept[29];
        wsup_accept_key(r->key.p, r->key.n, accept);
        n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     accept, r->subprotocol);
    } else {
        n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: text/plain\r\n%s"
                     "Content-Length: %zu\r\n\r\n%s\n",
                     v->status, status_text(v->status),
                     v->status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "",
                     strlen(v->reason) + 1, v->reason);
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

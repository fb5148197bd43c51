/* slot: hash slots, hash tags and redirection replies (see slot.h). */
#include "store/slot.h"

#include <string.h>

uint16_t slot_crc16(const void *p, size_t n) { return slot_crc16_more(0, p, n); }

uint16_t slot_crc16_more(uint16_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(b[i] << 8);
        for (int k = 0; k < 8; k++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

const char *slot_hashed(const char *key, size_t len, size_t *out_len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            *out_len = (size_t)(close - open - 1);
            return open + 1;
        }
    }
    *out_len = len;
    return key;
}

unsigned slot_of(const char *key, size_t len)
{
    size_t n;
    const char *h = slot_hashed(key, len, &n);
    return slot_crc16(h, n) & (SLOT_COUNT - 1);
}

/* Reads a decimal number of at most `max` from p[0..n); the count of
 * digits used, 0 if none or too big. */
static size_t read_num(const char *p, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    size_t i = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > max)
            return 0;
    }
    *out = v;
    return i;
}

slot_redir_kind_t slot_redir_parse(const char *err, size_t n, slot_redir_t *out)
{
    slot_redir_kind_t kind;
    size_t at;
    if (n > 6 && !memcmp(err, "MOVED ", 6)) {
        kind = SLOT_REDIR_MOVED;
        at = 6;
    } else if (n > 4 && !memcmp(err, "ASK ", 4)) {
        kind = SLOT_REDIR_ASK;
        at = 4;
    } else {
        return SLOT_REDIR_NONE;
    }
    unsigned long slot, port;
    size_t d = read_num(err + at, n - at, SLOT_COUNT - 1, &slot);
    if (d == 0 || at + d >= n || err[at + d] != ' ')
        return SLOT_REDIR_NONE;
    at += d + 1;
    const char *addr = err + at;
    size_t alen = n - at;
    const char *colon = NULL;
    for (size_t i = 0; i < alen; i++)
        if (addr[i] == ':')
            colon = addr + i;
    if (!colon || colon == addr || memchr(addr, ' ', alen))
        return SLOT_REDIR_NONE;
    size_t hlen = (size_t)(colon - addr), plen = alen - hlen - 1;
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') { /* [v6]:port */
        addr++;
        hlen -= 2;
    }
    if (hlen >= sizeof(out->host) || plen == 0 ||
        read_num(colon + 1, plen, 65535, &port) != plen || port == 0)
        return SLOT_REDIR_NONE;
    out->kind = kind;
    out->slot = (unsigned)slot;
    memcpy(out->host, addr, hlen);
    out->host[hlen] = '\0';
    out->port = (int)port;
    return kind;
}

static bool word_at(const char *err, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n >= k && !memcmp(err, w, k) && (n == k || err[k] == ' ');
}

bool slot_busy(const char *err, size_t n)
{
    static const char down[] = "while the cluster is down";
    if (!err)
        return false;
    if (word_at(err, n, "TRYAGAIN") || word_at(err, n, "CLUSTERDOWN"))
        return true;
    for (size_t i = 0; i + sizeof(down) - 1 <= n; i++)
        if (!memcmp(err + i, down, sizeof(down) - 1))
            return true;
    return false;
}

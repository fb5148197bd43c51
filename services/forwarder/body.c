/* body: message and batch JSON (body.h). */
#include "body.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt/mqtt.h"

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters) of ms at out. The part up
 * to the second is kept for the next call: a batch's messages mostly share
 * their second, and strftime was a twentieth of a message's cost. A time
 * gmtime cannot convert reads as the epoch. */
static void rfc3339(int64_t ms, char out[24])
{
    static _Thread_local struct {
        bool set;
        int64_t sec;
        char text[20];
    } last;
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        sec--;
        frac += 1000;
    }
    if (!last.set || last.sec != sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(last.text, sizeof(last.text), "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
            t = 0;
            gmtime_r(&t, &tm);
            strftime(last.text, sizeof(last.text), "%Y-%m-%dT%H:%M:%S", &tm);
        }
        last.sec = sec;
        last.set = true;
    }
    memcpy(out, last.text, 19);
    out[19] = '.';
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
    out[23] = 'Z';
}

/* The decimal text of v at out; returns its length (at most 20). */
static size_t put_i64(char *out, int64_t v)
{
    char t[20];
    size_t n = 0, at = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        t[n++] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        out[at++] = '-';
    while (n)
        out[at++] = t[--n];
    return at;
}

static bool utf8(const char *s, size_t n)
{
    return mqtt_utf8_check((const uint8_t *)s, n) == 0;
}

bool body_ok(const pipeq_msg_t *m)
{
    return m->msg.topic && utf8(m->msg.topic, m->msg.topic_len) && utf8(m->msg.client_id, m->msg.client_id_len) &&
           utf8(m->msg.username, m->msg.username_len) && utf8(m->msg.broker, m->msg.broker_len);
}

/* Extra bytes JSON text needs for byte c: 0 as it is; 1 for \" \\ \b \f
 * \n \r \t; 5 for another control character (\u00XX). UTF-8 sequences stay
 * as they are, as jansson writes them. A table: the test per byte was
 * most of a message's cost. */
static const uint8_t ESC[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    ['"'] = 1, ['\\'] = 1,
};

/* Length of the JSON string of s (quotes included). */
static size_t str_len(const uint8_t *s, size_t n)
{
    size_t len = n + 2;
    for (size_t i = 0; i < n; i++)
        len += ESC[s[i]];
    return len;
}

/* Writes the JSON string of s at out (str_len bytes); returns the end.
 * Runs that need no escape are copied whole. */
static char *put_str(char *out, const uint8_t *s, size_t n)
{
    static const char HEX[] = "0123456789ABCDEF";
    *out++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && !ESC[s[run]])
            run++;
        memcpy(out, s + i, run - i);
        out += run - i;
        if ((i = run) == n)
            break;
        uint8_t c = s[i++];
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = HEX[c >> 4];
            *out++ = HEX[c & 15];
        }
    }
    *out++ = '"';
    return out;
}

typedef struct field {
    const char *key;      /* "\"key\":" */
    size_t key_len;
    const uint8_t *s;     /* a string value (escaped), or NULL: raw is the value as it is */
    size_t len;
    const char *raw;
    bool plain;           /* s needs no escape (ids, digits): quoted as it is */
} field_t;

/* Built by hand, not through a jansson tree: the tree and its dump were a
 * third of the forwarder's instructions per message (bench/RESULTS.md);
 * without printf either (numbers, id and time written directly). */
char *body_message(const char *pipeline_id, const pipeq_msg_t *m, size_t *len)
{
    char id[STORE_ID_LEN + PIPEQ_MID_MAX + 2], at[24], qos[20], ms[20];
    size_t pl = strnlen(pipeline_id, STORE_ID_LEN), el = strnlen(m->mid, PIPEQ_MID_MAX);
    memcpy(id, pipeline_id, pl);
    id[pl] = ':';
    memcpy(id + pl + 1, m->mid, el);
    rfc3339((int64_t)m->msg.received_ms, at);
    size_t qn = put_i64(qos, m->msg.qos), mn = put_i64(ms, (int64_t)m->msg.received_ms);
    bool text = mqtt_utf8_check(m->msg.payload, m->msg.payload_len) == 0;
    char *b64 = NULL;
    if (!text) {
        size_t cap = sodium_base64_encoded_len(m->msg.payload_len, sodium_base64_VARIANT_ORIGINAL);
        if (!(b64 = malloc(cap)))
            return NULL;
        sodium_bin2base64(b64, cap, m->msg.payload, m->msg.payload_len, sodium_base64_VARIANT_ORIGINAL);
    }
#define K(k) "\"" k "\":", sizeof("\"" k "\":") - 1
#define S(k, v, n) {K(k), (const uint8_t *)(v), (n), NULL, false}
#define PLAIN(k, v, n) {K(k), (const uint8_t *)(v), (n), NULL, true}
#define RAW(k, v, n) {K(k), NULL, (n), (v), false}
    /* the entry id is Redis's "<ms>-<seq>", the pipeline id hex: plain */
    const field_t f[] = {
        PLAIN("id", id, pl + 1 + el), PLAIN("pipeline", pipeline_id, pl), S("topic", m->msg.topic, m->msg.topic_len),
        S("payload", text ? (const char *)m->msg.payload : b64, text ? m->msg.payload_len : strlen(b64)),
        RAW("encoding", text ? "\"utf-8\"" : "\"base64\"", text ? 7 : 8), RAW("qos", qos, qn),
        RAW("retain", m->msg.retain ? "true" : "false", m->msg.retain ? 4 : 5),
        S("client_id", m->msg.client_id, m->msg.client_id_len), S("username", m->msg.username, m->msg.username_len),
        S("broker", m->msg.broker, m->msg.broker_len), PLAIN("received_at", at, sizeof(at)), RAW("received_at_ms", ms, mn),
    };
#undef K
#undef S
#undef PLAIN
#undef RAW
    size_t nf = sizeof(f) / sizeof(f[0]), total = 2, vlen[sizeof(f) / sizeof(f[0])];
    for (size_t i = 0; i < nf; i++) {
        vlen[i] = f[i].plain ? f[i].len + 2 : f[i].s ? str_len(f[i].s, f[i].len) : f[i].len;
        total += (i ? 1 : 0) + f[i].key_len + vlen[i];
    }
    char *out = malloc(total + 1);
    if (out) {
        char *o = out;
        *o++ = '{';
        for (size_t i = 0; i < nf; i++) {
            if (i)
                *o++ = ',';
            memcpy(o, f[i].key, f[i].key_len);
            o += f[i].key_len;
            if (f[i].plain) {
                *o++ = '"';
                memcpy(o, f[i].s, f[i].len);
                o += f[i].len;
                *o++ = '"';
            } else if (f[i].s) {
                o = put_str(o, f[i].s, f[i].len);
            } else {
                memcpy(o, f[i].raw, f[i].len);
                o += f[i].len;
            }
        }
        *o++ = '}';
        *o = '\0';
        *len = (size_t)(o - out);
    }
    free(b64);
    return out;
}

char *body_join(char *const *parts, const size_t *lens, size_t n, int as_array, size_t *len)
{
    size_t total = as_array ? 2 + (n ? n - 1 : 0) : 0;
    for (size_t i = 0; i < n; i++)
        total += lens[i];
    char *out = malloc(total + 1);
    if (!out)
        return NULL;
    size_t at = 0;
    if (as_array)
        out[at++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (as_array && i)
            out[at++] = ',';
        memcpy(out + at, parts[i], lens[i]);
        at += lens[i];
    }
    if (as_array)
        out[at++] = ']';
    out[at] = '\0';
    *len = at;
    return out;
}

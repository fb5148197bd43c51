/* body: message and batch JSON (body.h). */
#include "body.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt/mqtt.h"

static void rfc3339(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static bool utf8(const char *s, size_t n)
{
    return mqtt_utf8_check((const uint8_t *)s, n) == 0;
}

bool body_ok(const pipeq_msg_t *m)
{
    return m->topic && utf8(m->topic, m->topic_len) && utf8(m->client_id, m->client_id_len) &&
           utf8(m->username, m->username_len) && utf8(m->broker, m->broker_len);
}

/* The JSON text of the string s: escaped as jansson escapes (quote,
 * backslash, control characters; UTF-8 sequences as they are). Written at
 * out (when not NULL); returns its length. */
static size_t put_str(char *out, const uint8_t *s, size_t n)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t at = 0;
#define PUT(c) (out ? (void)(out[at] = (char)(c)) : (void)0, at++)
    PUT('"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            PUT(c);
            continue;
        }
        PUT('\\');
        switch (c) {
        case '"': PUT('"'); break;
        case '\\': PUT('\\'); break;
        case '\b': PUT('b'); break;
        case '\f': PUT('f'); break;
        case '\n': PUT('n'); break;
        case '\r': PUT('r'); break;
        case '\t': PUT('t'); break;
        default:
            PUT('u'); PUT('0'); PUT('0'); PUT(HEX[c >> 4]); PUT(HEX[c & 15]);
        }
    }
    PUT('"');
#undef PUT
    return at;
}

typedef struct field {
    const char *key;      /* "\"key\":" */
    const uint8_t *s;     /* a string value, or NULL: raw is the value */
    size_t len;
    const char *raw;
} field_t;

/* Built by hand, not through a jansson tree: the tree and its dump were a
 * third of the forwarder's instructions per message (bench/RESULTS.md). */
char *body_message(const char *pipeline_id, const pipeq_msg_t *m, size_t *len)
{
    char id[STORE_ID_LEN + PIPEQ_EID_MAX + 2], at[32], qos[8], ms[24];
    int idn = snprintf(id, sizeof(id), "%s:%s", pipeline_id, m->eid);
    rfc3339(m->received_ms, at);
    snprintf(qos, sizeof(qos), "%d", m->qos);
    snprintf(ms, sizeof(ms), "%lld", (long long)m->received_ms);
    bool text = mqtt_utf8_check(m->payload, m->payload_len) == 0;
    char *b64 = NULL;
    if (!text) {
        size_t cap = sodium_base64_encoded_len(m->payload_len, sodium_base64_VARIANT_ORIGINAL);
        if (!(b64 = malloc(cap)))
            return NULL;
        sodium_bin2base64(b64, cap, m->payload, m->payload_len, sodium_base64_VARIANT_ORIGINAL);
    }
#define S(k, v, n) {"\"" k "\":", (const uint8_t *)(v), (n), NULL}
#define STR(k, v) S(k, v, strlen(v))
#define RAW(k, v) {"\"" k "\":", NULL, 0, (v)}
    const field_t f[] = {
        S("id", id, (size_t)idn), STR("pipeline", pipeline_id), S("topic", m->topic, m->topic_len),
        S("payload", text ? (const char *)m->payload : b64, text ? m->payload_len : strlen(b64)),
        RAW("encoding", text ? "\"utf-8\"" : "\"base64\""), RAW("qos", qos),
        RAW("retain", m->retain ? "true" : "false"), S("client_id", m->client_id, m->client_id_len),
        S("username", m->username, m->username_len), S("broker", m->broker, m->broker_len), STR("received_at", at), RAW("received_at_ms", ms),
    };
#undef S
#undef STR
#undef RAW
    size_t nf = sizeof(f) / sizeof(f[0]), total = 2;
    for (size_t i = 0; i < nf; i++)
        total += (i ? 1 : 0) + strlen(f[i].key) + (f[i].s ? put_str(NULL, f[i].s, f[i].len) : strlen(f[i].raw));
    char *out = malloc(total + 1);
    if (out) {
        size_t o = 0;
        out[o++] = '{';
        for (size_t i = 0; i < nf; i++) {
            if (i)
                out[o++] = ',';
            size_t kl = strlen(f[i].key);
            memcpy(out + o, f[i].key, kl);
            o += kl;
            if (f[i].s) {
                o += put_str(out + o, f[i].s, f[i].len);
            } else {
                size_t rl = strlen(f[i].raw);
                memcpy(out + o, f[i].raw, rl);
                o += rl;
            }
        }
        out[o++] = '}';
        out[o] = '\0';
        *len = o;
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

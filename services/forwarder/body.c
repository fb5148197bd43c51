/* body: message and batch JSON (body.h). */
#include "body.h"

#include <jansson.h>
#include <sodium.h>
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

char *body_message(const char *pipeline_id, const pipeq_msg_t *m, size_t *len)
{
    char id[STORE_ID_LEN + PIPEQ_EID_MAX + 2], at[32];
    snprintf(id, sizeof(id), "%s:%s", pipeline_id, m->eid);
    rfc3339(m->received_ms, at);
    bool text = mqtt_utf8_check(m->payload, m->payload_len) == 0;
    char *b64 = NULL;
    json_t *payload;
    if (text) {
        payload = json_stringn((const char *)m->payload, m->payload_len);
    } else {
        size_t cap = sodium_base64_encoded_len(m->payload_len, sodium_base64_VARIANT_ORIGINAL);
        if (!(b64 = malloc(cap)))
            return NULL;
        sodium_bin2base64(b64, cap, m->payload, m->payload_len, sodium_base64_VARIANT_ORIGINAL);
        payload = json_string(b64);
    }
    json_t *o = json_pack("{s:s, s:s, s:s%, s:o, s:s, s:i, s:b, s:s, s:s, s:s, s:s, s:I}", "id", id, "pipeline",
                          pipeline_id, "topic", m->topic, m->topic_len, "payload", payload, "encoding",
                          text ? "utf-8" : "base64", "qos", m->qos, "retain", m->retain, "client_id",
                          m->client_id, "username", m->username, "broker", m->broker, "received_at", at,
                          "received_at_ms", (json_int_t)m->received_ms);
    free(b64);
    char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (out)
        *len = strlen(out);
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

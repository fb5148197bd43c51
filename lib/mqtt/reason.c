/* reason: the 5.0 reason code table (reason.h). */
#include <stddef.h>

#include "base/err.h"
#include "mqtt/mqtt.h"
#include "mqtt/reason.h"

#define P(t) (1u << (t))
#define CA P(MQTT_CONNACK)
#define PA P(MQTT_PUBACK)
#define PREC P(MQTT_PUBREC)
#define PREL P(MQTT_PUBREL)
#define PCOMP P(MQTT_PUBCOMP)
#define SA P(MQTT_SUBACK)
#define UA P(MQTT_UNSUBACK)
#define DI P(MQTT_DISCONNECT)
#define AU P(MQTT_AUTH)

typedef struct rdef {
    uint8_t code;
    uint16_t packets; /* P(type) of the packets it may appear in */
    const char *name;
} rdef_t;

/* 5.0 table 2-6, in code order. */
static const rdef_t table[] = {
    {0x00, CA | PA | PREC | PREL | PCOMP | SA | UA | DI | AU, "Success"},
    {0x01, SA, "Granted QoS 1"},
    {0x02, SA, "Granted QoS 2"},
    {0x04, DI, "Disconnect with Will Message"},
    {0x10, PA | PREC, "No matching subscribers"},
    {0x11, UA, "No subscription existed"},
    {0x18, AU, "Continue authentication"},
    {0x19, AU, "Re-authenticate"},
    {0x80, CA | PA | PREC | SA | UA | DI, "Unspecified error"},
    {0x81, CA | DI, "Malformed Packet"},
    {0x82, CA | DI, "Protocol Error"},
    {0x83, CA | PA | PREC | SA | UA | DI, "Implementation specific error"},
    {0x84, CA, "Unsupported Protocol Version"},
    {0x85, CA, "Client Identifier not valid"},
    {0x86, CA, "Bad User Name or Password"},
    {0x87, CA | PA | PREC | SA | UA | DI, "Not authorized"},
    {0x88, CA, "Server unavailable"},
    {0x89, CA | DI, "Server busy"},
    {0x8A, CA, "Banned"},
    {0x8B, DI, "Server shutting down"},
    {0x8C, CA | DI, "Bad authentication method"},
    {0x8D, DI, "Keep Alive timeout"},
    {0x8E, DI, "Session taken over"},
    {0x8F, SA | UA | DI, "Topic Filter invalid"},
    {0x90, CA | PA | PREC | DI, "Topic Name invalid"},
    {0x91, PA | PREC | SA | UA, "Packet Identifier in use"},
    {0x92, PREL | PCOMP, "Packet Identifier not found"},
    {0x93, DI, "Receive Maximum exceeded"},
    {0x94, DI, "Topic Alias invalid"},
    {0x95, CA | DI, "Packet too large"},
    {0x96, DI, "Message rate too high"},
    {0x97, CA | PA | PREC | SA | DI, "Quota exceeded"},
    {0x98, DI, "Administrative action"},
    {0x99, CA | PA | PREC | DI, "Payload format invalid"},
    {0x9A, CA | DI, "Retain not supported"},
    {0x9B, CA | DI, "QoS not supported"},
    {0x9C, CA | DI, "Use another server"},
    {0x9D, CA | DI, "Server moved"},
    {0x9E, SA | DI, "Shared Subscriptions not supported"},
    {0x9F, CA | DI, "Connection rate exceeded"},
    {0xA0, DI, "Maximum connect time"},
    {0xA1, SA | DI, "Subscription Identifiers not supported"},
    {0xA2, SA | DI, "Wildcard Subscriptions not supported"},
};

static const rdef_t *find(uint8_t code)
{
    size_t lo = 0, hi = sizeof table / sizeof table[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (table[mid].code == code)
            return &table[mid];
        if (table[mid].code < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *mqtt_reason_name(uint8_t type, uint8_t code)
{
    if (code == 0x00 && type == MQTT_DISCONNECT)
        return "Normal disconnection";
    if (code == 0x00 && type == MQTT_SUBACK)
        return "Granted QoS 0";
    const rdef_t *r = find(code);
    return r ? r->name : "unknown";
}

bool mqtt_reason_valid(uint8_t type, uint8_t code)
{
    const rdef_t *r = find(code);
    return r && type < 16 && (r->packets & P(type));
}

uint8_t mqtt_reason_from_err(int err)
{
    switch (err) {
    case ROOST_EPROTO_MALFORMED:
    case ROOST_EPROTO_UTF8:
    case ROOST_EPROTO_TOPIC:
    case ROOST_EPROTO_QOS:
    case ROOST_EPROTO_PACKET_ID:
    case ROOST_EPROTO_RESERVED:
        return MQTT_RC_MALFORMED_PACKET;
    case ROOST_EPROTO_PROTOCOL:
    case ROOST_EPROTO_UNEXPECTED:
        return MQTT_RC_PROTOCOL_ERROR;
    case ROOST_EPROTO_TOO_LARGE:
        return MQTT_RC_PACKET_TOO_LARGE;
    case ROOST_EPROTO_TOPIC_ALIAS:
        return MQTT_RC_TOPIC_ALIAS_INVALID;
    case ROOST_EPROTO_RECEIVE_MAX:
        return MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED;
    case ROOST_EPROTO_PAYLOAD_FORMAT:
        return MQTT_RC_PAYLOAD_FORMAT_INVALID;
    case ROOST_EAUTH_METHOD:
        return MQTT_RC_BAD_AUTHENTICATION_METHOD;
    case ROOST_EPROTO_NAME:
    case ROOST_EPROTO_VERSION:
        return MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION;
    case ROOST_EPROTO_CLIENT_ID:
        return MQTT_RC_CLIENT_ID_NOT_VALID;
    case ROOST_EAUTH_BAD_CREDENTIALS:
        return MQTT_RC_BAD_USERNAME_OR_PASSWORD;
    case ROOST_EAUTH_NOT_AUTHORIZED:
        return MQTT_RC_NOT_AUTHORIZED;
    case ROOST_EAUTH_BANNED:
        return MQTT_RC_BANNED;
    case ROOST_EUNAVAILABLE:
    case ROOST_ETIMEDOUT_AUTHD:
    case ROOST_ESTORE_UNAVAILABLE:
    case ROOST_ENOT_READY:
    case ROOST_ESUPERSEDED:
        return MQTT_RC_SERVER_UNAVAILABLE;
    case ROOST_EAUTH_THROTTLED:
    case ROOST_ERATE:
        return MQTT_RC_CONNECTION_RATE_EXCEEDED;
    case ROOST_EQUEUE_FULL:
    case ROOST_ELIMIT:
        return MQTT_RC_QUOTA_EXCEEDED;
    default:
        return MQTT_RC_UNSPECIFIED_ERROR;
    }
}

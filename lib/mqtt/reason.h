/* reason: MQTT 5.0 reason codes (5.0 section 2.4, table 2-6), in one table
 * with their names and the packets each may appear in; and the mapping from
 * Roost's error codes (base/err.h) to the reason code a CONNACK or DISCONNECT
 * reports. Pure.
 */
#ifndef ROOST_MQTT_REASON_H
#define ROOST_MQTT_REASON_H

#include <stdbool.h>
#include <stdint.h>

enum mqtt_reason {
    MQTT_RC_SUCCESS = 0x00,             /* also Normal disconnection, Granted QoS 0 */
    MQTT_RC_NORMAL_DISCONNECTION = 0x00,
    MQTT_RC_GRANTED_QOS_0 = 0x00,
    MQTT_RC_GRANTED_QOS_1 = 0x01,
    MQTT_RC_GRANTED_QOS_2 = 0x02,
    MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQTT_RC_CONTINUE_AUTHENTICATION = 0x18,
    MQTT_RC_REAUTHENTICATE = 0x19,
    MQTT_RC_UNSPECIFIED_ERROR = 0x80,
    MQTT_RC_MALFORMED_PACKET = 0x81,
    MQTT_RC_PROTOCOL_ERROR = 0x82,
    MQTT_RC_IMPLEMENTATION_SPECIFIC = 0x83,
    MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
    MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
    MQTT_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
    MQTT_RC_NOT_AUTHORIZED = 0x87,
    MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    MQTT_RC_SERVER_BUSY = 0x89,
    MQTT_RC_BANNED = 0x8A,
    MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTT_RC_BAD_AUTHENTICATION_METHOD = 0x8C,
    MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_PACKET_ID_IN_USE = 0x91,
    MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
    MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93,
    MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTT_RC_PACKET_TOO_LARGE = 0x95,
    MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQTT_RC_QUOTA_EXCEEDED = 0x97,
    MQTT_RC_ADMINISTRATIVE_ACTION = 0x98,
    MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
    MQTT_RC_SERVER_MOVED = 0x9D,
    MQTT_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTT_RC_MAXIMUM_CONNECT_TIME = 0xA0,
    MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* The spec's name of a reason code as used in a packet of type `type`
 * (0x00 is "Normal disconnection" in DISCONNECT, "Granted QoS 0" in SUBACK,
 * "Success" elsewhere); "unknown" for a code not in table 2-6. Static. */
const char *mqtt_reason_name(uint8_t type, uint8_t code);

/* May `code` appear in a 5.0 packet of type `type` (CONNACK, PUBACK..PUBCOMP,
 * SUBACK, UNSUBACK, DISCONNECT, AUTH)? Table 2-6, and each packet's list of
 * reason codes ([MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1],
 * [MQTT-3.7.2-1], [MQTT-3.9.3-1], [MQTT-3.11.3-1], [MQTT-3.14.2-1],
 * [MQTT-3.15.2-1]: the sender MUST use one of them). */
bool mqtt_reason_valid(uint8_t type, uint8_t code);

/* The reason code to report for a negative Roost error (base/err.h) in a
 * CONNACK or DISCONNECT: malformed packets (ROOST_EPROTO_MALFORMED, _UTF8,
 * _TOPIC, _QOS, _PACKET_ID, _RESERVED) 0x81, ROOST_EPROTO_PROTOCOL and
 * _UNEXPECTED 0x82, _TOO_LARGE 0x95, _TOPIC_ALIAS 0x94, _RECEIVE_MAX 0x93,
 * _PAYLOAD_FORMAT 0x99,
 * _NAME and _VERSION 0x84, _CLIENT_ID 0x85, ROOST_EAUTH_BAD_CREDENTIALS
 * 0x86, _NOT_AUTHORIZED 0x87, _METHOD 0x8C,
 * ROOST_EUNAVAILABLE, ROOST_ETIMEDOUT_AUTHD, ROOST_ESTORE_UNAVAILABLE,
 * ROOST_ENOT_READY and ROOST_ESUPERSEDED 0x88, ROOST_EAUTH_THROTTLED
 * and ROOST_ERATE 0x9F, ROOST_EQUEUE_FULL and ROOST_ELIMIT 0x97; anything else 0x80. */
uint8_t mqtt_reason_from_err(int err);

#endif

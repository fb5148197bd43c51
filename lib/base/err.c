#include "base/err.h"

#include <string.h>

const char *roost_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case ROOST_EPROTO_MALFORMED: return "malformed packet";
    case ROOST_EPROTO_TOO_LARGE: return "packet too large";
    case ROOST_EPROTO_NAME: return "bad protocol name";
    case ROOST_EPROTO_VERSION: return "unacceptable protocol version";
    case ROOST_EPROTO_UTF8: return "invalid UTF-8 string";
    case ROOST_EPROTO_TOPIC: return "invalid topic";
    case ROOST_EPROTO_CLIENT_ID: return "client identifier rejected";
    case ROOST_EPROTO_UNEXPECTED: return "unexpected packet";
    case ROOST_EPROTO_QOS: return "invalid QoS";
    case ROOST_EPROTO_PACKET_ID: return "invalid packet identifier";
    case ROOST_EPROTO_RESERVED: return "reserved bits set";
    case ROOST_EPROTO_PROTOCOL: return "protocol error";
    case ROOST_EPROTO_TOPIC_ALIAS: return "topic alias invalid";
    case ROOST_EPROTO_RECEIVE_MAX: return "receive maximum exceeded";
    case ROOST_EPROTO_PAYLOAD_FORMAT: return "payload format invalid";
    case ROOST_EAUTH_BAD_CREDENTIALS: return "bad username or password";
    case ROOST_EAUTH_NOT_AUTHORIZED: return "not authorized";
    case ROOST_EAUTH_THROTTLED: return "too many failed attempts";
    case ROOST_EAUTH_BANNED: return "banned";
    case ROOST_ETIMEDOUT_AUTHD: return "auth service did not answer in time";
    case ROOST_EUNAVAILABLE: return "service unavailable";
    case ROOST_EAUTH_METHOD: return "authentication method not supported";
    case ROOST_EQUEUE_FULL: return "queue full";
    case ROOST_ELIMIT: return "limit reached";
    case ROOST_ERATE: return "rate exceeded";
    case ROOST_ECONFIG: return "configuration error";
    case ROOST_ENOTFOUND: return "not found";
    case ROOST_ECONFLICT: return "conflict";
    case ROOST_EINVAL: return "invalid value";
    case ROOST_ESTORE: return "unexpected store reply";
    case ROOST_ESCHEMA: return "store schema is newer than this build";
    case ROOST_ESTORE_UNAVAILABLE: return "store unavailable";
    case ROOST_ENOT_READY: return "server not ready";
    case ROOST_ESUPERSEDED: return "a newer connection took the client id";
    default: break;
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}

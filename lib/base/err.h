/* err: Roost's one space of error codes (STYLE.md 7).
 *
 * 0 is success. System failures are -errno. Roost-specific failures are the
 * negative values below, all under -4096 so they never collide with -errno.
 * Non-error outcomes (MQTT_NEED_MORE, "already subscribed", ...) are positive
 * values or out-parameters defined by the module that returns them, never here.
 */
#ifndef ROOST_BASE_ERR_H
#define ROOST_BASE_ERR_H

enum roost_err {
    ROOST_ERR_BASE = -5000,

    /* MQTT protocol: the peer sent something the specification forbids. */
    ROOST_EPROTO_MALFORMED = ROOST_ERR_BASE - 1,   /* bad length, truncated field, bad flags */
    ROOST_EPROTO_TOO_LARGE = ROOST_ERR_BASE - 2,   /* packet over the configured maximum */
    ROOST_EPROTO_NAME = ROOST_ERR_BASE - 3,        /* protocol name is not "MQTT" */
    ROOST_EPROTO_VERSION = ROOST_ERR_BASE - 4,     /* unacceptable protocol level */
    ROOST_EPROTO_UTF8 = ROOST_ERR_BASE - 5,        /* ill-formed UTF-8 or U+0000 */
    ROOST_EPROTO_TOPIC = ROOST_ERR_BASE - 6,       /* invalid topic name or filter */
    ROOST_EPROTO_CLIENT_ID = ROOST_ERR_BASE - 7,   /* client id rejected */
    ROOST_EPROTO_UNEXPECTED = ROOST_ERR_BASE - 8,  /* packet type not allowed here */
    ROOST_EPROTO_QOS = ROOST_ERR_BASE - 9,         /* QoS 3, or QoS where none is allowed */
    ROOST_EPROTO_PACKET_ID = ROOST_ERR_BASE - 10,  /* packet id 0 where one is required */
    ROOST_EPROTO_RESERVED = ROOST_ERR_BASE - 11,   /* reserved bit or flag set */
    ROOST_EPROTO_PROTOCOL = ROOST_ERR_BASE - 12,   /* parsed, but data the protocol forbids
                                                      (5.0 reason code 0x82) */
    ROOST_EPROTO_TOPIC_ALIAS = ROOST_ERR_BASE - 13, /* 5.0 Topic Alias 0 or over the maximum (0x94) */
    ROOST_EPROTO_RECEIVE_MAX = ROOST_ERR_BASE - 14, /* 5.0 Receive Maximum exceeded (0x93) */
    ROOST_EPROTO_PAYLOAD_FORMAT = ROOST_ERR_BASE - 15, /* 5.0 payload not UTF-8 as its indicator says (0x99) */

    /* Authentication and authorisation. */
    ROOST_EAUTH_BAD_CREDENTIALS = ROOST_ERR_BASE - 20, /* wrong username or password */
    ROOST_EAUTH_NOT_AUTHORIZED = ROOST_ERR_BASE - 21,  /* known but not allowed */
    ROOST_EAUTH_THROTTLED = ROOST_ERR_BASE - 22,       /* too many failures, try later */
    ROOST_ETIMEDOUT_AUTHD = ROOST_ERR_BASE - 23,       /* no auth answer within the deadline */
    ROOST_EUNAVAILABLE = ROOST_ERR_BASE - 24,          /* a dependency (authd, Redis) is down */
    ROOST_EAUTH_METHOD = ROOST_ERR_BASE - 25,          /* 5.0 Authentication Method not offered (0x8C) */
    ROOST_EAUTH_BANNED = ROOST_ERR_BASE - 26,          /* a ban matches (5.0 0x8A) */

    /* Limits and resources. */
    ROOST_EQUEUE_FULL = ROOST_ERR_BASE - 30,       /* a bounded queue refused an item */
    ROOST_ELIMIT = ROOST_ERR_BASE - 31,            /* a configured limit was reached */
    ROOST_ERATE = ROOST_ERR_BASE - 32,             /* a configured rate was exceeded (5.0 0x9F) */

    /* Configuration and data. */
    ROOST_ECONFIG = ROOST_ERR_BASE - 40,           /* bad flag, environment value or file */
    ROOST_ENOTFOUND = ROOST_ERR_BASE - 41,         /* no such object */
    ROOST_ECONFLICT = ROOST_ERR_BASE - 42,         /* uniqueness or reference conflict */
    ROOST_EINVAL = ROOST_ERR_BASE - 43,            /* a value fails validation */
    ROOST_ESTORE = ROOST_ERR_BASE - 44,            /* unexpected reply from the store */
    ROOST_ESCHEMA = ROOST_ERR_BASE - 45,           /* store schema newer than this build */

    /* A broker's CONNECT refused for a cause on its side (5.0 0x88, 3.1.1 3),
     * kept apart from ROOST_EUNAVAILABLE (authd) for the log. */
    ROOST_ESTORE_UNAVAILABLE = ROOST_ERR_BASE - 50, /* Redis did not answer or refused a write */
    ROOST_ENOT_READY = ROOST_ERR_BASE - 51,         /* the persistent-subscription index is not read yet */
    ROOST_ESUPERSEDED = ROOST_ERR_BASE - 52,        /* a newer CONNECT for the client id, here or on a peer */

    ROOST_ERR_LAST = ROOST_ERR_BASE - 100
};

/* A static, human-readable text for any code this space holds (Roost codes
 * and -errno). Never NULL. */
const char *roost_strerror(int rc);

#endif

/* config: roost-broker's settings, from flags and ROOST_* environment. */
#ifndef ROOST_BROKER_CONFIG_H
#define ROOST_BROKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cidr.h"
#include "store/redis_conf.h"

typedef struct broker_config {
    const char *bind;
    int64_t port;
    const char *id;
    bool insecure_no_auth;
    int64_t max_packet_size;
    int64_t max_inflight;
    int64_t max_queued;
    int64_t max_connections;
    int64_t connect_timeout;   /* seconds */
    int64_t max_outbuf;        /* bytes queued to one socket before QoS 0 is dropped */
    int64_t max_retained;
    const char *log_level;
    const char *authd;         /* comma-separated ZeroMQ endpoints */
    int64_t auth_timeout_ms;
    const char *authd_server_key; /* CurveZMQ: authd's public key (spec) */
    const char *authd_client_key; /* CurveZMQ: this broker's secret key (spec) */
    redis_conf_t redis;        /* addr "" = single node, state in memory; min_replicas: WAIT for
                                  this many replicas before PUBACK/PUBREC (resolved, never -1) */
    const char *bus_bind;
    const char *bus_advertise;
    const char *bus_curve_secret; /* the cluster's CurveZMQ secret key (spec); "" = plain bus */
    const char *admin_events;  /* admin's change-event PUB endpoint (kicks) */
    const char *admin_key;     /* admin's CurveZMQ public key (spec); "" = plain */
    int64_t tls_port;          /* -1: 8883 when tls_cert is set */
    const char *tls_cert, *tls_key, *tls_ca; /* files; tls_cert "" = no TLS listener */
    const char *tls_client_cert; /* none | optional | required */
    int64_t ws_port;           /* MQTT over WebSockets; 0 = no listener */
    int64_t wss_port;          /* MQTT over WebSockets over TLS; 0 = no listener, -1 = 8084 with TLS */
    const char *ws_path;       /* the Upgrade request's path */
    const char *ws_allowed_origins; /* comma-separated Origin values; "" = any */
    const char *ws_trusted_proxies; /* CIDRs whose X-Forwarded-For is believed; "" = none */
    cidr_list_t ws_trusted_proxies_list;
    bool proxy_protocol;       /* connections start with a PROXY v1/v2 header */
    const char *proxy_trusted; /* CIDRs allowed to send one; "" = any peer */
    cidr_list_t proxy_trusted_list; /* parsed from proxy_trusted */
    int64_t max_connect_size;  /* bytes a packet may have before CONNECT is accepted */
    int64_t max_preauth_memory; /* bytes all not-yet-accepted connections may buffer, at most */
    int64_t max_keepalive;     /* seconds; 0 = no cap */
    int64_t session_expiry;    /* seconds an offline persistent session lives; 0 = no limit */
    int64_t receive_maximum;   /* 5.0: inbound QoS 1/2 PUBLISHes unacknowledged per connection */
    int64_t max_connect_rate;  /* CONNECTs per second per listener; 0 = no limit */
    int64_t max_msg_rate;      /* inbound PUBLISHes per second per connection; 0 = no limit */
    int64_t max_byte_rate;     /* their bytes per second per connection; 0 = no limit */
    const char *http_bind;
    int64_t http_port;         /* /healthz and /metrics; 0 = off */
    int64_t drain_delay_ms;    /* SIGTERM: not ready, no new connections, this long, then close */
    bool session_owner_only;   /* a CONNECT may take over only a session of its own credential */
    bool no_shared_subs;       /* "$share/" filters refused (SUBACK 0x9E), CONNACK says so */
    const char *tls_key_secret; /* opens the TLS key admin stored sealed (seal.h); "" = none */
    uint8_t tls_seal[32];
    bool has_tls_seal;
    int64_t tls_ticket_rotate;  /* seconds between cluster ticket key rotations */
} broker_config_t;

/* Fills defaults, then environment, then argv. Returns CFG_RUN, CFG_EXIT_HELP,
 * or ROOST_ECONFIG after printing the reason to err. */
int config_load(broker_config_t *c, int argc, char **argv, FILE *out, FILE *err);

#endif

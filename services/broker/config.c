#include "config.h"

#include "base/cfg.h"
#include "base/err.h"
#include "store/seal.h"

int config_load(broker_config_t *c, int argc, char **argv, FILE *out, FILE *err)
{
    *c = (broker_config_t){
        .bind = "0.0.0.0",
        .port = 1883,
        .id = "",
        .max_packet_size = 1048576,
        .max_inflight = 20,
        .max_queued = 1000,
        .max_connections = 0,
        .connect_timeout = 10,
        .max_outbuf = 1048576,
        .max_retained = 100000,
        .log_level = "info",
        .authd = "",
        .auth_timeout_ms = 3000,
        .authd_server_key = "",
        .authd_client_key = "",
        .bus_bind = "tcp://127.0.0.1:*",
        .bus_advertise = "", .bus_curve_secret = "",
        .admin_events = "", .admin_key = "",
        .tls_port = -1,
        .tls_cert = "", .tls_key = "", .tls_ca = "", .tls_client_cert = "none", .tls_key_secret = "",
        .tls_ticket_rotate = 3600,
        .ws_port = 8083, .wss_port = -1, .ws_path = "/mqtt", .ws_allowed_origins = "",
        .ws_trusted_proxies = "",
        .http_bind = "127.0.0.1",
        .http_port = 0,
        .proxy_trusted = "",
        .max_connect_size = 65536,
        .max_preauth_memory = 64 << 20,
        .max_keepalive = 0,
        .receive_maximum = 1024,
        .session_expiry = 604800,
        .max_connect_rate = 0,
        .drain_delay_ms = 1000,
        .max_msg_rate = 0,
        .max_byte_rate = 0,
    };
    const cfg_opt_t opts[] = {
        {"bind", "ROOST_BIND", CFG_STR, &c->bind, 0, 0, "Address to listen on for MQTT."},
        {"port", "ROOST_PORT", CFG_INT, &c->port, 0, 65535, "TCP port for MQTT (0 picks a free one)."},
        {"id", "ROOST_BROKER_ID", CFG_STR, &c->id, 0, 0,
         "Broker id in logs and the cluster (default: hostname-pid)."},
        {"insecure-no-auth", "ROOST_INSECURE_NO_AUTH", CFG_BOOL, &c->insecure_no_auth, 0, 0,
         "Accept every CONNECT without asking authd. Development only: anyone may connect and "
         "publish or subscribe to anything."},
        {"max-packet-size", "ROOST_MAX_PACKET_SIZE", CFG_INT, &c->max_packet_size, 16, 268435460,
         "Largest MQTT packet accepted, in bytes; larger ones close the connection."},
        {"max-inflight", "ROOST_MAX_INFLIGHT", CFG_INT, &c->max_inflight, 1, 65535,
         "QoS 1/2 messages sent to one client and not yet acknowledged."},
        {"max-queued", "ROOST_MAX_QUEUED", CFG_INT, &c->max_queued, 0, 10000000,
         "QoS 1/2 messages queued per session beyond the in-flight window; the newest beyond it "
         "are dropped (as Mosquitto does), counted once and logged at most once a second."},
        {"max-connections", "ROOST_MAX_CONNECTIONS", CFG_INT, &c->max_connections, 0, 10000000,
         "Most concurrent client connections (0: limited only by open files)."},
        {"connect-timeout", "ROOST_CONNECT_TIMEOUT", CFG_INT, &c->connect_timeout, 1, 3600,
         "Seconds a new socket has to send CONNECT."},
        {"max-outbuf", "ROOST_MAX_OUTBUF", CFG_INT, &c->max_outbuf, 4096, 1073741824,
         "Bytes waiting to be written to one client before QoS 0 messages to it are dropped."},
        {"max-retained", "ROOST_MAX_RETAINED", CFG_INT, &c->max_retained, 0, 100000000,
         "Most retained messages held; new topics beyond it are not retained (counted)."},
        {"authd", "ROOST_AUTHD", CFG_STR, &c->authd, 0, 0,
         "roost-authd endpoints, comma-separated (tcp://127.0.0.1:5560,...). Every CONNECT is "
         "decided there."},
        {"auth-timeout-ms", "ROOST_AUTH_TIMEOUT_MS", CFG_INT, &c->auth_timeout_ms, 10, 600000,
         "How long a CONNECT waits for authd before it is refused with 'server unavailable'."},
        {"authd-server-key", "ROOST_AUTHD_SERVER_KEY", CFG_STR, &c->authd_server_key, 0, 0,
         "CurveZMQ public key of authd (Z85 text or a file holding it); empty: plain."},
        {"authd-client-key", "ROOST_AUTHD_CLIENT_KEY", CFG_STR, &c->authd_client_key, 0, 0,
         "CurveZMQ secret key of this broker (Z85 or file); empty: an ephemeral one."},
        {"bus-bind", "ROOST_BUS_BIND", CFG_STR, &c->bus_bind, 0, 0,
         "ZeroMQ endpoint the cluster bus XPUB binds to ('*' port: any free one)."},
        {"bus-curve-secret", "ROOST_BUS_CURVE_SECRET", CFG_STR, &c->bus_curve_secret, 0, 0,
         "CurveZMQ secret key shared by the cluster's brokers (Z85 text or a file holding it): the "
         "bus is encrypted and only holders of this key may connect. Empty: a plain bus."},
        {"bus-advertise", "ROOST_BUS_ADVERTISE", CFG_STR, &c->bus_advertise, 0, 0,
         "Endpoint peers connect to (e.g. tcp://POD_IP:7000); empty: the bound endpoint."},
        {"admin-events-server-key", "ROOST_ADMIN_CURVE_PUBLIC", CFG_STR, &c->admin_key, 0, 0,
         "CurveZMQ public key of admin (Z85 or file), when admin runs with --curve-secret."},
        {"admin-events", "ROOST_ADMIN_EVENTS", CFG_STR, &c->admin_events, 0, 0,
         "roost-admin's change-event endpoint; its disconnect requests close connections here."},
        {"tls-port", "ROOST_TLS_PORT", CFG_INT, &c->tls_port, -1, 65535,
         "TCP port for MQTT over TLS (-1: 8883 when --tls-cert is set; 0 picks a free one)."},
        {"tls-cert", "ROOST_TLS_CERT", CFG_STR, &c->tls_cert, 0, 0,
         "PEM file of the server certificate (then any intermediates). Set: a TLS listener "
         "(TLS 1.2 and 1.3 only) runs beside the plain one."},
        {"tls-key", "ROOST_TLS_KEY", CFG_STR, &c->tls_key, 0, 0,
         "PEM file of the server certificate's private key (unencrypted)."},
        {"tls-ca", "ROOST_TLS_CA", CFG_STR, &c->tls_ca, 0, 0,
         "PEM bundle of the CA(s) client certificates are verified against."},
        {"tls-key-secret", "ROOST_TLS_KEY_SECRET", CFG_STR, &c->tls_key_secret, 0, 0,
         "Cluster mode: the key admin seals the TLS server key with in Redis (admin's "
         "--tls-key-secret: 64 hex or 43 base64url characters, or a file holding them). Without it "
         "a sealed key from admin cannot be used (tls_key_unreadable)."},
        {"tls-ticket-rotate", "ROOST_TLS_TICKET_ROTATE", CFG_INT, &c->tls_ticket_rotate, 1, 86400,
         "Cluster mode: seconds between rotations of the session ticket keys the brokers share in Redis "
         "(a ticket opens on every broker for up to twice this; sealed with --tls-key-secret when set)."},
        {"tls-client-cert", "ROOST_TLS_CLIENT_CERT", CFG_STR, &c->tls_client_cert, 0, 0,
         "Client certificates on the TLS listener: none, optional (verified when sent) or "
         "required (the handshake fails without one signed by --tls-ca)."},
        {"ws-port", "ROOST_WS_PORT", CFG_INT, &c->ws_port, 0, 65535,
         "TCP port for MQTT over WebSockets (browsers: ws://HOST:PORT/mqtt). 0: no WebSocket "
         "listener."},
        {"wss-port", "ROOST_WSS_PORT", CFG_INT, &c->wss_port, -1, 65535,
         "TCP port for MQTT over WebSockets over TLS, with the TLS listener's certificates (needs "
         "--tls-cert, or --tls-port in cluster mode). -1: 8084 when TLS is configured, else none; "
         "0: none."},
        {"ws-path", "ROOST_WS_PATH", CFG_STR, &c->ws_path, 0, 0,
         "Path of the WebSocket endpoint (ws://HOST:PORT/mqtt); other paths get 404."},
        {"ws-allowed-origins", "ROOST_WS_ALLOWED_ORIGINS", CFG_STR, &c->ws_allowed_origins, 0, 0,
         "Origins whose web pages may connect (comma-separated, e.g. https://app.example.com); "
         "an Upgrade with another Origin gets 403. Empty: any. Requests without Origin "
         "(devices, non-browser clients) are not refused for it."},
        {"ws-trusted-proxies", "ROOST_WS_TRUSTED_PROXIES", CFG_STR, &c->ws_trusted_proxies, 0, 0,
         "HTTP proxies (comma-separated CIDRs) that terminate WebSockets in front of the broker "
         "(an ingress): from them the client's address is the last X-Forwarded-For entry (a "
         "malformed one gets 400). Empty: X-Forwarded-For is ignored. A TCP balancer should "
         "use --proxy-protocol instead."},
        {"proxy-protocol", "ROOST_PROXY_PROTOCOL", CFG_BOOL, &c->proxy_protocol, 0, 0,
         "Every MQTT connection starts with a PROXY protocol v1/v2 header (haproxy send-proxy-v2) "
         "naming the real client: its address is used in logs, authd throttling and the registry. "
         "Connections without one are closed."},
        {"proxy-trusted", "ROOST_PROXY_TRUSTED", CFG_STR, &c->proxy_trusted, 0, 0,
         "With --proxy-protocol: the load balancers' addresses (comma-separated CIDRs, e.g. "
         "10.0.0.0/8,2001:db8::/32); a connection from any other address is closed before its "
         "header is read, so nobody else can claim another device's address. Empty: any peer."},
        {"max-connect-size", "ROOST_MAX_CONNECT_SIZE", CFG_INT, &c->max_connect_size, 16, 268435460,
         "Largest packet before a CONNECT is accepted (the CONNECT itself, with its will and "
         "password); larger closes the connection. --max-packet-size applies after."},
        {"max-keepalive", "ROOST_MAX_KEEPALIVE", CFG_INT, &c->max_keepalive, 0, 65535,
         "Longest keep-alive in seconds a connection gets (0: no cap). A CONNECT asking for more, or "
         "for none (0), is held to this: MQTT 5.0 clients are told so (Server Keep Alive); 3.1.1 cannot "
         "tell the client, so one that stays silent longer than 1.5 times the cap is disconnected "
         "(README)."},
        {"session-expiry", "ROOST_SESSION_EXPIRY", CFG_INT, &c->session_expiry, 0, 4294967294LL,
         "Seconds an offline persistent session is kept (3.1.1 clean session 0; the most a 5.0 "
         "Session Expiry Interval gets, CONNACK says so): then its subscriptions and queued "
         "messages are deleted, from Redis too. 0: kept until the client cleans it."},
        {"receive-maximum", "ROOST_RECEIVE_MAXIMUM", CFG_INT, &c->receive_maximum, 1, 65535,
         "MQTT 5.0 clients: QoS 1/2 PUBLISHes one client may have unacknowledged at once "
         "(CONNACK Receive Maximum); more closes the connection with DISCONNECT 0x93."},
        {"max-connect-rate", "ROOST_MAX_CONNECT_RATE", CFG_INT, &c->max_connect_rate, 0, 1000000,
         "CONNECTs per second each listener (plain, TLS, ws, wss) takes, a burst of one second's worth; the "
         "excess gets CONNACK 3 (server unavailable) so devices back off (0: no limit)."},
        {"max-msg-rate", "ROOST_MAX_MSG_RATE", CFG_INT, &c->max_msg_rate, 0, 100000000,
         "PUBLISHes per second one connection may send (burst: one second's worth); past it the "
         "broker stops reading that socket until the rate allows (backpressure, nothing dropped). "
         "0: no limit."},
        {"max-byte-rate", "ROOST_MAX_BYTE_RATE", CFG_INT, &c->max_byte_rate, 0, 1LL << 40,
         "Bytes of PUBLISH per second one connection may send, the same way (0: no limit)."},
        {"max-preauth-memory", "ROOST_MAX_PREAUTH_MEMORY", CFG_INT, &c->max_preauth_memory, 0, 1LL << 40,
         "Memory all connections not yet accepted may hold, in bytes: connections beyond "
         "this / --max-connect-size waiting for CONNECT or authd are closed at accept (0: no cap)."},
        {"session-owner-only", "ROOST_SESSION_OWNER_ONLY", CFG_BOOL, &c->session_owner_only, 0, 0,
         "Refuse (CONNACK 5) a CONNECT whose client id names a session (live, or a stored persistent "
         "one) that another credential (store client) created, instead of taking it over. Off by "
         "default (MQTT's plain takeover); on in the deploy examples."},
        {"disable-shared-subscriptions", "ROOST_DISABLE_SHARED_SUBSCRIPTIONS", CFG_BOOL,
         &c->no_shared_subs, 0, 0,
         "Refuse shared subscriptions ($share/{name}/{filter}): SUBACK 0x9E (3.1.1: 0x80), and a 5.0 "
         "CONNACK says Shared Subscription Available 0. On by default (README \"Shared subscriptions\")."},
        {"http-bind", "ROOST_HTTP_BIND", CFG_STR, &c->http_bind, 0, 0,
         "Address of the /healthz and /metrics endpoint."},
        {"http-port", "ROOST_HTTP_PORT", CFG_INT, &c->http_port, 0, 65535,
         "Port of /healthz and /metrics (0: off)."},
        {"drain-delay-ms", "ROOST_DRAIN_DELAY_MS", CFG_INT, &c->drain_delay_ms, 0, 600000,
         "Cluster mode: on SIGTERM the broker stops accepting, answers /healthz 503 'draining' and keeps "
         "serving its connections this long, so the load balancer's health check notices first "
         "(match its check interval); then it closes them. A second signal ends the wait."},
        {"log-level", "ROOST_LOG_LEVEL", CFG_STR, &c->log_level, 0, 0,
         "debug, info, warn or error."},
    };
    redis_conf_init(&c->redis, "");
    int rc = redis_conf_parse(&c->redis, REDIS_CONF_OPTIONAL | REDIS_CONF_REQUIRE_AUTH | REDIS_CONF_WAIT,
                              "Redis HOST:PORT. Set: cluster mode (membership, bus, persistent sessions and "
                              "retained messages in Redis). Empty: a single node keeping state in memory.",
                              opts, (int)(sizeof(opts) / sizeof(opts[0])), argc, argv,
                              "roost-broker: the Roost MQTT broker (MQTT 3.1.1 and 5.0).\n\n"
                              "Usage: roost-broker [options]",
                              out, err);
    if (rc != CFG_RUN)
        return rc;
    if (c->tls_key_secret[0]) {
        if (seal_key_parse(c->tls_key_secret, c->tls_seal) < 0) {
            fprintf(err, "roost-broker: --tls-key-secret: not 64 hex or 43 base64url characters, nor a file holding them\n");
            return ROOST_ECONFIG;
        }
        c->has_tls_seal = true;
    }
    size_t bad = 0;
    if (cidr_list_parse(c->proxy_trusted, &c->proxy_trusted_list, &bad) < 0) {
        fprintf(err, "roost-broker: --proxy-trusted: not an address or CIDR at \"%s\"\n", c->proxy_trusted + bad);
        return ROOST_ECONFIG;
    }
    if (c->proxy_trusted_list.n && !c->proxy_protocol) {
        fprintf(err, "roost-broker: --proxy-trusted needs --proxy-protocol\n");
        return ROOST_ECONFIG;
    }
    if (cidr_list_parse(c->ws_trusted_proxies, &c->ws_trusted_proxies_list, &bad) < 0) {
        fprintf(err, "roost-broker: --ws-trusted-proxies: not an address or CIDR at \"%s\"\n",
                c->ws_trusted_proxies + bad);
        return ROOST_ECONFIG;
    }
    if (c->ws_path[0] != '/') {
        fprintf(err, "roost-broker: --ws-path must start with '/', got \"%s\"\n", c->ws_path);
        return ROOST_ECONFIG;
    }
    return CFG_RUN;
}

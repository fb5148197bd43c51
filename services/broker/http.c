#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "shared.h"
#include "base/proc.h"
#include "authc.h"
#include "cluster.h"
#include "mqtt/subtrie.h"
#include "store/sstore.h"

#define REQ_MAX 4096
#define REQ_DEADLINE_MS 5000

typedef struct req {
    http_t *h;
    int fd;
    size_t len;
    uint64_t deadline;
    struct req *next;
    char buf[REQ_MAX];
} req_t;

struct http {
    broker_t *b;
    int fd;
    req_t *reqs;
    uint64_t timer;
};

static void req_free(req_t *r)
{
    http_t *h = r->h;
    for (req_t **p = &h->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    loop_del_fd(h->b->loop, r->fd);
    close(r->fd);
    free(r);
}

static int metrics(const broker_t *b, char *out, size_t cap)
{
    int n = proc_metrics_text(out, cap, "broker", b->started_ms);
    if (n < 0 || (size_t)n >= cap)
        return n;
    out += n;
    cap -= (size_t)n;
    const broker_stats_t *s = &b->stats;
    int m = snprintf(out, cap,
        "# HELP roost_broker_connections Open client connections.\n"
        "# TYPE roost_broker_connections gauge\nroost_broker_connections %u\n"
        "# HELP roost_broker_connections_total Connections accepted since start.\n"
        "# TYPE roost_broker_connections_total counter\nroost_broker_connections_total %llu\n"
        "# HELP roost_broker_sessions Sessions held in memory.\n"
        "# TYPE roost_broker_sessions gauge\nroost_broker_sessions %zu\n"
        "# HELP roost_broker_subscriptions Local (filter, session) subscriptions.\n"
        "# TYPE roost_broker_subscriptions gauge\nroost_broker_subscriptions %zu\n"
        "# HELP roost_broker_retained Retained messages held.\n"
        "# TYPE roost_broker_retained gauge\nroost_broker_retained %zu\n"
        "# HELP roost_broker_messages_received_total PUBLISH packets received from clients.\n"
        "# TYPE roost_broker_messages_received_total counter\nroost_broker_messages_received_total %llu\n"
        "# HELP roost_broker_messages_sent_total PUBLISH packets sent to clients.\n"
        "# TYPE roost_broker_messages_sent_total counter\nroost_broker_messages_sent_total %llu\n"
        "# HELP roost_broker_dropped_total Messages dropped, by reason.\n"
        "# TYPE roost_broker_dropped_total counter\n"
        "roost_broker_dropped_total{reason=\"slow_subscriber_qos0\"} %llu\n"
        "roost_broker_dropped_total{reason=\"queue_full\"} %llu\n"
        "roost_broker_dropped_total{reason=\"retained_limit\"} %llu\n"
        "roost_broker_dropped_total{reason=\"over_client_max_packet\"} %llu\n"
        "roost_broker_dropped_total{reason=\"bus_out_of_memory\"} %llu\n"
        "roost_broker_dropped_total{reason=\"pipeline_queue_full\"} %llu\n"
        "# HELP roost_broker_pipeline_appends_total Messages appended to pipeline queues (one per pipeline).\n"
        "# TYPE roost_broker_pipeline_appends_total counter\nroost_broker_pipeline_appends_total %llu\n"
        "# HELP roost_broker_denied_total Operations refused by the ACL.\n"
        "# TYPE roost_broker_denied_total counter\n"
        "roost_broker_denied_total{op=\"publish\"} %llu\n"
        "roost_broker_denied_total{op=\"subscribe\"} %llu\n"
        "# HELP roost_broker_protocol_errors_total Connections closed for protocol errors.\n"
        "# TYPE roost_broker_protocol_errors_total counter\nroost_broker_protocol_errors_total %llu\n"
        "# HELP roost_broker_store_failures_total Redis writes that failed.\n"
        "# TYPE roost_broker_store_failures_total counter\nroost_broker_store_failures_total %llu\n"
        "# HELP roost_broker_bus_frames_total Cluster bus data frames (batches), by direction.\n"
        "# TYPE roost_broker_bus_frames_total counter\n"
        "roost_broker_bus_frames_total{direction=\"out\"} %llu\n"
        "roost_broker_bus_frames_total{direction=\"in\"} %llu\n"
        "# HELP roost_broker_bus_messages_total Messages carried in cluster bus data frames, by direction.\n"
        "# TYPE roost_broker_bus_messages_total counter\n"
        "roost_broker_bus_messages_total{direction=\"out\"} %llu\n"
        "roost_broker_bus_messages_total{direction=\"in\"} %llu\n"
        "# HELP roost_broker_bus_malformed_total Malformed entries in cluster bus frames (dropped, logged).\n"
        "# TYPE roost_broker_bus_malformed_total counter\nroost_broker_bus_malformed_total %llu\n"
        "# HELP roost_broker_connack_total CONNACKs sent, by MQTT 3.1.1 return code (0 accepted).\n"
        "# TYPE roost_broker_connack_total counter\n"
        "roost_broker_connack_total{code=\"0\"} %llu\nroost_broker_connack_total{code=\"1\"} %llu\n"
        "roost_broker_connack_total{code=\"2\"} %llu\nroost_broker_connack_total{code=\"3\"} %llu\n"
        "roost_broker_connack_total{code=\"4\"} %llu\nroost_broker_connack_total{code=\"5\"} %llu\n"
        "# HELP roost_broker_queued_total QoS 1/2 messages put in a session queue.\n"
        "# TYPE roost_broker_queued_total counter\nroost_broker_queued_total %llu\n"
        "# HELP roost_broker_rate_limited_total Times a connection's reads were held by --max-msg-rate/--max-byte-rate.\n"
        "# TYPE roost_broker_rate_limited_total counter\nroost_broker_rate_limited_total %llu\n"
        "# HELP roost_broker_write_backpressure_total Times a connection's reads were paused because it had "
        "PIPE_PENDING_MAX durable writes in flight.\n"
        "# TYPE roost_broker_write_backpressure_total counter\nroost_broker_write_backpressure_total %llu\n"
        "# HELP roost_broker_draining 1 while the broker drains (SIGTERM), else 0.\n"
        "# TYPE roost_broker_draining gauge\nroost_broker_draining %d\n",
        b->nconns, (unsigned long long)s->connections_total, b->sessions.count,
        subtrie_count(b->trie), topictree_count(b->retained), (unsigned long long)s->msgs_in,
        (unsigned long long)s->msgs_out, (unsigned long long)s->dropped_qos0,
        (unsigned long long)s->dropped_queue, (unsigned long long)s->dropped_retained,
        (unsigned long long)s->dropped_too_large,
        (unsigned long long)s->bus_dropped, (unsigned long long)s->pipeline_dropped,
        (unsigned long long)s->pipeline_appends, (unsigned long long)s->denied_publish, (unsigned long long)s->denied_subscribe,
        (unsigned long long)s->protocol_errors, (unsigned long long)s->store_failures,
        (unsigned long long)s->bus_frames_out, (unsigned long long)s->bus_frames_in,
        (unsigned long long)s->bus_msgs_out, (unsigned long long)s->bus_msgs_in,
        (unsigned long long)s->bus_malformed, (unsigned long long)s->connack[0],
        (unsigned long long)s->connack[1], (unsigned long long)s->connack[2],
        (unsigned long long)s->connack[3], (unsigned long long)s->connack[4],
        (unsigned long long)s->connack[5], (unsigned long long)s->queued, (unsigned long long)s->rate_limited,
        (unsigned long long)s->write_backpressure, b->draining ? 1 : 0);
    if (m < 0 || (size_t)m >= cap)
        return m < 0 ? m : n + m;
    int k = shared_metrics(b->shared, out + m, cap - (size_t)m);
    return k < 0 ? k : n + m + k;
}

static void respond(req_t *r)
{
    broker_t *b = r->h->b;
    static char body[256 * 1024]; /* one loop thread; per-member shared series can be many */
    const char *status = "200 OK", *type = "text/plain; charset=utf-8";
    int n;
    if (strncmp(r->buf, "GET /healthz ", 13) == 0 || strncmp(r->buf, "GET /healthz?", 13) == 0) {
        const char *why = b->draining        ? "draining"
                          : b->listen_fd < 0 ? "not listening"
                          : b->cluster && !sstore_connected(cluster_store(b->cluster))
                              ? "redis unreachable"
                          : b->cluster && !cluster_ready(b->cluster)
                              ? "persistent-subscription index not loaded"
                              : NULL;
        if (why)
            status = "503 Service Unavailable";
        /* no authd link: CONNECTs get CONNACK 3 but connected devices work,
         * so the balancer keeps this broker (200) and the body says why */
        else if (b->authc && !authc_linked(b->authc))
            why = "degraded: no authd link (new CONNECTs refused with server unavailable)";
        n = snprintf(body, sizeof(body), "%s\n", why ? why : "ok");
    } else if (strncmp(r->buf, "GET /metrics ", 13) == 0) {
        type = "text/plain; version=0.0.4";
        n = metrics(b, body, sizeof(body));
    } else if (strncmp(r->buf, "GET ", 4) != 0) {
        status = "405 Method Not Allowed";
        n = snprintf(body, sizeof(body), "only GET\n");
    } else {
        status = "404 Not Found";
        n = snprintf(body, sizeof(body), "try /healthz or /metrics\n");
    }
    if (n < 0 || (size_t)n >= sizeof(body))
        n = (int)strlen(body);
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n",
                      status, type, n);
    /* small answers fit the socket buffer of a fresh connection */
    ssize_t w = write(r->fd, head, (size_t)hn);
    if (w == hn)
        w = write(r->fd, body, (size_t)n);
    (void)w;
}

static void on_req(loop_t *l, int fd, unsigned events, void *arg)
{
    req_t *r = arg;
    ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            req_free(r);
        return;
    }
    r->len += (size_t)n;
    r->buf[r->len] = '\0';
    if (strstr(r->buf, "\r\n\r\n") || strstr(r->buf, "\n\n") || r->len == sizeof(r->buf) - 1) {
        respond(r);
        req_free(r);
    }
}

static void on_accept(loop_t *l, int fd, unsigned events, void *arg)
{
    http_t *h = arg;
    for (int i = 0; i < 16; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        req_t *r = calloc(1, sizeof(*r));
        if (!r || loop_add_fd(l, cfd, LOOP_READ, on_req, r) < 0) {
            free(r);
            close(cfd);
            continue;
        }
        r->h = h;
        r->fd = cfd;
        r->deadline = loop_now(l) + REQ_DEADLINE_MS;
        r->next = h->reqs;
        h->reqs = r;
    }
}

static uint64_t on_tick(loop_t *l, void *arg)
{
    http_t *h = arg;
    uint64_t now = loop_now(l);
    for (req_t *r = h->reqs, *next; r; r = next) {
        next = r->next;
        if (r->deadline <= now)
            req_free(r);
    }
    return 1000;
}

http_t *http_new(broker_t *b, const char *bind_addr, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    char ps[8];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(bind_addr, ps, &hints, &ai) != 0) {
        log_error("http_listen_failed", "bind=%s reason=\"bad address\"", bind_addr);
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        log_error("http_listen_failed", "bind=%s port=%d reason=\"%s\"", bind_addr, port,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    http_t *h = calloc(1, sizeof(*h));
    if (!h || loop_add_fd(b->loop, fd, LOOP_READ, on_accept, h) < 0) {
        free(h);
        close(fd);
        return NULL;
    }
    h->b = b;
    h->fd = fd;
    h->timer = loop_add_timer(b->loop, 1000, on_tick, h);
    log_info("http_listening", "bind=%s port=%d paths=/healthz,/metrics", bind_addr, port);
    return h;
}

void http_destroy(http_t **hp)
{
    http_t *h = *hp;
    if (!h)
        return;
    *hp = NULL;
    while (h->reqs)
        req_free(h->reqs);
    loop_del_timer(h->b->loop, h->timer);
    loop_del_fd(h->b->loop, h->fd);
    close(h->fd);
    free(h);
}

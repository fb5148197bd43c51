/* http: the HTTP API, health, metrics and console files (http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "hdrwatch.h"

struct http {
    struct MHD_Daemon *d;
    ops_t *ops;
    metrics_t *metrics;
    char *console_dir;
    char *vendor_dir;
    hdrwatch_t *watch;  /* the header timeout */
};

typedef struct req {
    buf_t body;
    bool too_big;
    double t0;
} req_t;

/* A matched API route. */
typedef struct route {
    rpc_admin_op_t op;
    const char *tmpl; /* static: metrics label */
    const char *id;   /* in the request's URL (an MQTT client id may be 64 KiB), or NULL */
} route_t;

/* Every response: no framing by other sites, scripts and everything else
 * only from the console's own origin (index.html has no inline script;
 * inline styles stay allowed for chart libraries that set them). */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static void security_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *static_method(const char *m)
{
    static const char *const KNOWN[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(KNOWN) / sizeof(KNOWN[0]); i++)
        if (!strcmp(m, KNOWN[i]))
            return KNOWN[i];
    return "OTHER";
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, const char *type, const void *data,
                                size_t len, bool bearer_challenge)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    security_headers(resp);
    if (bearer_challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"roost-admin\"");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Sends res (JSON or empty for 204) and records metrics; frees res->doc. */
static enum MHD_Result send_res(http_t *h, struct MHD_Connection *conn, const req_t *r, const char *route,
                                const char *method, ops_res_t *res)
{
    char *txt = res->doc ? json_dumps(res->doc, JSON_COMPACT) : NULL;
    json_decref(res->doc);
    res->doc = NULL;
    enum MHD_Result rc = send_buf(conn, res->status, txt ? "application/json" : NULL, txt ? txt : "",
                                  txt ? strlen(txt) : 0, res->status == 401);
    free(txt);
    metrics_observe(h->metrics, "http", route, method, res->status, now_s() - r->t0);
    return rc;
}

/* ---- routing ------------------------------------------------------------ */

typedef struct coll {
    const char *path;   /* "/api/v1/clients" */
    const char *tmpl_item;
    rpc_admin_op_t list, create, get, update, del;
    bool rest_is_id;    /* the id is the whole rest of the path (MQTT client ids may hold '/') */
} coll_t;

static const coll_t COLLS[] = {
    {"/api/v1/clients", "/api/v1/clients/{id}", RPC_ADMIN_CLIENT_LIST, RPC_ADMIN_CLIENT_CREATE,
     RPC_ADMIN_CLIENT_GET, RPC_ADMIN_CLIENT_UPDATE, RPC_ADMIN_CLIENT_DELETE, false},
    {"/api/v1/groups", "/api/v1/groups/{id}", RPC_ADMIN_GROUP_LIST, RPC_ADMIN_GROUP_CREATE,
     RPC_ADMIN_GROUP_GET, RPC_ADMIN_GROUP_UPDATE, RPC_ADMIN_GROUP_DELETE, false},
    {"/api/v1/group-rules", "/api/v1/group-rules/{id}", RPC_ADMIN_RULE_LIST, RPC_ADMIN_RULE_CREATE,
     RPC_ADMIN_RULE_GET, RPC_ADMIN_RULE_UPDATE, RPC_ADMIN_RULE_DELETE, false},
    {"/api/v1/connections", "/api/v1/connections/{mqtt_client_id}", RPC_ADMIN_CONNECTION_LIST, 0, 0, 0,
     RPC_ADMIN_CONNECTION_KICK, true},
    {"/api/v1/tokens", "/api/v1/tokens/{id}", RPC_ADMIN_TOKEN_LIST, RPC_ADMIN_TOKEN_CREATE, 0, 0,
     RPC_ADMIN_TOKEN_REVOKE, false},
    {"/api/v1/pipelines", "/api/v1/pipelines/{id}", RPC_ADMIN_PIPELINE_LIST, RPC_ADMIN_PIPELINE_CREATE,
     RPC_ADMIN_PIPELINE_GET, RPC_ADMIN_PIPELINE_UPDATE, RPC_ADMIN_PIPELINE_DELETE, false},
    {"/api/v1/topic-mappings", "/api/v1/topic-mappings/{id}", RPC_ADMIN_MAPPING_LIST, RPC_ADMIN_MAPPING_CREATE,
     RPC_ADMIN_MAPPING_GET, RPC_ADMIN_MAPPING_UPDATE, RPC_ADMIN_MAPPING_DELETE, false},
    {"/api/v1/audit", NULL, RPC_ADMIN_AUDIT_LIST, 0, 0, 0, 0, false},
    {"/api/v1/explain", NULL, 0, RPC_ADMIN_EXPLAIN, 0, 0, 0, false},
    /* one document: GET reads it, PUT replaces it (update on a collection without items) */
    {"/api/v1/certificates", NULL, RPC_ADMIN_CERTIFICATES_GET, 0, 0, RPC_ADMIN_CERTIFICATES_PUT, 0, false},
    {"/api/v1/overview", NULL, RPC_ADMIN_OVERVIEW, 0, 0, 0, 0, false},
    {"/api/v1/instances", "/api/v1/instances/{kind}:{id}", RPC_ADMIN_INSTANCE_LIST, 0, RPC_ADMIN_INSTANCE_GET, 0,
     0, true},
    {"/api/v1/bans", "/api/v1/bans/{kind}:{value}", RPC_ADMIN_BAN_LIST, RPC_ADMIN_BAN_CREATE, 0, 0,
     RPC_ADMIN_BAN_DELETE, true},
};

/* 0: matched (rt filled); 404: no such path; 405: path known, method not. */
static unsigned route(const char *url, const char *method, route_t *rt)
{
    for (size_t i = 0; i < sizeof(COLLS) / sizeof(COLLS[0]); i++) {
        const coll_t *c = &COLLS[i];
        size_t n = strlen(c->path);
        if (strncmp(url, c->path, n))
            continue;
        const char *rest = url + n;
        rpc_admin_op_t op = 0;
        if (!strcmp(rest, "") || !strcmp(rest, "/")) {
            rt->tmpl = c->path;
            op = !strcmp(method, "GET")                    ? c->list
                 : !strcmp(method, "POST")                 ? c->create
                 : !strcmp(method, "PUT") && !c->tmpl_item ? c->update
                                                           : 0;
        } else if (rest[0] == '/' && c->tmpl_item && (c->rest_is_id || !strchr(rest + 1, '/'))) {
            rt->tmpl = c->tmpl_item;
            rt->id = rest + 1;
            op = !strcmp(method, "GET")     ? c->get
                 : !strcmp(method, "PATCH") ? c->update
                 : !strcmp(method, "DELETE") ? c->del
                                             : 0;
        } else {
            continue;
        }
        rt->op = op;
        return op ? 0 : 405;
    }
    return 404;
}

static const char *bearer(struct MHD_Connection *conn)
{
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7))
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

/* ?limit=: absent 0 (default), a number 1..1000, anything else -1 (400). */
static int64_t query_limit(struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long l = strtoll(v, &end, 10);
    return errno || end == v || *end || l < 1 || l > 1000 ? -1 : l;
}

static enum MHD_Result api(http_t *h, struct MHD_Connection *conn, const char *url, const char *method,
                           req_t *r)
{
    const char *m = static_method(method);
    route_t rt = {.tmpl = "/api/other"};
    unsigned miss = route(url, method, &rt);
    ops_res_t res = {0};
    ops_actor_t actor;
    if (ops_authenticate(h->ops, bearer(conn), &actor, &res) < 0)
        return send_res(h, conn, r, rt.tmpl, m, &res);
    if (r->too_big) {
        ops_error(&res, 413, "the request body is larger than 64 KiB");
    } else if (miss) {
        ops_error(&res, miss, miss == 404 ? "no such API route" : "method not allowed on this route");
    } else {
        ops_req_t q = {
            .op = rt.op,
            .id = rt.id && rt.id[0] ? rt.id : NULL,
            .cursor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor"),
            .search = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "search"),
            .limit = query_limit(conn),
            .body = (const char *)r->body.data,
            .body_len = r->body.len,
        };
        ops_call(h->ops, &actor, &q, &res);
    }
    if (res.status >= 500)
        log_warn("http_error", "method=%s route=%s status=%u", m, rt.tmpl, res.status);
    return send_res(h, conn, r, rt.tmpl, m, &res);
}

/* ---- health, metrics, console ---------------------------------------------- */

static enum MHD_Result healthz(http_t *h, struct MHD_Connection *conn, const req_t *r)
{
    ops_res_t res = {200, NULL};
    /* ready once a token can be used: a client that waits for 200 and then
     * calls the API with ROOST_ADMIN_TOKEN must not race the bootstrap */
    if (!ops_tokens_ready(h->ops))
        ops_error(&res, 503, "starting: the bootstrap token is not stored yet");
    else if (ops_health(h->ops))
        res.doc = json_pack("{s:s}", "status", "ok");
    else
        ops_error(&res, 503, "the store (Redis) is unavailable");
    return send_res(h, conn, r, "/healthz", "GET", &res);
}

static enum MHD_Result metrics_page(http_t *h, struct MHD_Connection *conn, const req_t *r)
{
    metrics_observe(h->metrics, "http", "/metrics", "GET", 200, now_s() - r->t0);
    buf_t b;
    buf_init(&b);
    int rc = metrics_render(h->metrics, &b);
    enum MHD_Result res = rc ? send_buf(conn, 500, "text/plain", "out of memory\n", 14, false)
                             : send_buf(conn, 200, "text/plain; version=0.0.4", b.data ? (char *)b.data : "",
                                        b.len, false);
    buf_fini(&b);
    return res;
}

static const char *content_type(const char *path)
{
    static const char *const TYPES[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
        if (!strcasecmp(dot, TYPES[i][0]))
            return TYPES[i][1];
    return "application/octet-stream";
}

static enum MHD_Result console_file(http_t *h, struct MHD_Connection *conn, const char *url, const char *method,
                                    const req_t *r)
{
    ops_res_t res = {0};
    char path[4096];
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        ops_error(&res, 405, "method not allowed");
        return send_res(h, conn, r, "/console", static_method(method), &res);
    }
    /* an empty URL ("GET ?x") is refused before its last byte is looked at */
    bool bad = url[0] != '/' || strstr(url, "/.") || strchr(url, '\\');
    int fd = -1;
    if (!bad) {
        /* /vendor/: third-party files the build fetched (uPlot), kept apart from
         * the console's own sources */
        if (!strncmp(url, "/vendor/", 8))
            snprintf(path, sizeof(path), "%s%s", h->vendor_dir, url + 7);
        else
            snprintf(path, sizeof(path), "%s%s%s", h->console_dir, url, url[strlen(url) - 1] == '/' ? "index.html" : "");
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        ops_error(&res, 404, "not found");
        return send_res(h, conn, r, "/console", "GET", &res);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(path));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    security_headers(resp);
    enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    metrics_observe(h->metrics, "http", "/console", "GET", 200, now_s() - r->t0);
    return rc;
}

/* ---- libmicrohttpd glue ------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    http_t *h = cls;
    req_t *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        buf_init(&r->body);
        r->t0 = now_s();
        *con_cls = r;
        hdrwatch_headers_done(h->watch, conn);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_big && r->body.len + *upload_data_size > OPS_BODY_MAX) {
            r->too_big = true;
            buf_fini(&r->body);
        } else if (!r->too_big && buf_append(&r->body, upload_data, *upload_data_size) < 0) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/healthz"))
        return healthz(h, conn, r);
    if (!strcmp(url, "/metrics"))
        return metrics_page(h, conn, r);
    if (!strncmp(url, "/api/", 5) || !strcmp(url, "/api"))
        return api(h, conn, url, method, r);
    return console_file(h, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_t *h = cls;
    hdrwatch_request_done(h->watch, conn);
    req_t *r = *con_cls;
    if (r) {
        buf_fini(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

int http_start(const http_config_t *cfg, ops_t *ops, metrics_t *metrics, http_t **out)
{
    *out = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1)
        return ROOST_ECONFIG;
    http_t *h = calloc(1, sizeof(*h));
    if (!h || !(h->console_dir = strdup(cfg->console_dir)) || !(h->vendor_dir = strdup(cfg->vendor_dir))) {
        if (h)
            free(h->console_dir);
        free(h);
        return -ENOMEM;
    }
    h->ops = ops;
    h->metrics = metrics;
    if (!(h->watch = hdrwatch_new(cfg->header_timeout_s > 0 ? cfg->header_timeout_s : 10))) {
        free(h->console_dir);
        free(h->vendor_dir);
        free(h);
        return -ENOMEM;
    }
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG,
                            (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cfg->threads > 0 ? cfg->threads : 4),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->timeout_s > 0 ? cfg->timeout_s : 5),
                            MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            (unsigned)(cfg->per_address > 0 ? cfg->per_address : 32),
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
                            hdrwatch_notify, h->watch, MHD_OPTION_END);
    if (!h->d) {
        hdrwatch_destroy(&h->watch);
        free(h->console_dir);
        free(h->vendor_dir);
        free(h);
        return -EADDRINUSE;
    }
    *out = h;
    return 0;
}

void http_stop(http_t **hp)
{
    if (!hp || !*hp)
        return;
    MHD_stop_daemon((*hp)->d);
    hdrwatch_destroy(&(*hp)->watch);
    free((*hp)->console_dir);
    free((*hp)->vendor_dir);
    free(*hp);
    *hp = NULL;
}

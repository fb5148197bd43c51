/* probe: /healthz and /metrics (probe.h). */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "base/err.h"

struct probe {
    const char *bind;
    int port;
    probe_health_fn health;
    probe_render_fn render;
    void *arg;
    struct MHD_Daemon *d;
};

probe_t *probe_new(const char *bind, int port, probe_health_fn health, probe_render_fn render, void *arg)
{
    probe_t *h = calloc(1, sizeof(*h));
    if (h)
        *h = (probe_t){.bind = bind, .port = port, .health = health, .render = render, .arg = arg};
    return h;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, const void *body,
                               size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    probe_t *h = cls;
    static const char *const text = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "method not allowed\n", 19);
    if (!strcmp(url, "/healthz")) {
        if (h->health(h->arg) == 0)
            return respond(c, MHD_HTTP_OK, text, "ok\n", 3);
        return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, "unavailable\n", 12);
    }
    if (!strcmp(url, "/metrics")) {
        buf_t b;
        buf_init(&b);
        enum MHD_Result ret;
        if (h->render(h->arg, &b))
            ret = respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "error\n", 6);
        else
            ret = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf_head(&b), buf_unread(&b));
        buf_fini(&b);
        return ret;
    }
    return respond(c, MHD_HTTP_NOT_FOUND, text, "not found\n", 10);
}

int probe_start(probe_t *h)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    if (inet_pton(AF_INET, h->bind, &sa.sin_addr) != 1)
        return ROOST_ECONFIG;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)h->port, NULL, NULL, handle, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)10, MHD_OPTION_END);
    return h->d ? 0 : -EADDRINUSE;
}

void probe_destroy(probe_t **hp)
{
    probe_t *h = *hp;
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h);
    *hp = NULL;
}

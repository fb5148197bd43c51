/* http: /healthz and /metrics (http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

struct fhttp {
    struct MHD_Daemon *d;
    fwd_t *f;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const void *body,
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

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    fhttp_t *h = cls;
    const char *plain = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, plain, "method not allowed\n", 19);
    if (!strcmp(url, "/healthz"))
        return fwd_healthy(h->f) ? reply(c, MHD_HTTP_OK, plain, "ok\n", 3)
                                 : reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, plain, "unavailable\n", 12);
    if (strcmp(url, "/metrics"))
        return reply(c, MHD_HTTP_NOT_FOUND, plain, "not found\n", 10);
    buf_t b;
    buf_init(&b);
    enum MHD_Result ret = fwd_metrics(h->f, &b) < 0
                              ? reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, plain, "out of memory\n", 14)
                              : reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf_head(&b), buf_unread(&b));
    buf_fini(&b);
    return ret;
}

fhttp_t *fhttp_start(const char *bind, int port, fwd_t *f, int *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        *err = ROOST_ECONFIG;
        return NULL;
    }
    fhttp_t *h = calloc(1, sizeof(*h));
    if (!h) {
        *err = -ENOMEM;
        return NULL;
    }
    h->f = f;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, serve, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_END);
    if (!h->d) {
        free(h);
        *err = -EADDRINUSE;
        return NULL;
    }
    return h;
}

void fhttp_stop(fhttp_t **hp)
{
    if (!hp || !*hp)
        return;
    MHD_stop_daemon((*hp)->d);
    free(*hp);
    *hp = NULL;
}

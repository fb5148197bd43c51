/* roost-authd-probe: a test client for roost-authd (tests/integration/
 * test_30_authd.py). Sends every request given on the command line through
 * one DEALER (lib/rpc), then prints one JSON line per reply in arrival order,
 * and {"request_id":N,"status":"timeout"} for requests not answered in time.
 *
 *   roost-authd-probe --connect EP [--timeout-ms 5000] [--curve-server KEY]
 *       [--curve-client-secret KEY (default: an ephemeral pair)]
 *       --req [--id N] [--username U | (none: anonymous)] [--password P]
 *             [--client-id C] [--peer ADDR] [--deadline-ms REL (default 5000)]
 *       --req ...
 *   roost-authd-probe --raw HEX --connect EP   sends an arbitrary body
 *   roost-authd-probe --publish EP [--kind client|group|rule|all]
 *       [--username U]   binds a PUB and sends a ChangeEvent for ~1 s
 *
 * Exit status: 0 when every request got a reply, 1 on timeouts, 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "base/loop.h"
#include "rpc/curve.h"
#include "rpc/rpc.h"

#define MAX_REQ 64

typedef struct probe_req {
    rpc_auth_request_t r;
    long long deadline_rel;
    bool answered;
    uint64_t sent_ms;
} probe_req_t;

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_reply(const rpc_auth_reply_t *r, uint64_t elapsed)
{
    printf("{\"request_id\":%llu,\"status\":\"%s\",\"client_id\":", (unsigned long long)r->request_id,
           rpc_auth_status_name(r->status));
    json_str(r->client_id);
    printf(",\"client_name\":");
    json_str(r->client_name);
    printf(",\"groups\":[");
    for (size_t i = 0; i < r->n_groups; i++) {
        printf(i ? "," : "");
        json_str(r->groups[i]);
    }
    printf("],\"acl\":[");
    for (size_t i = 0; i < r->n_acl; i++) {
        printf("%s{\"permission\":\"%s\",\"action\":\"%s\",\"topic\":", i ? "," : "",
               rpc_acl_permission_name(r->acl[i].permission), rpc_acl_action_name(r->acl[i].action));
        json_str(r->acl[i].topic);
        printf("}");
    }
    printf("],\"config_version\":%llu,\"elapsed_ms\":%llu}\n", (unsigned long long)r->config_version,
           (unsigned long long)elapsed);
    fflush(stdout);
}

static int usage(const char *msg)
{
    fprintf(stderr, "roost-authd-probe: %s (see the header of probe.c)\n", msg);
    return 2;
}

static int send_raw(void *dealer, const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        sscanf(hex + 2 * i, "%2hhx", &b[i]);
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    int rc = zmq_send(dealer, b, n, 0);
    free(b);
    return rc < 0 ? -1 : 0;
}

static int publish(const char *ep, const char *kind, const char *username)
{
    rpc_change_event_t e = {.kind = RPC_CHANGE_CLIENT, .op = RPC_CHANGE_UPDATE, .object_id = "probe",
                            .username = username, .version = 1, .time_ms = rpc_unix_ms()};
    if (!strcmp(kind, "group"))
        e.kind = RPC_CHANGE_GROUP;
    else if (!strcmp(kind, "rule"))
        e.kind = RPC_CHANGE_RULE;
    else if (!strcmp(kind, "all"))
        e.kind = RPC_CHANGE_ALL;
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0, rc = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(pub, ep))
        rc = usage("cannot bind");
    /* PUB/SUB joins late: repeat so at least one event arrives. */
    for (int i = 0; !rc && i < 20; i++) {
        rpc_change_event_send(pub, &e);
        zmq_poll(NULL, 0, 50);
    }
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--publish")) {
        const char *kind = "client", *user = "";
        for (int i = 3; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--kind"))
                kind = argv[i + 1];
            else if (!strcmp(argv[i], "--username"))
                user = argv[i + 1];
        }
        return publish(argv[2], kind, user);
    }
    static probe_req_t reqs[MAX_REQ];
    int n = 0;
    const char *ep = NULL, *curve = NULL, *curve_secret = NULL, *raw = NULL;
    long long timeout = 5000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        probe_req_t *cur = n ? &reqs[n - 1] : NULL;
        if (!strcmp(a, "--req")) {
            if (n == MAX_REQ)
                return usage("too many requests");
            reqs[n] = (probe_req_t){.deadline_rel = 5000};
            reqs[n].r = (rpc_auth_request_t){.request_id = (uint64_t)n + 1, .broker_id = "probe",
                                              .client_id = "probe", .peer = "127.0.0.1:1", .protocol_version = 4};
            n++;
            continue;
        }
        if (!v)
            return usage("missing value");
        i++;
        if (!strcmp(a, "--connect")) ep = v;
        else if (!strcmp(a, "--timeout-ms")) timeout = atoll(v);
        else if (!strcmp(a, "--curve-server")) curve = v;
        else if (!strcmp(a, "--curve-client-secret")) curve_secret = v;
        else if (!strcmp(a, "--raw")) raw = v;
        else if (!cur) return usage("request option before --req");
        else if (!strcmp(a, "--id")) cur->r.request_id = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--username")) cur->r.username = v;
        else if (!strcmp(a, "--password")) {
            cur->r.password = (const uint8_t *)v;
            cur->r.password_len = strlen(v);
            cur->r.has_password = true;
        } else if (!strcmp(a, "--client-id")) cur->r.client_id = v;
        else if (!strcmp(a, "--peer")) cur->r.peer = v;
        else if (!strcmp(a, "--deadline-ms")) cur->deadline_rel = atoll(v);
        else return usage("unknown option");
    }
    if (!ep || (!n && !raw))
        return usage("need --connect and at least one --req");
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
    if (rpc_curve_client(dealer, curve, curve_secret) < 0 || zmq_connect(dealer, ep))
        return usage("cannot connect");
    uint64_t start = loop_clock_ms();
    int expected = n, rc;
    if (raw) {
        send_raw(dealer, raw);
        expected++;
    }
    for (int i = 0; i < n; i++) {
        reqs[i].r.deadline_ms = (uint64_t)((long long)rpc_unix_ms() + reqs[i].deadline_rel);
        reqs[i].sent_ms = loop_clock_ms();
        /* The first sends may meet a not-yet-connected pipe: retry briefly. */
        while ((rc = rpc_auth_request_send(dealer, &reqs[i].r)) == -EAGAIN && loop_clock_ms() - start < 2000)
            zmq_poll(NULL, 0, 5);
        if (rc)
            fprintf(stderr, "send failed: %d\n", rc);
    }
    int got = 0;
    while (got < expected) {
        long long left = timeout - (long long)(loop_clock_ms() - start);
        zmq_pollitem_t it = {.socket = dealer, .events = ZMQ_POLLIN};
        if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0)
            break;
        rpc_auth_reply_t r;
        while ((rc = rpc_auth_reply_recv(dealer, &r)) != -EAGAIN) {
            if (rc) {
                printf("{\"status\":\"malformed\",\"rc\":%d}\n", rc);
                continue;
            }
            got++;
            uint64_t elapsed = loop_clock_ms() - start;
            for (int i = 0; i < n; i++)
                if (reqs[i].r.request_id == r.request_id && !reqs[i].answered) {
                    reqs[i].answered = true;
                    elapsed = loop_clock_ms() - reqs[i].sent_ms;
                    break;
                }
            print_reply(&r, elapsed);
            rpc_auth_reply_fini(&r);
        }
    }
    for (int i = 0; i < n; i++)
        if (!reqs[i].answered)
            printf("{\"request_id\":%llu,\"status\":\"timeout\"}\n", (unsigned long long)reqs[i].r.request_id);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    return got == expected ? 0 : 1;
}

/* rpc_status: `roostctl status` as text: the overview document admin
 * serves at /api/v1/overview, without its history. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static long long num(const json_t *o, const char *k)
{
    return (long long)json_number_value(json_object_get(o, k));
}

static void kind_line(const json_t *cluster, const char *kind, const char *title)
{
    const json_t *k = json_object_get(cluster, kind);
    printf("%-12s %lld up, %lld draining, %lld down\n", title, num(k, "up"), num(k, "draining"), num(k, "down"));
}

/* A figure that may be null (unknown). */
static void cell(char *buf, size_t cap, const json_t *v, const char *fmt, double scale)
{
    if (json_is_number(v))
        snprintf(buf, cap, fmt, json_number_value(v) * scale);
    else
        snprintf(buf, cap, "-");
}

static void uptime(char *buf, size_t cap, const json_t *v)
{
    if (!json_is_integer(v)) {
        snprintf(buf, cap, "-");
        return;
    }
    long long s = (long long)json_integer_value(v);
    if (s >= 86400)
        snprintf(buf, cap, "%lldd%lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(buf, cap, "%lldh%lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, cap, "%lldm%llds", s / 60, s % 60);
}

void ctl_status_print(const json_t *doc)
{
    const json_t *cluster = json_object_get(doc, "cluster"), *now = json_object_get(doc, "now");
    size_t i;
    json_t *e;
    printf("%-12s %s\n", "redis", json_string_value(json_object_get(cluster, "redis")));
    kind_line(cluster, "broker", "brokers");
    kind_line(cluster, "authd", "authd");
    kind_line(cluster, "forwarder", "forwarders");
    json_array_foreach(json_object_get(doc, "endpoints"), i, e)
        printf("%-12s %s (%s)\n", i ? "" : "endpoints", json_string_value(json_object_get(e, "url")),
               json_string_value(json_object_get(e, "transport")));
    printf("%-12s %lld connected; %lld accepted, %lld refused; messages %lld in, %lld out; %lld retained\n",
           "devices", num(now, "connections"), num(now, "connects_accepted_total"),
           num(now, "connects_refused_total"), num(now, "messages_in_total"), num(now, "messages_out_total"),
           num(now, "retained"));
    printf("\n%-8s %-24s %-9s %-8s %-8s %7s %9s %9s %6s %9s\n", "KIND", "ID", "STATE", "VERSION", "UPTIME", "CONNS",
           "IN/S", "OUT/S", "CPU%", "RSS MiB");
    json_array_foreach(json_object_get(doc, "instances"), i, e) {
        char up[48], conns[32], in[32], out[32], cpu[32], rss[32];
        uptime(up, sizeof(up), json_object_get(e, "uptime_s"));
        cell(conns, sizeof(conns), json_object_get(e, "connections"), "%.0f", 1);
        bool broker = !strcmp(json_string_value(json_object_get(e, "kind")), "broker");
        cell(in, sizeof(in), json_object_get(e, broker ? "messages_in" : "auth_requests"), "%.1f", 1);
        cell(out, sizeof(out), json_object_get(e, "messages_out"), "%.1f", 1);
        cell(cpu, sizeof(cpu), json_object_get(e, "cpu_percent"), "%.1f", 1);
        cell(rss, sizeof(rss), json_object_get(e, "rss_bytes"), "%.1f", 1.0 / (1024 * 1024));
        const char *ver = json_string_value(json_object_get(e, "version"));
        printf("%-8s %-24.24s %-9s %-8s %-8s %7s %9s %9s %6s %9s\n", json_string_value(json_object_get(e, "kind")),
               json_string_value(json_object_get(e, "id")), json_string_value(json_object_get(e, "state")),
               ver ? ver : "-", up, conns, in, out, cpu, rss);
    }
}

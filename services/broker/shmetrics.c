/* The figures of shared subscriptions (shared.h) on /metrics. */
#include <stdio.h>

#include "session.h"
#include "shared.h"
#include "shgroup.h"

/* A label value, escaped as the Prometheus text format asks (\\, \", \n). */
static void label(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < cap; i++) {
        char ch = s[i];
        if (ch == '\\' || ch == '"') {
            out[k++] = '\\';
            out[k++] = ch;
        } else if (ch == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else {
            out[k++] = ch;
        }
    }
    out[k] = '\0';
}

#define PUT(...)                                                  \
    do {                                                          \
        int w_ = snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__); \
        if (w_ < 0)                                               \
            return w_;                                            \
        n += (size_t)w_;                                          \
    } while (0)

int shared_metrics(const shared_t *sh, char *out, size_t cap)
{
    size_t n = 0;
    uint64_t dropped = sh->dropped_gone;
    size_t it = 0;
    map_entry_t *e;
    while (map_next(&sh->groups, &it, &e))
        dropped += ((shgroup_t *)e->value)->dropped;
    PUT("# HELP roost_broker_shared_groups Shared-subscription groups known here (members here or on peers).\n"
        "# TYPE roost_broker_shared_groups gauge\nroost_broker_shared_groups %zu\n"
        "# HELP roost_broker_shared_pending Shared QoS 1/2 messages this broker published that a peer's "
        "member has not acknowledged yet (held here until it does).\n"
        "# TYPE roost_broker_shared_pending gauge\nroost_broker_shared_pending %zu\n"
        "# HELP roost_broker_shared_unacked Shared QoS 1/2 messages given to members here, not acknowledged yet.\n"
        "# TYPE roost_broker_shared_unacked gauge\nroost_broker_shared_unacked %zu\n"
        "# HELP roost_broker_shared_redispatched_total Shared messages given to another member because theirs "
        "went away (disconnect, session end, dead broker) before acknowledging.\n"
        "# TYPE roost_broker_shared_redispatched_total counter\nroost_broker_shared_redispatched_total %llu\n"
        "# HELP roost_broker_shared_dropped_total Shared messages with no connected member anywhere (dropped).\n"
        "# TYPE roost_broker_shared_dropped_total counter\nroost_broker_shared_dropped_total %llu\n"
        "# HELP roost_broker_shared_malformed_total Malformed shared-subscription frames from peers.\n"
        "# TYPE roost_broker_shared_malformed_total counter\nroost_broker_shared_malformed_total %llu\n",
        sh->groups.count, sh->custody.count, sh->holds.count, (unsigned long long)sh->redispatched,
        (unsigned long long)dropped, (unsigned long long)sh->malformed);
    PUT("# HELP roost_broker_shared_members Members of a shared group connected here.\n"
        "# TYPE roost_broker_shared_members gauge\n");
    char gl[256], fl[512], cl[512];
    for (it = 0; map_next(&sh->groups, &it, &e);) {
        shgroup_t *g = e->value;
        uint32_t online = 0;
        for (uint32_t i = 0; i < g->n; i++)
            online += g->m[i].s->conn != NULL;
        label(gl, sizeof(gl), g->key, g->name_len);
        label(fl, sizeof(fl), g->filter, g->filter_len);
        PUT("roost_broker_shared_members{group=\"%s\",filter=\"%s\"} %u\n", gl, fl, online);
    }
    PUT("# HELP roost_broker_shared_messages_total Shared messages published here or given here, by where "
        "they went: a member here (local) or a peer's member (peer).\n"
        "# TYPE roost_broker_shared_messages_total counter\n");
    for (it = 0; map_next(&sh->groups, &it, &e);) {
        shgroup_t *g = e->value;
        label(gl, sizeof(gl), g->key, g->name_len);
        label(fl, sizeof(fl), g->filter, g->filter_len);
        PUT("roost_broker_shared_messages_total{group=\"%s\",filter=\"%s\",to=\"local\"} %llu\n"
            "roost_broker_shared_messages_total{group=\"%s\",filter=\"%s\",to=\"peer\"} %llu\n",
            gl, fl, (unsigned long long)g->delivered, gl, fl, (unsigned long long)g->sent);
    }
    PUT("# HELP roost_broker_shared_member_deliveries_total Shared messages given to each member here.\n"
        "# TYPE roost_broker_shared_member_deliveries_total counter\n");
    for (it = 0; map_next(&sh->groups, &it, &e);) {
        shgroup_t *g = e->value;
        label(gl, sizeof(gl), g->key, g->name_len);
        label(fl, sizeof(fl), g->filter, g->filter_len);
        for (uint32_t i = 0; i < g->n; i++) {
            label(cl, sizeof(cl), g->m[i].s->id, g->m[i].s->id_len);
            PUT("roost_broker_shared_member_deliveries_total{group=\"%s\",filter=\"%s\",client_id=\"%s\"} %llu\n",
                gl, fl, cl, (unsigned long long)g->m[i].deliveries);
        }
    }
    return (int)n;
}

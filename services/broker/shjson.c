/* The shared groups with members here, for the broker's instance record
 * (beacon.c) that admin serves and the console's Connections page shows. */
#include <jansson.h>

#include "session.h"
#include "shared.h"
#include "shgroup.h"

#define SHJSON_GROUPS 100   /* the record stays small: the rest is on /metrics */
#define SHJSON_MEMBERS 50

json_t *shared_json(const shared_t *sh)
{
    json_t *a = json_array();
    size_t it = 0, ng = 0;
    map_entry_t *e;
    while (a && ng < SHJSON_GROUPS && map_next(&sh->groups, &it, &e)) {
        const shgroup_t *g = e->value;
        if (!g->n)
            continue; /* only peers' members: their brokers say so */
        json_t *ms = json_array();
        for (uint32_t i = 0; ms && i < g->n && i < SHJSON_MEMBERS; i++)
            json_array_append_new(ms, json_pack("{s:s%, s:b, s:I}", "client_id", g->m[i].s->id,
                                                (size_t)g->m[i].s->id_len, "connected",
                                                g->m[i].s->conn != NULL, "deliveries",
                                                (json_int_t)g->m[i].deliveries));
        json_array_append_new(a, json_pack("{s:s%, s:s%, s:o, s:I, s:I, s:I}", "group", g->key, g->name_len,
                                           "filter", g->filter, g->filter_len, "members",
                                           ms ? ms : json_array(), "delivered", (json_int_t)g->delivered,
                                           "sent_to_peers", (json_int_t)g->sent, "dropped",
                                           (json_int_t)g->dropped));
        ng++;
    }
    return a;
}

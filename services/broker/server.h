/* server: the MQTT listener, the periodic sweep, and the loop hooks that
 * flush output and free closed connections at the safe point. */
#ifndef ROOST_BROKER_SERVER_H
#define ROOST_BROKER_SERVER_H

#include "broker.h"

/* Initialises b (embedded) for cfg on loop. 0 or -ENOMEM. */
int server_init(broker_t *b, const broker_config_t *cfg, loop_t *loop);
/* Binds and listens on cfg bind:port and starts the sweep timer. 0 or
 * -errno (logged). */
int server_start(broker_t *b);
/* Cluster mode (--redis or --redis-sentinels set): joins the cluster. 0 or a negative code
 * (logged). */
int server_join_cluster(broker_t *b);

/* SIGTERM path: stops accepting, closes every connection (their output
 * gets a last write), frees them. Wills are not published: the broker, not
 * the client, went away. */
void server_drain(broker_t *b);
/* Frees everything (sessions, retained, trie). */
void server_fini(broker_t *b);

#endif

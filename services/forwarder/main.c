/* roost-forwarder: pipelines' Redis Streams -> HTTP APIs (DESIGN.md
 * "Processes"; fwd.h has the delivery policy). */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/err.h"
#include "base/log.h"
#include "base/proc.h"
#include "conf.h"
#include "fwd.h"
#include "probe/probe.h"
#include "store/beacon.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* /healthz and /metrics (lib/probe) */
static int health(void *f)
{
    return fwd_healthy(f) ? 0 : -1;
}

static int render(void *f, buf_t *out)
{
    return fwd_metrics(f, out) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    fwd_conf_t conf;
    int rc = conf_parse(&conf, argc, argv);
    if (rc == CFG_EXIT_HELP)
        return 0;
    if (rc != CFG_RUN)
        return 1;
    if (log_setup_from("roost-forwarder", conf.log_level, stderr) < 0)
        return 1;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("init_failed", "detail=\"libsodium or libcurl\"");
        return 1;
    }
    char consumer[300];
    if (conf.consumer[0]) {
        snprintf(consumer, sizeof(consumer), "%s", conf.consumer);
    } else {
        char host[256] = "forwarder";
        gethostname(host, sizeof(host) - 1);
        snprintf(consumer, sizeof(consumer), "%s-%ld", host, (long)getpid());
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fwd_t *f = fwd_new(&conf, consumer);
    if (!f) {
        log_error("init_failed", "detail=\"out of memory\"");
        return 1;
    }
    probe_t *http = NULL;
    if (conf.http_port) {
        int err = (http = probe_new(conf.http_bind, (int)conf.http_port, health, render, f)) ? probe_start(http)
                                                                                            : -ENOMEM;
        if (err) {
            log_error("http_failed", "bind=%s port=%lld err=\"%s\"", conf.http_bind, (long long)conf.http_port,
                      roost_strerror(err));
            probe_destroy(&http);
            fwd_destroy(&f);
            return 1;
        }
    }
    /* admin's Overview and Instances: this replica's record (common fields) */
    store_beacon_t *beacon = NULL;
    store_beacon_config_t bc = {&conf.redis, "forwarder", consumer, proc_wall_ms(), 1000, NULL, NULL};
    if ((rc = store_beacon_start(&bc, &beacon)) < 0)
        log_warn("beacon_failed", "rc=%d detail=\"not shown on admin's Instances page\"", rc);
    log_info("listening", "http=%s:%lld redis=%s prefix=%s", conf.http_bind, (long long)conf.http_port,
             conf.redis.addr, conf.redis.prefix);
    fwd_run(f, &stop_flag);
    store_beacon_stop(&beacon);
    probe_destroy(&http);
    fwd_destroy(&f);
    curl_global_cleanup();
    return 0;
}

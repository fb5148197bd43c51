/* send: one HTTP request per batch through the multi handle, and what each
 * outcome does to its entries (fwd.h lists the policy). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "body.h"
#include "fwd_priv.h"
#include "retry.h"

void held_free(held_t *h)
{
    free(h->json);
    h->json = NULL;
    if (h->e && --h->e->refs == 0)
        free(h->e);
    h->e = NULL;
}

/* Adds e to p's acknowledgements. */
static void queue_ack(pipe_t *p, const fentry_t *e)
{
    if (p->n_acks == p->cap_acks) {
        size_t cap = p->cap_acks ? p->cap_acks * 2 : 64;
        pipeq_done_t *a = realloc(p->acks, cap * sizeof(*a));
        if (!a)
            return; /* not acknowledged: delivered again later (at least once) */
        p->acks = a;
        p->cap_acks = cap;
    }
    char *dup = strdup(e->eid);
    if (dup)
        p->acks[p->n_acks++] = (pipeq_done_t){dup, e->count, e->delivered};
}

void held_done(pipe_t *p, held_t *h, bool delivered)
{
    fentry_t *e = h->e;
    if (e) {
        e->delivered += delivered;
        if (--e->left == 0)
            queue_ack(p, e);
    }
    held_free(h);
}

int pipe_unshift(pipe_t *p, held_t *items, size_t n)
{
    if (p->n + n > p->cap) {
        size_t cap = (p->n + n) * 2;
        held_t *q = realloc(p->q, cap * sizeof(*q));
        if (!q)
            return -ENOMEM;
        p->q = q;
        p->cap = cap;
    }
    memmove(p->q + n, p->q, p->n * sizeof(*p->q));
    memcpy(p->q, items, n * sizeof(*items));
    p->n += n;
    return 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    req_t *r = arg;
    long secs;
    if (retry_after_parse(buf, size * n, time(NULL), &secs))
        r->retry_after_s = secs;
    return size * n;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    (void)buf;
    (void)arg;
    return size * n; /* the answer's body is not used */
}

/* Adds "Name: value" to the list; false on OOM. The text is wiped. */
static bool add_header(struct curl_slist **l, const char *name, const char *value)
{
    size_t cap = strlen(name) + strlen(value) + 3;
    char *h = malloc(cap);
    if (!h)
        return false;
    snprintf(h, cap, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*l, h);
    sodium_memzero(h, cap);
    free(h);
    if (!n)
        return false;
    *l = n;
    return true;
}

#define IDLE_EASY_MAX 64 /* finished easy handles kept for the next requests */

/* An easy handle for a request: a finished one reset (curl_easy_reset keeps
 * nothing of its options) or a new one. Making and freeing one per request
 * was a fifth of the forwarder's instructions per message. */
static CURL *easy_take(fwd_t *f)
{
    if (!f->n_idle)
        return curl_easy_init();
    CURL *e = f->idle[--f->n_idle];
    curl_easy_reset(e);
    return e;
}

static void easy_give(fwd_t *f, CURL *e)
{
    if (f->n_idle < IDLE_EASY_MAX && (f->idle || (f->idle = malloc(IDLE_EASY_MAX * sizeof(*f->idle)))))
        f->idle[f->n_idle++] = e;
    else
        curl_easy_cleanup(e);
}

void send_fini(fwd_t *f)
{
    while (f->n_idle)
        curl_easy_cleanup(f->idle[--f->n_idle]);
    free(f->idle);
    f->idle = NULL;
}

static void req_free(fwd_t *f, req_t *r)
{
    if (r->easy)
        easy_give(f, r->easy);
    for (struct curl_slist *s = r->hdrs; s; s = s->next)
        sodium_memzero(s->data, strlen(s->data)); /* tokens */
    curl_slist_free_all(r->hdrs);
    free(r->body);
    free(r);
}

int send_start(fwd_t *f, pipe_t *p, size_t n)
{
    req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->p = p;
    r->retry_after_s = -1;
    r->t0 = fwd_now_ms();
    char **parts = malloc(n * sizeof(*parts));
    size_t *lens = malloc(n * sizeof(*lens));
    size_t blen = 0;
    if (parts && lens) {
        for (size_t i = 0; i < n; i++) {
            parts[i] = p->q[i].json;
            lens[i] = p->q[i].len;
        }
        r->body = body_join(parts, lens, n, p->cfg.batch_size > 1, &blen);
    }
    free(parts);
    free(lens);
    char idem[STORE_ID_LEN + PIPEQ_MID_MAX + 2];
    snprintf(idem, sizeof(idem), "%s:%s", p->id, p->q[0].mid);
    bool ok = r->body && (r->easy = easy_take(f)) &&
              add_header(&r->hdrs, "Content-Type", "application/json") && add_header(&r->hdrs, "Expect", "") &&
              (p->cfg.batch_size > 1 || add_header(&r->hdrs, "Idempotency-Key", idem));
    if (ok && p->cfg.auth_token[0]) {
        char *bearer = malloc(strlen(p->cfg.auth_token) + 8);
        ok = bearer != NULL;
        if (ok) {
            sprintf(bearer, "Bearer %s", p->cfg.auth_token);
            ok = add_header(&r->hdrs, "Authorization", bearer);
            sodium_memzero(bearer, strlen(bearer));
            free(bearer);
        }
    }
    if (ok && p->cfg.network_token[0])
        ok = add_header(&r->hdrs, "X-Network-Token", p->cfg.network_token);
    if (!ok) {
        req_free(f, r);
        return -ENOMEM;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, p->cfg.url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(p->cfg.timeout_ms < 5000 ? p->cfg.timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "roost-forwarder");
    if (f->conf->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, f->conf->ca_file);
    if (!(r->items = malloc(n * sizeof(*r->items)))) {
        req_free(f, r);
        return -ENOMEM;
    }
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        free(r->items);
        req_free(f, r);
        return -ENOMEM;
    }
    memcpy(r->items, p->q, n * sizeof(*p->q));
    r->next = p->reqs;
    p->reqs = r;
    r->n = n;
    memmove(p->q, p->q + n, (p->n - n) * sizeof(*p->q));
    p->n -= n;
    p->inflight++;
    p->requests++;
    return 0;
}

static int64_t backoff_ms(const fwd_conf_t *c, int attempts)
{
    int64_t d = c->backoff_base_ms;
    for (int i = 1; i < attempts && d < c->backoff_max_ms; i++)
        d *= 2;
    if (d > c->backoff_max_ms)
        d = c->backoff_max_ms;
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
}

/* Records the attempts of messages going back for a retry, so a forwarder
 * that takes them over goes on counting (pipeq_note_attempts). */
static void note_attempts(fwd_t *f, pipe_t *p, const held_t *items, size_t n)
{
    const char **mids = n ? malloc(n * sizeof(*mids)) : NULL;
    int *att = n ? malloc(n * sizeof(*att)) : NULL;
    for (size_t i = 0; mids && att && i < n; i++) {
        mids[i] = items[i].mid;
        att[i] = items[i].attempts;
    }
    if (mids && att)
        fwd_redis_result(f, pipeq_note_attempts(f->store, p->id, mids, att, n), "note_attempts");
    free(mids);
    free(att);
}

/* Moves messages to the dead-letter stream, their entries acknowledged
 * once all their messages are done (retried later on a store error: they go
 * back to the queue with their attempts). */
static void dead_letter(fwd_t *f, pipe_t *p, held_t *items, size_t n, const char *reason)
{
    if (!n)
        return;
    const char **mids = malloc(n * sizeof(*mids));
    int rc = mids ? 0 : -ENOMEM;
    int attempts = 0;
    for (size_t i = 0; mids && i < n; i++) {
        mids[i] = items[i].mid;
        if (items[i].attempts > attempts)
            attempts = items[i].attempts;
    }
    if (rc == 0)
        rc = pipeq_dead(f->store, p->id, mids, n, reason, attempts);
    fwd_redis_result(f, rc, "dead_letter");
    free(mids);
    log_warn("dead_lettered", "pipeline=%s messages=%zu first=%s reason=\"%s\"", p->id, n, items[0].mid, reason);
    if (rc < 0) {
        if (pipe_unshift(p, items, n) == 0)
            return;
        for (size_t i = 0; i < n; i++)
            held_free(&items[i]);
        return;
    }
    p->dead += n;
    for (size_t i = 0; i < n; i++)
        held_done(p, &items[i], false);
}

void send_done(fwd_t *f, req_t *r, CURLcode result)
{
    pipe_t *p = r->p;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(f->multi, r->easy);
    for (req_t **rp = &p->reqs; *rp; rp = &(*rp)->next)
        if (*rp == r) {
            *rp = r->next;
            break;
        }
    int64_t now = fwd_now_ms();
    double secs = (double)(now - r->t0) / 1000.0;
    p->inflight--;
    p->lat_sum += secs;
    p->lat_count++;
    for (int i = 0; i < FWD_LAT_BUCKETS; i++)
        if (secs <= FWD_LAT_BOUNDS[i])
            p->lat_bucket[i]++;
    char reason[300];
    if (result != CURLE_OK)
        snprintf(reason, sizeof(reason), "%s", r->err[0] ? r->err : curl_easy_strerror(result));
    else
        snprintf(reason, sizeof(reason), "HTTP %ld", code);
    if (p->gone) {
        send_abandon(f, r);
        return;
    }
    if (result == CURLE_OK && code >= 200 && code < 300) {
        for (size_t i = 0; i < r->n; i++)
            held_done(p, &r->items[i], true);
        p->forwarded += r->n;
        r->n = 0;
    } else if (result == CURLE_OK && code == 429) {
        p->failures++;
        p->retried += r->n;
        long ra = r->retry_after_s;
        if (ra > f->conf->retry_after_max_s)
            ra = (long)f->conf->retry_after_max_s;
        p->ready_at = now + (ra >= 0 ? ra * 1000 : backoff_ms(f->conf, 1));
        fwd_redis_result(f, pipeq_note_error(f->store, p->id, reason), "note_error");
        log_info("delivery_throttled", "pipeline=%s retry_after_s=%ld entries=%zu", p->id, ra, r->n);
        if (pipe_unshift(p, r->items, r->n) == 0)
            r->n = 0;
    } else if (result == CURLE_OK && code >= 400 && code < 500 && code != 408) {
        p->failures++;
        dead_letter(f, p, r->items, r->n, reason);
        r->n = 0;
    } else {
        p->failures++;
        fwd_redis_result(f, pipeq_note_error(f->store, p->id, reason), "note_error");
        size_t keep = 0, dead = 0;
        held_t *dl = malloc(r->n * sizeof(*dl));
        int worst = 0;
        for (size_t i = 0; i < r->n; i++) {
            held_t h = r->items[i];
            h.attempts++;
            if (dl && h.attempts >= p->cfg.max_attempts) {
                dl[dead++] = h;
            } else {
                r->items[keep++] = h;
                worst = h.attempts > worst ? h.attempts : worst;
            }
        }
        log_info("delivery_failed", "pipeline=%s reason=\"%s\" entries=%zu retrying=%zu", p->id, reason, r->n, keep);
        if (dead) {
            char why[400];
            snprintf(why, sizeof(why), "%s after %d attempts", reason, dl[0].attempts);
            dead_letter(f, p, dl, dead, why);
        }
        free(dl);
        p->retried += keep;
        note_attempts(f, p, r->items, keep);
        if (keep) {
            p->ready_at = now + backoff_ms(f->conf, worst);
            if (pipe_unshift(p, r->items, keep) < 0)
                for (size_t i = 0; i < keep; i++) /* not acked: redelivered after a takeover */
                    held_free(&r->items[i]);
        }
        r->n = 0;
    }
    send_abandon(f, r);
}

void send_abandon(fwd_t *f, req_t *r)
{
    (void)f;
    for (size_t i = 0; i < r->n; i++)
        held_free(&r->items[i]);
    free(r->items);
    req_free(f, r);
}

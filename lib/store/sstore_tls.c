/* sstore_tls: the broker's read of the TLS settings admin writes
 * (lib/store/tlsconf.h), polled by version (sstore.h "TLS settings"). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/seal.h"
#include "store/sstore_priv.h"

/* ARGV: prefix known_version. {version, enabled, ca, cert, key, client_cert},
 * or {version, 'same'} when version equals known_version. */
const char SSTORE_LUA_TLS[] =
    "local v=redis.call('HMGET',ARGV[1]..'tls','version','enabled','ca','cert','key','client_cert')\n"
    "local ver=v[1] or '0'\n"
    "if ver==ARGV[2] then return {ver,'same'} end\n"
    "return {ver,v[2] or '0',v[3] or '',v[4] or '',v[5] or '',v[6] or 'none'}\n";

typedef struct tls_ctx {
    sstore_tls_fn fn;
    void *arg;
    bool has_seal;
    uint8_t seal[SEAL_KEY_LEN];
} tls_ctx_t;

static void tls_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    tls_ctx_t *ctx = q->arg;
    uint64_t version = 0;
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || (r->elements != 2 && r->elements != 6) ||
                    ss_r_u64(r->element[0], &version) < 0))
        rc = ROOST_ESTORE;
    for (size_t i = 1; rc == 0 && i < r->elements; i++)
        if (!ss_r_is_str(r->element[i]))
            rc = ROOST_ESTORE;
    if (rc == 0 && r->elements == 2) {
        ctx->fn(strcmp(r->element[1]->str, "same") ? ROOST_ESTORE : SSTORE_TLS_SAME, NULL, version, ctx->arg);
    } else if (rc == 0) {
        char *opened = NULL;
        const char *key = r->element[4]->str;
        if (seal_is_sealed(key)) {
            rc = ctx->has_seal ? seal_open(ctx->seal, key, &opened) : ROOST_EINVAL;
            key = opened;
        }
        sstore_tls_t t = {!strcmp(r->element[1]->str, "1"), r->element[2]->str, r->element[3]->str,
                          key, r->element[5]->str};
        ctx->fn(rc, rc ? NULL : &t, version, ctx->arg);
        /* the private key leaves no copy behind, in the freed reply or opened */
        sodium_memzero(r->element[4]->str, r->element[4]->len);
        if (opened) {
            sodium_memzero(opened, strlen(opened));
            free(opened);
        }
    } else {
        ctx->fn(rc, NULL, 0, ctx->arg);
    }
    sodium_memzero(ctx, sizeof(*ctx));
    free(ctx);
}

int sstore_tls_load(sstore_t *s, uint64_t known_version, const uint8_t *seal, sstore_tls_fn fn, void *arg)
{
    tls_ctx_t *ctx = malloc(sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    *ctx = (tls_ctx_t){fn, arg, seal != NULL, {0}};
    if (seal)
        memcpy(ctx->seal, seal, SEAL_KEY_LEN);
    int rc = ss_issue_since(s, SS_TLS, known_version, tls_finish, ctx);
    if (rc < 0) {
        sodium_memzero(ctx, sizeof(*ctx)); /* the sealing key */
        free(ctx);
    }
    return rc;
}

/* ---- session ticket keys ---------------------------------------------------- */

/* ARGV: prefix candidate now_ms rotate_ms. Rotates (current -> previous,
 * the candidate current) when there is no current key or it is rotate_ms
 * old; returns {current, previous or ''}. */
const char SSTORE_LUA_TICKETS[] =
    "local k=ARGV[1]..'tlstickets' local v=redis.call('HMGET',k,'current','previous','at')\n"
    "if not v[1] or tonumber(ARGV[3])-tonumber(v[3] or '0')>=tonumber(ARGV[4]) then\n"
    "  redis.call('HSET',k,'current',ARGV[2],'previous',v[1] or '','at',ARGV[3])\n"
    "  return {ARGV[2],v[1] or ''}\n"
    "end\n"
    "return {v[1],v[2] or ''}\n";

typedef struct tickets_ctx {
    sstore_tickets_fn fn;
    void *arg;
    bool has_seal;
    uint8_t seal[SEAL_KEY_LEN];
} tickets_ctx_t;

/* One stored key (hex, or sealed hex) into out. 0, or ROOST_EINVAL. */
static int ticket_key_from(const tickets_ctx_t *ctx, const char *text, uint8_t out[SSTORE_TICKET_KEY_LEN])
{
    char *opened = NULL;
    if (seal_is_sealed(text)) {
        if (!ctx->has_seal || seal_open(ctx->seal, text, &opened) < 0)
            return ROOST_EINVAL;
        text = opened;
    }
    size_t got = 0;
    int rc = sodium_hex2bin(out, SSTORE_TICKET_KEY_LEN, text, strlen(text), NULL, &got, NULL) == 0 &&
                     got == SSTORE_TICKET_KEY_LEN ? 0 : ROOST_EINVAL;
    if (opened) {
        sodium_memzero(opened, strlen(opened));
        free(opened);
    }
    return rc;
}

static void wipe_free(char *text)
{
    if (text)
        sodium_memzero(text, strlen(text));
    free(text);
}

static void tickets_finish(sstore_req_t *q, int rc, const redisReply *r)
{
    tickets_ctx_t *ctx = q->arg;
    uint8_t keys[2][SSTORE_TICKET_KEY_LEN];
    size_t n = 0;
    if (rc == 0 && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !ss_r_is_str(r->element[0]) ||
                    !ss_r_is_str(r->element[1])))
        rc = ROOST_ESTORE;
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        if (!r->element[i]->str[0])
            break;
        rc = ticket_key_from(ctx, r->element[i]->str, keys[n]);
        n += rc == 0;
    }
    ctx->fn(rc, rc ? NULL : (const uint8_t(*)[SSTORE_TICKET_KEY_LEN])keys, rc ? 0 : n, ctx->arg);
    sodium_memzero(keys, sizeof(keys));
    /* the reply held them too (in clear when not sealed) */
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (ss_r_is_str(r->element[i]))
            sodium_memzero(r->element[i]->str, r->element[i]->len);
    sodium_memzero(ctx, sizeof(*ctx));
    free(ctx);
}

int sstore_tickets_sync(sstore_t *s, uint64_t now_ms, uint64_t rotate_ms, const uint8_t *seal,
                        sstore_tickets_fn fn, void *arg)
{
    tickets_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    *ctx = (tickets_ctx_t){fn, arg, seal != NULL, {0}};
    if (seal)
        memcpy(ctx->seal, seal, SEAL_KEY_LEN);
    uint8_t fresh[SSTORE_TICKET_KEY_LEN];
    char hex[2 * SSTORE_TICKET_KEY_LEN + 1];
    randombytes_buf(fresh, sizeof(fresh));
    sodium_bin2hex(hex, sizeof(hex), fresh, sizeof(fresh));
    char *candidate = seal ? seal_box(seal, hex) : strdup(hex);
    sodium_memzero(fresh, sizeof(fresh));
    sodium_memzero(hex, sizeof(hex));
    sstore_req_t *q = candidate ? ss_req_new(s, SS_TICKETS, 0, tickets_finish, ctx) : NULL;
    if (!q) {
        wipe_free(candidate);
        sodium_memzero(ctx, sizeof(*ctx));
        free(ctx);
        return -ENOMEM;
    }
    ss_arg_str(q, ss_prefix(s));
    ss_arg_str(q, candidate);
    ss_arg_u64(q, now_ms);
    ss_arg_u64(q, rotate_ms);
    wipe_free(candidate);
    int rc = ss_issue(q);
    if (rc < 0) {
        sodium_memzero(ctx, sizeof(*ctx));
        free(ctx);
    }
    return rc;
}

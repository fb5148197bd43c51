/* pipelines: pipelines and topic mappings (pipelines.h). Records are hashes
 * read with HGETALL and parsed here; writes are the Lua scripts below,
 * registered in store.c's script table through store_priv.h.
 */
#include "store/pipelines.h"
#include "store/pipeq.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "mqtt/mqtt.h"
#include "mqtt/topic.h"
#include "store/store_priv.h"

/* ---- scripts ------------------------------------------------------------ */

/* ARGV: p id now member create name max field value...  (name '' = unchanged
 * on update). The queue and its consumer group are made with the pipeline. */
const char STORE_LUA_PIPE_PUT[] =
    "local p=ARGV[1] local id=ARGV[2] local now=ARGV[3] local create=ARGV[5]=='1'\n"
    "local name=ARGV[6] local k=p..'pipeline:'..id local idx=p..'idx:pipeline:name'\n"
    "local cur=redis.call('HGET',k,'name')\n"
    "if create then\n"
    "  if cur then return {'CONFLICT','id'} end\n"
    "  if redis.call('HEXISTS',idx,name)==1 then return {'CONFLICT','name'} end\n"
    "  if redis.call('ZCARD',p..'pipelines')>=tonumber(ARGV[7]) then return {'INVALID','limit'} end\n"
    "else\n"
    "  if not cur then return {'NOTFOUND'} end\n"
    "  if name~='' and name~=cur then\n"
    "    if redis.call('HEXISTS',idx,name)==1 then return {'CONFLICT','name'} end\n"
    "    if redis.call('HGET',idx,cur)==id then redis.call('HDEL',idx,cur) end\n"
    "  end\n"
    "end\n"
    "if name~='' then redis.call('HSET',idx,name,id) end\n"
    "local f={} for i=8,#ARGV do f[#f+1]=ARGV[i] end\n"
    "if #f>0 then redis.call('HSET',k,unpack(f)) end\n"
    "if create then\n"
    "  redis.call('HSET',k,'id',id,'created_at',now)\n"
    "  redis.call('ZADD',p..'pipelines',0,ARGV[4])\n"
    "  local q=p..'pq:'..id\n"
    "  redis.call('DEL',q,q..':dead',q..':stats',q..':att')\n"
    "  redis.call('XGROUP','CREATE',q,'forwarders','0','MKSTREAM')\n"
    "end\n"
    "redis.call('HSET',k,'updated_at',now)\n"
    "redis.call('INCR',p..'routes:version')\n"
    "return {'OK',redis.call('HGETALL',k)}\n";

const char STORE_LUA_PIPE_DEL[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'pipeline:'..id\n"
    "local v=redis.call('HMGET',k,'name','created_at')\n"
    "if not v[1] then return {'NOTFOUND'} end\n"
    "local refs=redis.call('SMEMBERS',k..':mappings')\n"
    "if #refs>0 then table.sort(refs) return {'CONFLICT','mappings',unpack(refs)} end\n"
    "local idx=p..'idx:pipeline:name'\n"
    "if redis.call('HGET',idx,v[1])==id then redis.call('HDEL',idx,v[1]) end\n"
    "local q=p..'pq:'..id\n"
    "redis.call('DEL',k,k..':mappings',q,q..':dead',q..':stats',q..':att')\n"
    "redis.call('ZREM',p..'pipelines',string.format('%013d',tonumber(v[2]))..':'..id)\n"
    "redis.call('INCR',p..'routes:version')\n"
    "return {'OK'}\n";

/* ARGV: p id now member create topic pipeline max ('' = unchanged). */
const char STORE_LUA_MAP_PUT[] =
    "local p=ARGV[1] local id=ARGV[2] local now=ARGV[3] local create=ARGV[5]=='1'\n"
    "local k=p..'mapping:'..id local idx=p..'idx:mapping'\n"
    "local cur=redis.call('HMGET',k,'topic','pipeline')\n"
    "local topic=ARGV[6] local pl=ARGV[7]\n"
    "if create then\n"
    "  if cur[1] then return {'CONFLICT','id'} end\n"
    "  if redis.call('ZCARD',p..'mappings')>=tonumber(ARGV[8]) then return {'INVALID','limit'} end\n"
    "else\n"
    "  if not cur[1] then return {'NOTFOUND'} end\n"
    "  if topic=='' then topic=cur[1] end\n"
    "  if pl=='' then pl=cur[2] end\n"
    "end\n"
    "if redis.call('EXISTS',p..'pipeline:'..pl)==0 then return {'INVALID','pipeline'} end\n"
    "local key=pl..' '..topic\n"
    "local holder=redis.call('HGET',idx,key)\n"
    "if holder and holder~=id then return {'CONFLICT','topic'} end\n"
    "if create then\n"
    "  redis.call('HSET',k,'id',id,'created_at',now)\n"
    "  redis.call('ZADD',p..'mappings',0,ARGV[4])\n"
    "else\n"
    "  redis.call('HDEL',idx,cur[2]..' '..cur[1])\n"
    "  redis.call('SREM',p..'pipeline:'..cur[2]..':mappings',id)\n"
    "end\n"
    "redis.call('HSET',idx,key,id)\n"
    "redis.call('SADD',p..'pipeline:'..pl..':mappings',id)\n"
    "redis.call('HSET',k,'topic',topic,'pipeline',pl,'updated_at',now)\n"
    "redis.call('INCR',p..'routes:version')\n"
    "return {'OK',redis.call('HGETALL',k)}\n";

const char STORE_LUA_MAP_DEL[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'mapping:'..id\n"
    "local v=redis.call('HMGET',k,'topic','pipeline','created_at')\n"
    "if not v[1] then return {'NOTFOUND'} end\n"
    "local idx=p..'idx:mapping'\n"
    "if redis.call('HGET',idx,v[2]..' '..v[1])==id then redis.call('HDEL',idx,v[2]..' '..v[1]) end\n"
    "redis.call('SREM',p..'pipeline:'..v[2]..':mappings',id)\n"
    "redis.call('DEL',k)\n"
    "redis.call('ZREM',p..'mappings',string.format('%013d',tonumber(v[3]))..':'..id)\n"
    "redis.call('INCR',p..'routes:version')\n"
    "return {'OK'}\n";

const char STORE_LUA_ROUTES_ALL[] =
    "local p=ARGV[1]\n"
    "local function all(z,o)\n"
    "  local t={}\n"
    "  for _,m in ipairs(redis.call('ZRANGE',p..z,0,-1)) do\n"
    "    local h=redis.call('HGETALL',p..o..string.sub(m,15))\n"
    "    if #h>0 then t[#t+1]=h end\n"
    "  end\n"
    "  return t\n"
    "end\n"
    "return {'OK',redis.call('GET',p..'routes:version') or '0',all('pipelines','pipeline:'),\n"
    "  all('mappings','mapping:')}\n";

/* ---- validation --------------------------------------------------------- */

/* Printable ASCII (0x21-0x7e; space too when `space`), at most max bytes. */
static bool printable(const char *v, size_t max, bool space)
{
    size_t n = 0;
    for (; v[n]; n++) {
        unsigned char ch = (unsigned char)v[n];
        if (n >= max || ch > 0x7e || ch < (space ? 0x20 : 0x21))
            return false;
    }
    return true;
}

static int check_url(store_t *s, const char *url)
{
    if (!url || !*url)
        return store_fail(s, ROOST_EINVAL, "url", "is required");
    if (!printable(url, STORE_URL_MAX, false))
        return store_fail(s, ROOST_EINVAL, "url", "must be 1-2048 printable ASCII characters without spaces");
    size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    if (!skip)
        return store_fail(s, ROOST_EINVAL, "url", "must start with http:// or https://");
    if (!url[skip] || url[skip] == '/' || url[skip] == '?' || url[skip] == '#' || url[skip] == ':')
        return store_fail(s, ROOST_EINVAL, "url", "must name a host");
    return 0;
}

static int check_token(store_t *s, const char *field, const char *v)
{
    if (v && !printable(v, STORE_TOKEN_MAX, true))
        return store_fail(s, ROOST_EINVAL, field, "must be at most 4096 printable ASCII characters");
    return 0;
}

static int check_range(store_t *s, bool has, int64_t v, const char *field, int64_t lo, int64_t hi,
                       const char *reason)
{
    return has && (v < lo || v > hi) ? store_fail(s, ROOST_EINVAL, field, reason) : 0;
}

static int check_pipeline(store_t *s, const store_pipeline_spec_t *p, bool create)
{
    int rc;
    if ((create || p->name) && (rc = store_check_name(s, "name", p->name)) < 0)
        return rc;
    if ((rc = store_check_description(s, p->description)) < 0)
        return rc;
    if ((create || p->url) && (rc = check_url(s, p->url)) < 0)
        return rc;
    if (p->status && strcmp(p->status, "active") && strcmp(p->status, "paused"))
        return store_fail(s, ROOST_EINVAL, "status", "must be \"active\" or \"paused\"");
    if ((rc = check_token(s, "authorization_token", p->auth_token)) < 0 ||
        (rc = check_token(s, "network_token", p->network_token)) < 0 ||
        (rc = check_range(s, p->has_batch_size, p->batch_size, "batch_size", 1, 1000, "must be 1-1000")) < 0 ||
        (rc = check_range(s, p->has_linger_ms, p->linger_ms, "linger_ms", 0, 60000, "must be 0-60000")) < 0 ||
        (rc = check_range(s, p->has_max_attempts, p->max_attempts, "max_attempts", 1, 1000, "must be 1-1000")) < 0 ||
        (rc = check_range(s, p->has_max_queue, p->max_queue, "max_queue", 1, 10000000, "must be 1-10000000")) < 0 ||
        (rc = check_range(s, p->has_max_age_s, p->max_age_s, "max_age_s", 0, 31536000,
                          "must be 0 (no age cap) to 31536000 seconds")) < 0 ||
        (rc = check_range(s, p->has_timeout_ms, p->timeout_ms, "timeout_ms", 100, 120000, "must be 100-120000")) < 0)
        return rc;
    return 0;
}

static int check_mapping(store_t *s, const store_mapping_spec_t *m, bool create)
{
    if (create || m->topic) {
        size_t len = m->topic ? strlen(m->topic) : 0;
        if (len == 0)
            return store_fail(s, ROOST_EINVAL, "topic", "is required");
        if (len > 65535 || mqtt_utf8_check((const uint8_t *)m->topic, len) < 0 ||
            topic_check_filter(m->topic, len) < 0)
            return store_fail(s, ROOST_EINVAL, "topic", "is not a valid MQTT topic filter");
    }
    if ((create || m->pipeline) && !store_id_ok(m->pipeline))
        return store_fail(s, ROOST_EINVAL, "pipeline", "must be the id of an existing pipeline");
    return 0;
}

/* ---- records ------------------------------------------------------------ */

static void pipeline_fini(store_pipeline_t *p)
{
    free(p->name);
    free(p->description);
    free(p->url);
    free(p->auth_token);
    free(p->network_token);
    memset(p, 0, sizeof(*p));
}

void store_pipeline_free(store_pipeline_t **pp)
{
    if (!pp || !*pp)
        return;
    pipeline_fini(*pp);
    free(*pp);
    *pp = NULL;
}

void store_mapping_free(store_mapping_t **mp)
{
    if (!mp || !*mp)
        return;
    free((*mp)->topic);
    free(*mp);
    *mp = NULL;
}

static int dup_field(const char *v, char **out)
{
    free(*out);
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

static int num_field(const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || !*v || *end)
        return ROOST_ESTORE;
    *out = n;
    return 0;
}

/* Parses an HGETALL array into p. */
static int pipeline_from(store_t *s, const redisReply *r, store_pipeline_t *p)
{
    memset(p, 0, sizeof(*p));
    int rc = ROOST_ESTORE;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        goto fail;
    for (size_t i = 0; i < r->elements; i += 2) {
        const char *f = store_rstr(r->element[i]), *v = store_rstr(r->element[i + 1]);
        if (!f || !v)
            goto fail;
        int x = 0;
        if (!strcmp(f, "id")) {
            if (!store_id_ok(v))
                goto fail;
            memcpy(p->id, v, STORE_ID_LEN + 1);
        } else if (!strcmp(f, "name"))
            x = dup_field(v, &p->name);
        else if (!strcmp(f, "description"))
            x = dup_field(v, &p->description);
        else if (!strcmp(f, "url"))
            x = dup_field(v, &p->url);
        else if (!strcmp(f, "auth_token"))
            x = dup_field(v, &p->auth_token);
        else if (!strcmp(f, "network_token"))
            x = dup_field(v, &p->network_token);
        else if (!strcmp(f, "status"))
            p->paused = !strcmp(v, "paused");
        else if (!strcmp(f, "batch_size"))
            x = num_field(v, &p->batch_size);
        else if (!strcmp(f, "linger_ms"))
            x = num_field(v, &p->linger_ms);
        else if (!strcmp(f, "max_attempts"))
            x = num_field(v, &p->max_attempts);
        else if (!strcmp(f, "max_queue"))
            x = num_field(v, &p->max_queue);
        else if (!strcmp(f, "max_age_s"))
            x = num_field(v, &p->max_age_s);
        else if (!strcmp(f, "timeout_ms"))
            x = num_field(v, &p->timeout_ms);
        else if (!strcmp(f, "created_at"))
            x = num_field(v, &p->created_at);
        else if (!strcmp(f, "updated_at"))
            x = num_field(v, &p->updated_at);
        if (x < 0) {
            rc = x;
            goto fail;
        }
    }
    if (!p->id[0] || !p->name || !p->url)
        goto fail;
    if ((!p->description && (rc = dup_field("", &p->description)) < 0) ||
        (!p->auth_token && (rc = dup_field("", &p->auth_token)) < 0) ||
        (!p->network_token && (rc = dup_field("", &p->network_token)) < 0))
        goto fail;
    return 0;
fail:
    pipeline_fini(p);
    return rc == -ENOMEM ? rc : store_fail(s, ROOST_ESTORE, NULL, "malformed pipeline record");
}

static int mapping_from(store_t *s, const redisReply *r, store_mapping_t *m)
{
    memset(m, 0, sizeof(*m));
    int rc = ROOST_ESTORE;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        goto fail;
    for (size_t i = 0; i < r->elements; i += 2) {
        const char *f = store_rstr(r->element[i]), *v = store_rstr(r->element[i + 1]);
        int x = 0;
        if (!f || !v)
            goto fail;
        if (!strcmp(f, "id") || !strcmp(f, "pipeline")) {
            if (!store_id_ok(v))
                goto fail;
            memcpy(!strcmp(f, "id") ? m->id : m->pipeline, v, STORE_ID_LEN + 1);
        } else if (!strcmp(f, "topic"))
            x = dup_field(v, &m->topic);
        else if (!strcmp(f, "created_at"))
            x = num_field(v, &m->created_at);
        else if (!strcmp(f, "updated_at"))
            x = num_field(v, &m->updated_at);
        if (x < 0) {
            rc = x;
            goto fail;
        }
    }
    if (m->id[0] && m->pipeline[0] && m->topic)
        return 0;
fail:
    free(m->topic);
    m->topic = NULL;
    return rc == -ENOMEM ? rc : store_fail(s, ROOST_ESTORE, NULL, "malformed mapping record");
}

/* ---- writes ------------------------------------------------------------- */

/* Maps a write script's status to a code; on OK with out, parses the record
 * with `parse` into a new object of `size` bytes. */
static int finish_put(store_t *s, redisReply *r, store_sr_t sr, const char *conflict_field,
                      int (*parse)(store_t *, const redisReply *, void *), size_t size, void **out)
{
    int rc = 0;
    const char *what = r->elements > 1 ? store_rstr(r->element[1]) : NULL;
    if (sr == SR_NOTFOUND)
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    else if (sr == SR_CONFLICT)
        rc = store_fail(s, ROOST_ECONFLICT, conflict_field, "already taken");
    else if (sr == SR_INVALID && what && !strcmp(what, "pipeline"))
        rc = store_fail(s, ROOST_EINVAL, "pipeline", "must be the id of an existing pipeline");
    else if (sr == SR_INVALID && what && !strcmp(what, "limit"))
        rc = store_fail(s, ROOST_EINVAL, NULL, "the store holds the most objects of this kind allowed");
    else if (sr != SR_OK || r->elements != 2)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    else if (out) {
        void *o = calloc(1, size);
        if (!o)
            rc = -ENOMEM;
        else if ((rc = parse(s, r->element[1], o)) < 0)
            free(o);
        else
            *out = o;
    }
    freeReplyObject(r);
    return rc;
}

static int parse_pipeline(store_t *s, const redisReply *r, void *o) { return pipeline_from(s, r, o); }
static int parse_mapping(store_t *s, const redisReply *r, void *o) { return mapping_from(s, r, o); }

#define PIPE_ARGV_MAX 40

static void put_num(const char **argv, int *argc, char bufs[][24], const char *f, bool has, int64_t v,
                    int64_t def, bool create)
{
    if (!has && !create)
        return;
    snprintf(bufs[*argc + 1], 24, "%lld", (long long)(has ? v : def));
    argv[*argc] = f;
    argv[*argc + 1] = bufs[*argc + 1];
    *argc += 2;
}

static void put_str(const char **argv, int *argc, const char *f, const char *v, const char *def, bool create)
{
    if (!v && !create)
        return;
    argv[(*argc)++] = f;
    argv[(*argc)++] = v ? v : def;
}

static int pipeline_put(store_t *s, const char *id, const store_pipeline_spec_t *p, bool create,
                        store_pipeline_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    if (!create && !store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    int rc = check_pipeline(s, p, create);
    if (rc < 0)
        return rc;
    store_stamp_t st;
    store_stamp_new(&st);
    char max[24], bufs[PIPE_ARGV_MAX][24];
    snprintf(max, sizeof(max), "%d", STORE_PIPELINE_MAX);
    const char *argv[PIPE_ARGV_MAX] = {create ? st.id : id, st.now, st.member, create ? "1" : "0",
                                       p->name ? p->name : "", max};
    int argc = 6;
    put_str(argv, &argc, "name", p->name, "", create);
    put_str(argv, &argc, "description", p->description, "", create);
    put_str(argv, &argc, "url", p->url, "", create);
    put_str(argv, &argc, "status", p->status, "active", create);
    put_str(argv, &argc, "auth_token", p->auth_token, "", create);
    put_str(argv, &argc, "network_token", p->network_token, "", create);
    put_num(argv, &argc, bufs, "batch_size", p->has_batch_size, p->batch_size, STORE_PIPE_DEF_BATCH, create);
    put_num(argv, &argc, bufs, "linger_ms", p->has_linger_ms, p->linger_ms, STORE_PIPE_DEF_LINGER_MS, create);
    put_num(argv, &argc, bufs, "max_attempts", p->has_max_attempts, p->max_attempts, STORE_PIPE_DEF_ATTEMPTS,
            create);
    put_num(argv, &argc, bufs, "max_queue", p->has_max_queue, p->max_queue, STORE_PIPE_DEF_QUEUE, create);
    put_num(argv, &argc, bufs, "max_age_s", p->has_max_age_s, p->max_age_s, 0, create);
    put_num(argv, &argc, bufs, "timeout_ms", p->has_timeout_ms, p->timeout_ms, STORE_PIPE_DEF_TIMEOUT_MS,
            create);
    redisReply *r = NULL;
    store_sr_t sr;
    if ((rc = store_eval(s, SC_PIPE_PUT, argc, argv, NULL, &r, &sr)) < 0)
        return rc;
    return finish_put(s, r, sr, "name", parse_pipeline, sizeof(store_pipeline_t), (void **)out);
}

int store_pipeline_create(store_t *s, const store_pipeline_spec_t *spec, store_pipeline_t **out)
{
    return pipeline_put(s, NULL, spec, true, out);
}

int store_pipeline_update(store_t *s, const char *id, const store_pipeline_spec_t *spec,
                          store_pipeline_t **out)
{
    return pipeline_put(s, id, spec, false, out);
}

int store_pipeline_delete(store_t *s, const char *id)
{
    return store_delete_refd(s, SC_PIPE_DEL, id, "mappings", "the pipeline is fed by topic mappings");
}

static int mapping_put(store_t *s, const char *id, const store_mapping_spec_t *m, bool create,
                       store_mapping_t **out)
{
    store_err_reset(s);
    if (out)
        *out = NULL;
    if (!create && !store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    int rc = check_mapping(s, m, create);
    if (rc < 0)
        return rc;
    store_stamp_t st;
    store_stamp_new(&st);
    char max[24];
    snprintf(max, sizeof(max), "%d", STORE_MAPPING_MAX);
    const char *argv[] = {create ? st.id : id, st.now, st.member, create ? "1" : "0",
                          m->topic ? m->topic : "", m->pipeline ? m->pipeline : "", max};
    redisReply *r = NULL;
    store_sr_t sr;
    if ((rc = store_eval(s, SC_MAP_PUT, 7, argv, NULL, &r, &sr)) < 0)
        return rc;
    return finish_put(s, r, sr, "topic", parse_mapping, sizeof(store_mapping_t), (void **)out);
}

int store_mapping_create(store_t *s, const store_mapping_spec_t *spec, store_mapping_t **out)
{
    return mapping_put(s, NULL, spec, true, out);
}

int store_mapping_update(store_t *s, const char *id, const store_mapping_spec_t *spec,
                         store_mapping_t **out)
{
    return mapping_put(s, id, spec, false, out);
}

int store_mapping_delete(store_t *s, const char *id)
{
    return store_delete_id(s, SC_MAP_DEL, id);
}

/* ---- reads -------------------------------------------------------------- */

/* HGETALL <prefix><obj>:<id>, parsed by parse into a new object. */
static int get_one(store_t *s, const char *obj, const char *id,
                   int (*parse)(store_t *, const redisReply *, void *), size_t size, void **out)
{
    store_err_reset(s);
    *out = NULL;
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    char key[STORE_PREFIX_MAX + 16 + STORE_ID_LEN + 1];
    snprintf(key, sizeof(key), "%s%s:%s", store_prefix(s), obj, id);
    const char *argv[] = {"HGETALL", key};
    redisReply *r = NULL;
    int rc = store_cmd(s, 2, argv, NULL, &r);
    if (rc < 0)
        return rc;
    void *o = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 0)
        rc = store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    else if (!(o = calloc(1, size)))
        rc = -ENOMEM;
    else if ((rc = parse(s, r, o)) < 0) {
        free(o);
        o = NULL;
    }
    freeReplyObject(r);
    *out = o;
    return rc;
}

int store_pipeline_get(store_t *s, const char *id, store_pipeline_t **out)
{
    return get_one(s, "pipeline", id, parse_pipeline, sizeof(store_pipeline_t), (void **)out);
}

int store_mapping_get(store_t *s, const char *id, store_mapping_t **out)
{
    return get_one(s, "mapping", id, parse_mapping, sizeof(store_mapping_t), (void **)out);
}

void store_routes_free(store_routes_t **rp)
{
    if (!rp || !*rp)
        return;
    store_routes_t *r = *rp;
    for (size_t i = 0; i < r->n_pipelines; i++)
        pipeline_fini(&r->pipelines[i]);
    for (size_t i = 0; i < r->n_mappings; i++)
        free(r->mappings[i].topic);
    free(r->pipelines);
    free(r->mappings);
    free(r);
    *rp = NULL;
}

static int routes_from(store_t *s, const redisReply *r, store_routes_t *out)
{
    if (r->elements != 4 || store_ri64(r->element[1], &out->version) < 0 ||
        r->element[2]->type != REDIS_REPLY_ARRAY || r->element[3]->type != REDIS_REPLY_ARRAY)
        return store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    const redisReply *ps = r->element[2], *ms = r->element[3];
    if ((ps->elements && !(out->pipelines = calloc(ps->elements, sizeof(*out->pipelines)))) ||
        (ms->elements && !(out->mappings = calloc(ms->elements, sizeof(*out->mappings)))))
        return -ENOMEM;
    int rc;
    for (; out->n_pipelines < ps->elements; out->n_pipelines++)
        if ((rc = pipeline_from(s, ps->element[out->n_pipelines], &out->pipelines[out->n_pipelines])) < 0)
            return rc;
    for (; out->n_mappings < ms->elements; out->n_mappings++)
        if ((rc = mapping_from(s, ms->element[out->n_mappings], &out->mappings[out->n_mappings])) < 0)
            return rc;
    return 0;
}

int store_routes_load(store_t *s, store_routes_t **out)
{
    store_err_reset(s);
    *out = NULL;
    redisReply *r = NULL;
    store_sr_t sr;
    int rc = store_eval(s, SC_ROUTES_ALL, 0, NULL, NULL, &r, &sr);
    if (rc < 0)
        return rc;
    store_routes_t *rt = calloc(1, sizeof(*rt));
    if (!rt)
        rc = -ENOMEM;
    else if (sr != SR_OK)
        rc = store_fail(s, ROOST_ESTORE, NULL, "unexpected script reply");
    else
        rc = routes_from(s, r, rt);
    freeReplyObject(r);
    if (rc < 0)
        store_routes_free(&rt);
    *out = rt;
    return rc;
}

int store_routes_version(store_t *s, int64_t *out)
{
    return store_get_i64(s, "routes:version", out);
}

void store_pipeline_page_free(store_pipeline_page_t **pp)
{
    if (!pp || !*pp)
        return;
    store_routes_free(&(*pp)->all);
    free((*pp)->items);
    free((*pp)->mappings);
    free((*pp)->next_cursor);
    free(*pp);
    *pp = NULL;
}

static bool contains_ci(const char *hay, const char *needle)
{
    if (!needle || !*needle)
        return true;
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

/* Pages over a loaded snapshot: pipelines when want_pipelines, else mappings. */
static int page(store_t *s, const char *cursor, size_t limit, const char *search, bool want_pipelines,
                store_pipeline_page_t **out)
{
    store_err_reset(s);
    *out = NULL;
    int rc = store_check_page(s, cursor, limit);
    if (rc < 0)
        return rc;
    store_pipeline_page_t *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return -ENOMEM;
    if ((rc = store_routes_load(s, &pg->all)) < 0)
        goto fail;
    size_t total = want_pipelines ? pg->all->n_pipelines : pg->all->n_mappings;
    pg->total = total;
    if (want_pipelines ? !(pg->items = calloc(limit, sizeof(*pg->items)))
                       : !(pg->mappings = calloc(limit, sizeof(*pg->mappings)))) {
        rc = -ENOMEM;
        goto fail;
    }
    char member[STORE_MEMBER_LEN + 1], last[STORE_MEMBER_LEN + 1] = "";
    for (size_t i = 0; i < total; i++) {
        const store_pipeline_t *p = want_pipelines ? &pg->all->pipelines[i] : NULL;
        const store_mapping_t *m = want_pipelines ? NULL : &pg->all->mappings[i];
        store_member(member, p ? p->created_at : m->created_at, p ? p->id : m->id);
        if (cursor && *cursor && strcmp(member, cursor) <= 0)
            continue;
        if (p ? !contains_ci(p->name, search) && !contains_ci(p->url, search) : !contains_ci(m->topic, search))
            continue;
        if (pg->n == limit) { /* one more matches: there is a next page */
            if (!(pg->next_cursor = strdup(last))) {
                rc = -ENOMEM;
                goto fail;
            }
            break;
        }
        if (p)
            pg->items[pg->n++] = p;
        else
            pg->mappings[pg->n++] = m;
        memcpy(last, member, sizeof(last));
    }
    *out = pg;
    return 0;
fail:
    store_pipeline_page_free(&pg);
    return rc;
}

int store_pipeline_list(store_t *s, const char *cursor, size_t limit, const char *search,
                        store_pipeline_page_t **out)
{
    return page(s, cursor, limit, search, true, out);
}

int store_mapping_list(store_t *s, const char *cursor, size_t limit, const char *search,
                       store_pipeline_page_t **out)
{
    return page(s, cursor, limit, search, false, out);
}

/* ---- delivery state ----------------------------------------------------- */

static int q_cmd(store_t *s, const char *const *argv, int argc, redisReply **r)
{
    return store_cmd(s, argc, (const char **)argv, NULL, r);
}

int store_pipeline_stats(store_t *s, const char *id, store_pipeline_stats_t *out)
{
    store_err_reset(s);
    memset(out, 0, sizeof(*out));
    if (!store_id_ok(id))
        return store_fail(s, ROOST_ENOTFOUND, NULL, NULL);
    char q[STORE_PREFIX_MAX + 48], dead[STORE_PREFIX_MAX + 56], stats[STORE_PREFIX_MAX + 56];
    snprintf(q, sizeof(q), "%spq:%s", store_prefix(s), id);
    snprintf(dead, sizeof(dead), "%s:dead", q);
    snprintf(stats, sizeof(stats), "%s:stats", q);
    redisReply *r = NULL;
    int rc;
    int64_t entries = 0;
    if ((rc = pipeq_length(s, q, &out->queued, &entries)) < 0)
        return rc;
    const char *xlen_dead[] = {"XLEN", dead};
    if ((rc = q_cmd(s, xlen_dead, 2, &r)) < 0)
        return rc;
    store_ri64(r, &out->dead);
    freeReplyObject(r);
    const char *first[] = {"XRANGE", q, "-", "+", "COUNT", "1"};
    if ((rc = q_cmd(s, first, 6, &r)) < 0)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1) {
        const char *eid = store_rstr(r->element[0]->element[0]);
        out->oldest_ms = eid ? strtoll(eid, NULL, 10) : 0;
    }
    freeReplyObject(r);
    const char *pend[] = {"XPENDING", q, "forwarders"};
    if (q_cmd(s, pend, 3, &r) == 0) { /* NOGROUP for a queue deleted meanwhile: 0 */
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1)
            store_ri64(r->element[0], &out->pending);
        freeReplyObject(r);
    }
    const char *hall[] = {"HGETALL", stats};
    if ((rc = q_cmd(s, hall, 2, &r)) < 0)
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *f = store_rstr(r->element[i]), *v = store_rstr(r->element[i + 1]);
        if (!f || !v)
            continue;
        if (!strcmp(f, "dropped"))
            num_field(v, &out->dropped);
        else if (!strcmp(f, "forwarded"))
            num_field(v, &out->forwarded);
        else if (!strcmp(f, "last_ok_at"))
            num_field(v, &out->last_ok_at);
        else if (!strcmp(f, "last_error_at"))
            num_field(v, &out->last_error_at);
        else if (!strcmp(f, "last_error"))
            snprintf(out->last_error, sizeof(out->last_error), "%s", v);
    }
    freeReplyObject(r);
    return 0;
}

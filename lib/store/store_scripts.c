/* store_scripts: the Lua scripts of store.c's object operations (list
 * pages, client/group/rule create, update, delete, lookups, auth lookup),
 * by enum store_script, in store_scripts[] (store_priv.h). */
#include "store/store_priv.h"

/* A list page: walks the zset from the cursor with ZRANGEBYLEX, reads each
 * object, keeps those whose search fields contain the needle, stops at
 * `limit` kept or STORE_SCAN_BUDGET examined. Returns
 * {'OK', next_cursor or '', total, item...}. */
static const char LUA_LIST[] =
    "local p=ARGV[1] local z=p..ARGV[2] local op=p..ARGV[3]..':'\n"
    "local limit=tonumber(ARGV[5]) local needle=ARGV[6] local ns=tonumber(ARGV[7])\n"
    "local budget=tonumber(ARGV[8]) local f={} for i=9,#ARGV do f[#f+1]=ARGV[i] end\n"
    "local start='-' if ARGV[4]~='' then start='('..ARGV[4] end\n"
    "local out={'OK','',redis.call('ZCARD',z)} local kept=0 local seen=0 local last=nil\n"
    "local more=false\n"
    "while not more do\n"
    "  local b=redis.call('ZRANGEBYLEX',z,start,'+','LIMIT',0,100)\n"
    "  if #b==0 then break end\n"
    "  for _,m in ipairs(b) do\n"
    "    if kept>=limit or seen>=budget then more=true break end\n"
    "    seen=seen+1 last=m\n"
    "    local v=redis.call('HMGET',op..string.sub(m,15),unpack(f))\n"
    "    local keep=v[1]~=false\n"
    "    if keep and needle~='' then\n"
    "      keep=false\n"
    "      for i=1,ns do\n"
    "        if v[i] and string.find(string.lower(v[i]),needle,1,true) then keep=true break end\n"
    "      end\n"
    "    end\n"
    "    if keep then kept=kept+1 out[#out+1]=v end\n"
    "  end\n"
    "  start='('..b[#b]\n"
    "end\n"
    "if more and last then out[2]=last end\n"
    "return out\n";

/* Certificate fields of a client (ARGV order of the scripts below); the
 * fingerprint is indexed in P idx:client:fingerprint. */
#define LUA_SET_CERT(k, a)                                                                        \
    "redis.call('HSET'," k ",'cert_fingerprint',ARGV[" #a "],'cert_subject',ARGV[" #a "+1],"        \
    "'cert_issuer',ARGV[" #a "+2],'cert_serial',ARGV[" #a "+3],'cert_not_before',ARGV[" #a "+4],"  \
    "'cert_not_after',ARGV[" #a "+5])\n"

/* ARGV: p id now member name username hash fp subject issuer serial
 * not_before not_after auth_type; username/hash/fp '' = none. */
static const char LUA_CLIENT_CREATE[] =
    "local p=ARGV[1] local id=ARGV[2] local now=ARGV[3] local k=p..'client:'..id\n"
    "local idx=p..'idx:client:username' local fidx=p..'idx:client:fingerprint'\n"
    "if ARGV[6]~='' and redis.call('HEXISTS',idx,ARGV[6])==1 then return {'CONFLICT','username'} end\n"
    "if ARGV[8]~='' and redis.call('HEXISTS',fidx,ARGV[8])==1 then return {'CONFLICT','certificate'} end\n"
    "if redis.call('EXISTS',k)==1 then return {'CONFLICT','id'} end\n"
    "redis.call('HSET',k,'id',id,'name',ARGV[5],'auth_type',ARGV[14],\n"
    "  'username',ARGV[6],'created_at',now,'updated_at',now,'client_ids',ARGV[15])\n"
    "if ARGV[7]~='' then redis.call('HSET',k,'password_hash',ARGV[7]) end\n"
    "if ARGV[6]~='' then redis.call('HSET',idx,ARGV[6],id) end\n"
    "if ARGV[8]~='' then\n" LUA_SET_CERT("k", 8) "redis.call('HSET',fidx,ARGV[8],id) end\n"
    "redis.call('ZADD',p..'clients',0,ARGV[4])\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK',redis.call('HMGET',k," STORE_CLIENT_FIELDS ")}\n";

/* ARGV: p id now name username hash fp subject issuer serial not_before
 * not_after client_ids; '' leaves a field unchanged (none of them may
 * legally be empty; client_ids is "=" + the new value). auth_type follows
 * from what the client then holds. */
static const char LUA_CLIENT_UPDATE[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'client:'..id\n"
    "local idx=p..'idx:client:username' local fidx=p..'idx:client:fingerprint'\n"
    "local cur=redis.call('HGET',k,'username')\n"
    "if not cur then return {'NOTFOUND'} end\n"
    "local oldfp=redis.call('HGET',k,'cert_fingerprint')\n"
    "if ARGV[5]~='' and ARGV[5]~=cur and redis.call('HEXISTS',idx,ARGV[5])==1 then\n"
    "  return {'CONFLICT','username'} end\n"
    "if ARGV[7]~='' and ARGV[7]~=oldfp and redis.call('HEXISTS',fidx,ARGV[7])==1 then\n"
    "  return {'CONFLICT','certificate'} end\n"
    "if ARGV[5]~='' and ARGV[5]~=cur then\n"
    "  if redis.call('HGET',idx,cur)==id then redis.call('HDEL',idx,cur) end\n"
    "  redis.call('HSET',idx,ARGV[5],id) redis.call('HSET',k,'username',ARGV[5])\n"
    "end\n"
    "if ARGV[7]~='' then\n"
    "  if oldfp and redis.call('HGET',fidx,oldfp)==id then redis.call('HDEL',fidx,oldfp) end\n"
    "  " LUA_SET_CERT("k", 7) "  redis.call('HSET',fidx,ARGV[7],id)\n"
    "end\n"
    "if ARGV[4]~='' then redis.call('HSET',k,'name',ARGV[4]) end\n"
    "if ARGV[6]~='' then redis.call('HSET',k,'password_hash',ARGV[6]) end\n"
    "local cred=redis.call('HGET',k,'username')~='' and redis.call('HEXISTS',k,'password_hash')==1\n"
    "local cert=redis.call('HEXISTS',k,'cert_fingerprint')==1\n"
    "redis.call('HSET',k,'auth_type',(cred and cert) and 'both' or (cert and 'certificate' or 'username_password'))\n"
    "if ARGV[13]~='' then redis.call('HSET',k,'client_ids',string.sub(ARGV[13],2)) end\n"
    "redis.call('HSET',k,'updated_at',ARGV[3])\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK',redis.call('HMGET',k," STORE_CLIENT_FIELDS ")}\n";

static const char LUA_CLIENT_DELETE[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'client:'..id\n"
    "local idx=p..'idx:client:username' local fidx=p..'idx:client:fingerprint'\n"
    "local v=redis.call('HMGET',k,'username','created_at','cert_fingerprint')\n"
    "if not v[1] then return {'NOTFOUND'} end\n"
    "redis.call('DEL',k)\n"
    "if redis.call('HGET',idx,v[1])==id then redis.call('HDEL',idx,v[1]) end\n"
    "if v[3] and redis.call('HGET',fidx,v[3])==id then redis.call('HDEL',fidx,v[3]) end\n"
    "redis.call('ZREM',p..'clients',string.format('%013d',tonumber(v[2]))..':'..id)\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK'}\n";

static const char LUA_CLIENT_BY_USERNAME[] =
    "local p=ARGV[1]\n"
    "local id=redis.call('HGET',p..'idx:client:username',ARGV[2])\n"
    "if not id then return {'NOTFOUND'} end\n"
    "local v=redis.call('HMGET',p..'client:'..id," STORE_CLIENT_FIELDS ")\n"
    "if not v[1] then return {'NOTFOUND'} end\n"
    "return {'OK',v}\n";

/* ARGV: p, then the username (SC_AUTH_LOOKUP) or the certificate
 * fingerprint (SC_AUTH_LOOKUP_CERT): the index it is looked up in. */
#define LUA_AUTH_LOOKUP_BY(index)                                                                 \
    "local p=ARGV[1]\n"                                                                           \
    "local ver=redis.call('GET',p..'version') or '0'\n"                                          \
    "local id=redis.call('HGET',p..'" index "',ARGV[2])\n"                                       \
    "if not id then return {'NOTFOUND',ver} end\n"                                               \
    "local v=redis.call('HMGET',p..'client:'..id,'id','name','password_hash','cert_fingerprint',\n" \
    "  'client_ids')\n"                                                                           \
    "if not v[1] then return {'NOTFOUND',ver} end\n"                                             \
    "return {'OK',ver,v[1],v[2],v[3] or '',v[4] or '',v[5] or ''}\n"
static const char LUA_AUTH_LOOKUP[] = LUA_AUTH_LOOKUP_BY("idx:client:username");
static const char LUA_AUTH_LOOKUP_CERT[] = LUA_AUTH_LOOKUP_BY("idx:client:fingerprint");
static const char LUA_GROUP_CREATE[] =
    "local p=ARGV[1] local id=ARGV[2] local now=ARGV[3] local k=p..'group:'..id\n"
    "local idx=p..'idx:group:name'\n"
    "if redis.call('HEXISTS',idx,ARGV[5])==1 then return {'CONFLICT','name'} end\n"
    "if redis.call('EXISTS',k)==1 then return {'CONFLICT','id'} end\n"
    "redis.call('HSET',k,'id',id,'name',ARGV[5],'description',ARGV[6],'acl',ARGV[7],\n"
    "  'created_at',now,'updated_at',now,'rates',ARGV[8])\n"
    "redis.call('HSET',idx,ARGV[5],id)\n"
    "redis.call('ZADD',p..'groups',0,ARGV[4])\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK',redis.call('HMGET',k," STORE_GROUP_FIELDS ")}\n";

/* ARGV: p id now name_set name desc_set desc acl_set acl rates_set rates */
static const char LUA_GROUP_UPDATE[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'group:'..id\n"
    "local idx=p..'idx:group:name'\n"
    "local cur=redis.call('HGET',k,'name')\n"
    "if not cur then return {'NOTFOUND'} end\n"
    "if ARGV[4]=='1' and ARGV[5]~=cur then\n"
    "  if redis.call('HEXISTS',idx,ARGV[5])==1 then return {'CONFLICT','name'} end\n"
    "  if redis.call('HGET',idx,cur)==id then redis.call('HDEL',idx,cur) end\n"
    "  redis.call('HSET',idx,ARGV[5],id) redis.call('HSET',k,'name',ARGV[5])\n"
    "end\n"
    "if ARGV[6]=='1' then redis.call('HSET',k,'description',ARGV[7]) end\n"
    "if ARGV[8]=='1' then redis.call('HSET',k,'acl',ARGV[9]) end\n"
    "if ARGV[10]=='1' then redis.call('HSET',k,'rates',ARGV[11]) end\n"
    "redis.call('HSET',k,'updated_at',ARGV[3])\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK',redis.call('HMGET',k," STORE_GROUP_FIELDS ")}\n";

static const char LUA_GROUP_DELETE[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'group:'..id\n"
    "local idx=p..'idx:group:name'\n"
    "local v=redis.call('HMGET',k,'name','created_at')\n"
    "if not v[1] then return {'NOTFOUND'} end\n"
    "local refs=redis.call('SMEMBERS',k..':rules')\n"
    "if #refs>0 then table.sort(refs) return {'CONFLICT','rules',unpack(refs)} end\n"
    "redis.call('DEL',k,k..':rules')\n"
    "if redis.call('HGET',idx,v[1])==id then redis.call('HDEL',idx,v[1]) end\n"
    "redis.call('ZREM',p..'groups',string.format('%013d',tonumber(v[2]))..':'..id)\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK'}\n";

static const char LUA_GROUP_MANY[] =
    "local p=ARGV[1]\n"
    "local out={'OK',redis.call('GET',p..'version') or '0'}\n"
    "for i=2,#ARGV do\n"
    "  local v=redis.call('HMGET',p..'group:'..ARGV[i]," STORE_GROUP_FIELDS ")\n"
    "  if v[1] then out[#out+1]=v end\n"
    "end\n"
    "return out\n";

/* Shared by rule create/update: the ids in the comma-joined list that are
 * not groups. */
#define LUA_MISSING_GROUPS                                                                         \
    "local function missing(p,gs)\n"                                                               \
    "  local m={}\n"                                                                               \
    "  for g in string.gmatch(gs,'[^,]+') do\n"                                                    \
    "    if redis.call('EXISTS',p..'group:'..g)==0 then m[#m+1]=g end\n"                           \
    "  end\n"                                                                                      \
    "  return m\n"                                                                                 \
    "end\n"

static const char LUA_RULE_CREATE[] =
    LUA_MISSING_GROUPS
    "local p=ARGV[1] local id=ARGV[2] local now=ARGV[3] local k=p..'rule:'..id\n"
    "local m=missing(p,ARGV[7])\n"
    "if #m>0 then return {'INVALID','groups',unpack(m)} end\n"
    "if redis.call('EXISTS',k)==1 then return {'CONFLICT','id'} end\n"
    "redis.call('HSET',k,'id',id,'match_by',ARGV[5],'value',ARGV[6],'groups',ARGV[7],\n"
    "  'created_at',now,'updated_at',now,'client_ids',ARGV[8])\n"
    "for g in string.gmatch(ARGV[7],'[^,]+') do redis.call('SADD',p..'group:'..g..':rules',id) end\n"
    "redis.call('ZADD',p..'rules',0,ARGV[4])\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK',redis.call('HMGET',k," STORE_RULE_FIELDS ")}\n";

/* ARGV: p id now old_match_by old_value match_by value groups_set groups
 * client_ids_set client_ids.
 * The caller validated (match_by, value) against the old pair it read; if
 * someone changed them meanwhile it answers RETRY. */
static const char LUA_RULE_UPDATE[] =
    LUA_MISSING_GROUPS
    "local p=ARGV[1] local id=ARGV[2] local k=p..'rule:'..id\n"
    "local cur=redis.call('HMGET',k,'match_by','value','groups')\n"
    "if not cur[1] then return {'NOTFOUND'} end\n"
    "if cur[1]~=ARGV[4] or cur[2]~=ARGV[5] then return {'RETRY'} end\n"
    "if ARGV[8]=='1' then\n"
    "  local m=missing(p,ARGV[9])\n"
    "  if #m>0 then return {'INVALID','groups',unpack(m)} end\n"
    "  for g in string.gmatch(cur[3],'[^,]+') do redis.call('SREM',p..'group:'..g..':rules',id) end\n"
    "  for g in string.gmatch(ARGV[9],'[^,]+') do redis.call('SADD',p..'group:'..g..':rules',id) end\n"
    "  redis.call('HSET',k,'groups',ARGV[9])\n"
    "end\n"
    "if ARGV[10]=='1' then redis.call('HSET',k,'client_ids',ARGV[11]) end\n"
    "redis.call('HSET',k,'match_by',ARGV[6],'value',ARGV[7],'updated_at',ARGV[3])\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK',redis.call('HMGET',k," STORE_RULE_FIELDS ")}\n";

static const char LUA_RULE_DELETE[] =
    "local p=ARGV[1] local id=ARGV[2] local k=p..'rule:'..id\n"
    "local v=redis.call('HMGET',k,'groups','created_at')\n"
    "if not v[1] then return {'NOTFOUND'} end\n"
    "for g in string.gmatch(v[1],'[^,]+') do redis.call('SREM',p..'group:'..g..':rules',id) end\n"
    "redis.call('DEL',k)\n"
    "redis.call('ZREM',p..'rules',string.format('%013d',tonumber(v[2]))..':'..id)\n"
    "redis.call('INCR',p..'version')\n"
    "return {'OK'}\n";

static const char LUA_RULE_ALL[] =
    "local p=ARGV[1]\n"
    "local out={'OK',redis.call('GET',p..'version') or '0'}\n"
    "for _,m in ipairs(redis.call('ZRANGE',p..'rules',0,-1)) do\n"
    "  local v=redis.call('HMGET',p..'rule:'..string.sub(m,15)," STORE_RULE_FIELDS ")\n"
    "  if v[1] then out[#out+1]=v end\n"
    "end\n"
    "return out\n";

const char *const store_scripts[SC_COUNT] = {
    [SC_LIST] = LUA_LIST,
    [SC_CLIENT_CREATE] = LUA_CLIENT_CREATE,
    [SC_CLIENT_UPDATE] = LUA_CLIENT_UPDATE,
    [SC_CLIENT_DELETE] = LUA_CLIENT_DELETE,
    [SC_CLIENT_BY_USERNAME] = LUA_CLIENT_BY_USERNAME,
    [SC_AUTH_LOOKUP] = LUA_AUTH_LOOKUP,
    [SC_AUTH_LOOKUP_CERT] = LUA_AUTH_LOOKUP_CERT,
    [SC_GROUP_CREATE] = LUA_GROUP_CREATE,
    [SC_GROUP_UPDATE] = LUA_GROUP_UPDATE,
    [SC_GROUP_DELETE] = LUA_GROUP_DELETE,
    [SC_GROUP_MANY] = LUA_GROUP_MANY,
    [SC_RULE_CREATE] = LUA_RULE_CREATE,
    [SC_RULE_UPDATE] = LUA_RULE_UPDATE,
    [SC_RULE_DELETE] = LUA_RULE_DELETE,
    [SC_RULE_ALL] = LUA_RULE_ALL,
    [SC_PIPE_PUT] = STORE_LUA_PIPE_PUT,     [SC_PIPE_DEL] = STORE_LUA_PIPE_DEL,
    [SC_MAP_PUT] = STORE_LUA_MAP_PUT,       [SC_MAP_DEL] = STORE_LUA_MAP_DEL,
    [SC_ROUTES_ALL] = STORE_LUA_ROUTES_ALL, [SC_PQ_ACK] = STORE_LUA_PQ_ACK, [SC_PQ_DEAD] = STORE_LUA_PQ_DEAD,
};

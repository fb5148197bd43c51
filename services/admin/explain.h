/* explain: POST /api/v1/explain (RPC ADMIN_EXPLAIN). Why would this device
 * be allowed or denied this publish or subscribe?
 *
 * Body {username, mqtt_client_id, action: "publish"|"subscribe", topic}.
 * Steps, as authd and the broker do them: the client by username (404 if
 * none); every group rule evaluated (lib/acl/grouprule.h) with the client id
 * and MQTT client id; the groups' ACL entries gathered in group order and
 * compiled with %u/%c substitution (lib/acl/acl.h); the decision taken by
 * acl_check_publish / acl_check_subscribe, so it is the broker's own.
 * Answer {decision: "allow"|"deny", groups: [{id,name}], matched: {group,
 * entry} | null, reason}: matched is the first deny entry that applies when
 * denied by an entry (deny wins), else the first allow entry that covers the
 * topic; null when nothing matches ("nothing matching is denied").
 */
#ifndef ROOST_ADMIN_EXPLAIN_H
#define ROOST_ADMIN_EXPLAIN_H

#include "ops.h"

void explain_run(ops_call_t *c);

#endif

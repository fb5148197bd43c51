/* fuzz: roost_rpc */
/* Every rpc decoder over arbitrary bytes: no crash, no leak, no read past
 * the input; a body that decodes must re-encode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rpc/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_auth_request_t req;
    rpc_auth_reply_t rep;
    rpc_change_event_t ev;
    if (rpc_auth_request_decode(data, size, &req) == 0) {
        if (rpc_auth_request_encode(&req, NULL, 0) < 0)
            abort();
        rpc_auth_request_fini(&req);
    }
    if (rpc_auth_reply_decode(data, size, &rep) == 0) {
        if (rpc_auth_reply_encode(&rep, NULL, 0) < 0)
            abort();
        rpc_auth_reply_fini(&rep);
    }
    if (rpc_change_event_decode(data, size, &ev) == 0) {
        if (rpc_change_event_encode(&ev, NULL, 0) < 0)
            abort();
        rpc_change_event_fini(&ev);
    }
    return 0;
}

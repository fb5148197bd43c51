/* The ids of inbound QoS 2 messages received and not yet released
 * (session.h "rx2"): a session's set that makes PUBLISH-PUBREL exactly once. */
#include <errno.h>
#include <stdlib.h>

#include "base/err.h"
#include "session.h"

bool session_rx2_has(const session_t *s, uint16_t pid)
{
    for (uint16_t i = 0; i < s->nrx2; i++)
        if (s->rx_qos2[i] == pid)
            return true;
    return false;
}

int session_rx2_add(session_t *s, uint16_t pid)
{
    if (s->nrx2 == s->caprx2) {
        if (s->caprx2 == UINT16_MAX)
            return ROOST_ELIMIT;
        uint32_t n = s->caprx2 ? (uint32_t)s->caprx2 * 2 : 4;
        if (n > UINT16_MAX)
            n = UINT16_MAX;
        uint16_t *p = realloc(s->rx_qos2, n * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->rx_qos2 = p;
        s->caprx2 = (uint16_t)n;
    }
    s->rx_qos2[s->nrx2++] = pid;
    return 0;
}

bool session_rx2_release(session_t *s, uint16_t pid)
{
    bool found = false;
    for (uint16_t i = 0; i < s->nrx2 && !found; i++) {
        if (s->rx_qos2[i] == pid) {
            s->rx_qos2[i] = s->rx_qos2[--s->nrx2];
            found = true;
        }
    }
    if (s->nrx2 == 0) {
        free(s->rx_qos2);
        s->rx_qos2 = NULL;
        s->caprx2 = 0;
    }
    return found;
}

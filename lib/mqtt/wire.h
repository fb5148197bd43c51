/* wire: helpers private to lib/mqtt's .c files (not part of the API). */
#ifndef ROOST_MQTT_WIRE_H
#define ROOST_MQTT_WIRE_H

#include <stdbool.h>
#include <stdint.h>

/* Returns from the calling function when expr yields a nonzero code. */
#define TRY(expr)                \
    do {                         \
        int try_rc_ = (expr);    \
        if (try_rc_ != 0)        \
            return try_rc_;      \
    } while (0)

/* Was the k-byte variable byte integer at p encoded in the minimum number
 * of bytes [MQTT-1.5.5-1]? Only a last byte of 0 (a zero top group after a
 * continuation) makes it longer than needed. */
static inline bool varint_minimal(const uint8_t *p, int k)
{
    return k == 1 || p[k - 1] != 0;
}

#endif

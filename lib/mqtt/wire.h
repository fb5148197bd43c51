/* wire: helpers private to lib/mqtt's .c files (not part of the API). */
#ifndef ROOST_MQTT_WIRE_H
#define ROOST_MQTT_WIRE_H

/* Returns from the calling function when expr yields a nonzero code. */
#define TRY(expr)                \
    do {                         \
        int try_rc_ = (expr);    \
        if (try_rc_ != 0)        \
            return try_rc_;      \
    } while (0)

#endif

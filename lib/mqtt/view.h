/* view: mqtt_str_t, the (ptr, len) view the codec hands out (mqtt.h). */
#ifndef ROOST_MQTT_VIEW_H
#define ROOST_MQTT_VIEW_H

#include <stdint.h>

/* A view of bytes in the caller's buffer. For strings, not NUL-terminated. */
typedef struct mqtt_str {
    const uint8_t *ptr;
    uint32_t len;
} mqtt_str_t;

#endif

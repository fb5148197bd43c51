/* share: shared-subscription filters, "$share/{ShareName}/{filter}" (MQTT
 * 5.0 section 4.8.2; Roost accepts them from 3.1.1 clients too, as EMQX,
 * HiveMQ and VerneMQ do). Pure.
 *
 * The ShareName is at least one character and holds no '/', '+' or '#'
 * [MQTT-4.8.2-1, -2]; the filter after it is a valid topic filter
 * (topic.h). "$share" alone, or any filter not starting with "$share/", is
 * an ordinary filter.
 */
#ifndef ROOST_MQTT_SHARE_H
#define ROOST_MQTT_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

/* Views into the string share_parse was given. */
typedef struct share_filter {
    const char *name;
    size_t name_len;
    const char *filter;
    size_t filter_len;
} share_filter_t;

/* True if s starts with "$share/" (whether or not the rest is valid). */
static inline bool share_is(const char *s, size_t len)
{
    return len >= SHARE_PREFIX_LEN && memcmp(s, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

/* 1 and *out filled for a valid shared filter; 0 for an ordinary filter
 * (out untouched); ROOST_EPROTO_TOPIC for a "$share/" string whose
 * ShareName or filter is invalid (5.0: reason 0x8F). */
int share_parse(const char *s, size_t len, share_filter_t *out);

/* The filter a subscription matches topics with and the ACL checks: the
 * part after the ShareName for a valid shared filter, s itself otherwise. */
static inline void share_inner(const char *s, size_t len, const char **f, size_t *flen)
{
    share_filter_t sf;
    if (share_is(s, len) && share_parse(s, len, &sf) == 1) {
        *f = sf.filter;
        *flen = sf.filter_len;
    } else {
        *f = s;
        *flen = len;
    }
}

#endif

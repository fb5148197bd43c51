/* topic: MQTT topic names and filters (MQTT 3.1.1 section 4.7). Pure.
 *
 * A topic name has no wildcards; a filter may use '+' alone in a level and
 * '#' alone as the last level. Both are 1..65535 bytes of valid UTF-8
 * (checked by the codec; these functions check the structure). Empty levels
 * are legal ("a//b", "/a"). Topics starting with '$' are not matched by a
 * filter whose first level is a wildcard [MQTT-4.7.2-1].
 */
#ifndef ROOST_MQTT_TOPIC_H
#define ROOST_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* 0, or ROOST_EPROTO_TOPIC for an empty name, one over 65535 bytes, or one
 * containing '+' or '#'. */
int topic_check_name(const char *s, size_t len);
/* 0, or ROOST_EPROTO_TOPIC for an empty filter, one over 65535 bytes, or
 * misplaced wildcards. */
int topic_check_filter(const char *s, size_t len);
/* Does the (valid) filter match the (valid) topic name? Honours the
 * '$' rule above. Never allocates, never reads past either length; an empty
 * filter matches nothing. */
bool topic_match(const char *filter, size_t flen, const char *topic, size_t tlen);
/* True if the filter contains '+' or '#'. */
bool topic_has_wildcard(const char *s, size_t len);
/* Length of the literal prefix before the first wildcard level, e.g.
 * "a/b/+/c" -> 4 ("a/b/"), "a/b" -> 3, "#" -> 0, "a/#" -> 1 ("a": '#'
 * also matches the parent level, so the '/' before it is not part of the
 * prefix). Guarantee: every topic name the filter matches begins with these
 * bytes. Used by the cluster bus. */
size_t topic_literal_prefix(const char *filter, size_t len);

#endif

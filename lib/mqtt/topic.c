/* topic: MQTT topic names and filters (MQTT 3.1.1 section 4.7). See topic.h.
 *
 * Everything here works on (pointer, length) views, allocates nothing and
 * never reads past len, so it is safe on unterminated buffers straight out of
 * the codec. A level is the (possibly empty) run of bytes between separators:
 * "a//b" has three levels "a", "", "b"; "/" has two empty levels.
 */
#include "mqtt/topic.h"

#include <string.h>

#include "base/err.h"

#define TOPIC_MAX_LEN 65535u

/* End of the level starting at pos: the index of the next '/' or len. */
static size_t level_end(const char *s, size_t len, size_t pos)
{
    const char *slash = memchr(s + pos, '/', len - pos);
    return slash ? (size_t)(slash - s) : len;
}

int topic_check_name(const char *s, size_t len)
{
    if (len == 0 || len > TOPIC_MAX_LEN)
        return ROOST_EPROTO_TOPIC; /* [MQTT-4.7.3-1] */
    if (memchr(s, '+', len) || memchr(s, '#', len))
        return ROOST_EPROTO_TOPIC; /* [MQTT-4.7.1-1] no wildcards in names */
    return 0;
}

int topic_check_filter(const char *s, size_t len)
{
    if (len == 0 || len > TOPIC_MAX_LEN)
        return ROOST_EPROTO_TOPIC; /* [MQTT-4.7.3-1] */
    size_t pos = 0;
    for (;;) {
        size_t end = level_end(s, len, pos);
        size_t n = end - pos;
        for (size_t i = pos; i < end; i++) {
            if (s[i] == '+' && n != 1)
                return ROOST_EPROTO_TOPIC; /* [MQTT-4.7.1-3] '+' fills a whole level */
            if (s[i] == '#' && (n != 1 || end != len))
                return ROOST_EPROTO_TOPIC; /* [MQTT-4.7.1-2] '#' alone and last */
        }
        if (end == len)
            return 0;
        pos = end + 1;
    }
}

/* Walks filter and topic level by level. The topic is "exhausted" once its
 * last level has been consumed (tpos == tlen + 1), which is what lets "a/#"
 * match "a": the '#' level is reached with no topic level left. */
bool topic_match(const char *filter, size_t flen, const char *topic, size_t tlen)
{
    if (flen == 0)
        return false;
    if (tlen > 0 && topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return false; /* [MQTT-4.7.2-1] */
    size_t fpos = 0, tpos = 0;
    for (;;) {
        size_t fend = level_end(filter, flen, fpos);
        size_t fn = fend - fpos;
        if (fn == 1 && filter[fpos] == '#')
            return true; /* matches this level, all below, and the parent */
        if (tpos > tlen)
            return false; /* filter has a level the topic lacks */
        size_t tend = level_end(topic, tlen, tpos);
        size_t tn = tend - tpos;
        bool plus = fn == 1 && filter[fpos] == '+';
        if (!plus && (fn != tn || memcmp(filter + fpos, topic + tpos, fn) != 0))
            return false;
        tpos = tend + 1;
        if (fend == flen)
            return tpos > tlen; /* both exhausted together */
        fpos = fend + 1;
    }
}

bool topic_has_wildcard(const char *s, size_t len)
{
    return len > 0 && (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL);
}

size_t topic_literal_prefix(const char *filter, size_t len)
{
    size_t pos = 0;
    for (;;) {
        size_t end = level_end(filter, len, pos);
        if (end - pos == 1 && filter[pos] == '+')
            return pos;
        if (end - pos == 1 && filter[pos] == '#')
            return pos ? pos - 1 : 0; /* "a/#" also matches "a": keep the '/' out */
        if (end == len)
            return len;
        pos = end + 1;
    }
}

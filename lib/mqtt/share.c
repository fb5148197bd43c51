#include "share.h"

#include "base/err.h"
#include "topic.h"

int share_parse(const char *s, size_t len, share_filter_t *out)
{
    if (!share_is(s, len))
        return 0;
    const char *name = s + SHARE_PREFIX_LEN;
    size_t rest = len - SHARE_PREFIX_LEN;
    const char *slash = memchr(name, '/', rest);
    if (!slash)
        return ROOST_EPROTO_TOPIC; /* "$share/name": no filter */
    size_t nl = (size_t)(slash - name);
    if (nl == 0 || memchr(name, '+', nl) || memchr(name, '#', nl))
        return ROOST_EPROTO_TOPIC;
    const char *f = slash + 1;
    size_t fl = rest - nl - 1;
    if (topic_check_filter(f, fl) != 0)
        return ROOST_EPROTO_TOPIC;
    *out = (share_filter_t){name, nl, f, fl};
    return 1;
}

/* fuzz: roost_base */
/* cidr_parse and cidr_list_parse (ban values from the admin API, peers,
 * --proxy-trusted) never read past their input and stay consistent: a
 * parsed range has a prefix within 128 bits and matches its own address;
 * a list that parses matches each of its ranges' addresses. Also the peer
 * parser and the kv quoting of the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cidr.h"
#include "base/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cidr_t c;
    if (cidr_parse(text, size, &c) == 0 && (c.bits > 128 || !cidr_match(&c, c.addr)))
        __builtin_trap();
    cidr_list_t l;
    size_t bad = 0;
    if (cidr_list_parse(text, &l, &bad) == 0) {
        for (size_t i = 0; i < l.n; i++)
            if (!cidr_list_match(&l, l.items[i].addr))
                __builtin_trap();
    } else if (bad > strlen(text)) {
        __builtin_trap();
    }
    const char *host;
    size_t hl = cidr_peer_host(text, &host);
    if (host < text || host + hl > text + strlen(text))
        __builtin_trap();
    cidr_parse_peer(text, &c);
    char out[64];
    kv_value(out, sizeof(out), text, 255);
    if (strlen(out) >= sizeof(out))
        __builtin_trap();
    free(text);
    return 0;
}

/* mqtt_test.h: helpers shared by the lib/mqtt unit tests. Header-only, for
 * cmocka test files that link roost_mqtt: a guard page for the group
 * (g_guard, opened by guard_setup, freed by guard_teardown: pass both to
 * cmocka_run_group_tests) and the hex notation of test inputs (unhex). */
#ifndef ROOST_TEST_MQTT_TEST_H
#define ROOST_TEST_MQTT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "mqtt/mqtt.h"

/* Bytes of input the guard holds. */
#define MQTT_TEST_GUARD_CAP (64u * 1024u)
static struct guard g_guard;

static int guard_setup(void **state)
{
    (void)state;
    return guard_open(&g_guard, MQTT_TEST_GUARD_CAP);
}

static int guard_teardown(void **state)
{
    (void)state;
    return guard_free(&g_guard);
}

/* Copies src so that its last byte is the last readable byte of g_guard (a
 * read past it crashes). The copy stays valid until the next call. */
static inline const uint8_t *guarded(const uint8_t *src, size_t n)
{
    return guard_put_bytes(&g_guard, src, n);
}

/* mqtt_decode from a guarded copy of src. */
static inline int gdecode(mqtt_decoder_t *d, const uint8_t *src, size_t n, size_t *used, mqtt_packet_t *out)
{
    return mqtt_decode(d, guarded(src, n), n, used, out);
}

/* "30 LL 00 03 'a/b' ff": hex bytes, 'quoted ASCII', and LL, replaced by the
 * remaining-length varint of every byte after it. */
static inline size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    uint8_t tmp[1024];
    size_t n = 0, ll = SIZE_MAX;
    while (*s) {
        if (*s == ' ') {
            s++;
        } else if (*s == '\'') {
            for (s++; *s && *s != '\''; s++)
                tmp[n++] = (uint8_t)*s;
            assert_int_equal(*s, '\'');
            s++;
        } else if (s[0] == 'L' && s[1] == 'L') {
            ll = n;
            s += 2;
        } else {
            unsigned v;
            assert_int_equal(sscanf(s, "%2x", &v), 1);
            tmp[n++] = (uint8_t)v;
            s += 2;
        }
        assert_true(n < sizeof tmp);
    }
    if (ll == SIZE_MAX) {
        assert_true(n <= cap);
        memcpy(out, tmp, n);
        return n;
    }
    uint8_t vi[4];
    int k = mqtt_varint_encode((uint32_t)(n - ll), vi);
    assert_true(n + (size_t)k <= cap);
    memcpy(out, tmp, ll);
    memcpy(out + ll, vi, (size_t)k);
    memcpy(out + ll + k, tmp + ll, n - ll);
    return n + (size_t)k;
}

#endif

/* Unit tests for lib/mqtt's UTF-8 check [MQTT-1.5.4-1..3]: a table of
 * well-formed and ill-formed sequences, the position of the first bad byte,
 * and an exhaustive comparison with a reference validator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "mqtt/mqtt.h"
#include "mqtt_test.h"

#define MALFORMED ROOST_EPROTO_MALFORMED
#define UTF8 ROOST_EPROTO_UTF8

/* ---- UTF-8 ---------------------------------------------------------------- */

static void test_utf8_table(void **state)
{
    (void)state;
    const struct {
        const char *name, *hex;
        int rc;
    } t[] = {
        {"empty", "", 0},
        {"ascii", "'hello/world'", 0},
        {"2-byte U+00E9", "c3 a9", 0},
        {"2-byte U+0080", "c2 80", 0},
        {"2-byte U+07FF", "df bf", 0},
        {"3-byte U+0800", "e0 a0 80", 0},
        {"3-byte U+20AC", "e2 82 ac", 0},
        {"3-byte U+D7FF", "ed 9f bf", 0},
        {"3-byte U+E000", "ee 80 80", 0},
        {"3-byte U+FEFF BOM", "ef bb bf", 0},
        {"3-byte U+FFFF", "ef bf bf", 0},
        {"4-byte U+10000", "f0 90 80 80", 0},
        {"4-byte U+1F600", "f0 9f 98 80", 0},
        {"4-byte U+10FFFF", "f4 8f bf bf", 0},
        {"MQTT-1.5.3-2 U+0000", "00", UTF8},
        {"MQTT-1.5.3-2 U+0000 inside", "'abc' 00 'def'", UTF8},
        {"overlong 2-byte c0 80", "c0 80", UTF8},
        {"overlong 2-byte c1 bf", "c1 bf", UTF8},
        {"overlong 3-byte e0 80 80", "e0 80 80", UTF8},
        {"overlong 3-byte e0 9f bf", "e0 9f bf", UTF8},
        {"overlong 4-byte f0 80 80 80", "f0 80 80 80", UTF8},
        {"overlong 4-byte f0 8f bf bf", "f0 8f bf bf", UTF8},
        {"MQTT-1.5.3-1 surrogate U+D800", "ed a0 80", UTF8},
        {"MQTT-1.5.3-1 surrogate U+DFFF", "ed bf bf", UTF8},
        {"above U+10FFFF f4 90", "f4 90 80 80", UTF8},
        {"lead f5", "f5 80 80 80", UTF8},
        {"lead ff", "ff", UTF8},
        {"lone continuation", "80", UTF8},
        {"truncated 2-byte", "c3", UTF8},
        {"truncated 3-byte", "e2 82", UTF8},
        {"truncated 4-byte", "f0 9f 98", UTF8},
        {"bad continuation", "e2 28 ac", UTF8},
        {"bad 4th byte", "f0 9f 98 41", UTF8},
        {"ascii then truncated", "'abcdefgh' e2", UTF8},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t b[64];
        size_t n = unhex(t[i].hex, b, sizeof b);
        int rc = mqtt_utf8_check(guarded(b, n), n);
        if (rc != t[i].rc)
            fail_msg("%s: rc %d want %d", t[i].name, rc, t[i].rc);
    }
}

/* A bad byte or a multibyte character at every offset around the 8-byte
 * fast path's word boundaries. */
static void test_utf8_positions(void **state)
{
    (void)state;
    for (size_t len = 1; len <= 40; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            uint8_t b[48];
            memset(b, 'a', len);
            b[pos] = 0;
            assert_int_equal(mqtt_utf8_check(guarded(b, len), len), UTF8);
            b[pos] = 0x80;
            assert_int_equal(mqtt_utf8_check(guarded(b, len), len), UTF8);
            b[pos] = 0x7f;
            assert_int_equal(mqtt_utf8_check(guarded(b, len), len), 0);
            if (pos + 3 <= len) {
                memcpy(b + pos, "\xe2\x82\xac", 3);
                assert_int_equal(mqtt_utf8_check(guarded(b, len), len), 0);
                assert_int_equal(mqtt_utf8_check(guarded(b, pos + 2), pos + 2), UTF8);
            }
        }
    }
}

/* Reference: a slow decoder written from Unicode table 3-7, plus no U+0000. */
static bool ref_valid(const uint8_t *s, size_t n)
{
    static const uint32_t min[] = {0, 1, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t need;
        if (c < 0x80)
            need = 1, cp = c;
        else if ((c & 0xE0) == 0xC0)
            need = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            need = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            need = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < need)
            return false;
        for (size_t k = 1; k < need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need;
    }
    return true;
}

static void test_utf8_exhaustive(void **state)
{
    (void)state;
    uint8_t s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        assert_int_equal(mqtt_utf8_check(s, 1) == 0, ref_valid(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            assert_int_equal(mqtt_utf8_check(s, 2) == 0, ref_valid(s, 2));
        }
    }
    for (unsigned a = 0xE0; a < 0x100; a++) {
        for (unsigned b = 0; b < 256; b++) {
            for (unsigned c = 0x70; c < 0xC8; c++) {
                s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = (uint8_t)c;
                assert_int_equal(mqtt_utf8_check(s, 3) == 0, ref_valid(s, 3));
                s[3] = 0x80;
                assert_int_equal(mqtt_utf8_check(s, 4) == 0, ref_valid(s, 4));
                s[3] = 0xBF;
                assert_int_equal(mqtt_utf8_check(s, 4) == 0, ref_valid(s, 4));
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_table),
        cmocka_unit_test(test_utf8_positions),
        cmocka_unit_test(test_utf8_exhaustive),
    };
    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}

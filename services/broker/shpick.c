#include "shpick.h"

int shpick_weighted(int32_t *cur, const uint16_t *weight, int n, uint64_t skip)
{
    int32_t total = 0;
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!weight[i] || (skip >> i & 1))
            continue;
        cur[i] += weight[i];
        total += weight[i];
        if (best < 0 || cur[i] > cur[best])
            best = i;
    }
    if (best >= 0)
        cur[best] -= total;
    return best;
}

int shpick_next(uint32_t *cursor, uint32_t n, shpick_ok_fn ok, void *arg)
{
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (*cursor + k) % n;
        if (ok(arg, i)) {
            *cursor = (i + 1) % n;
            return (int)i;
        }
    }
    return -1;
}

/* rng.c — seeding of the generator (common.h, section random numbers); the draw itself is inline there. */
#include "common/common.h"

uint64_t sb_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t sb_splitmix64(uint64_t *state)
{
    return sb_mix64(*state += 0x9E3779B97F4A7C15ull);
}

sb_rng sb_rng_seed(uint64_t key)
{
    sb_rng r;
    for (int i = 0; i < 4; i++)
        r.s[i] = sb_splitmix64(&key);
    return r;
}

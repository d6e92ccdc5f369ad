// CABILDO_ASSERT: an invariant check that stays on in release builds.
//
// A broken invariant is a bug, not an expected outcome: the process prints the
// file, line, condition and message and aborts. Expected outcomes (not leader,
// key missing, bad input) are values, never asserts.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CABILDO_ASSERT(cond, msg)                                                           \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            std::fprintf(stderr, "%s:%d: assertion failed: %s: %s\n", __FILE__, __LINE__, \
                         #cond, msg);                                                       \
            std::abort();                                                                   \
        }                                                                                   \
    } while (0)

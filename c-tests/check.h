/* Minimal assertion helpers for the C test programs: each failed check is
 * printed with its location and counted; CHECK_DONE() returns the exit code. */
#ifndef XP2P_CTEST_CHECK_H
#define XP2P_CTEST_CHECK_H

#include <stdio.h>
#include "wait_scale.h"

static int check_failures_ = 0;
static int check_count_ = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    check_count_++;                                                          \
    if (!(cond)) {                                                           \
      check_failures_++;                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
  do {                                                                       \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);          \
    check_count_++;                                                          \
    if (check_a_ != check_b_) {                                              \
      check_failures_++;                                                     \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n",   \
              __FILE__, __LINE__, #a, #b, check_a_, check_b_);               \
    }                                                                        \
  } while (0)

#define CHECK_DONE()                                                         \
  (printf("%d checks, %d failed\n", check_count_, check_failures_),          \
   check_failures_ == 0 ? 0 : 1)

#endif

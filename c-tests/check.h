/* Minimal assertion helpers for the C test programs: each failed check is
 * printed with its location and counted; CHECK_DONE() returns the exit code. */
#ifndef XP2P_CTEST_CHECK_H
#define XP2P_CTEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

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

/* How long a test waits for something it expects to happen: `ms` times
 * XP2P_TEST_WAIT_SCALE (a whole number, 1 when unset; scripts/c-tests.sh
 * sets it for sanitizer and valgrind runs). Such a wait ends as soon as the
 * condition holds, so the scale only stretches how long a failure takes to
 * show; it keeps a slow run (valgrind, a busy machine) from failing. Waits
 * that check that nothing happens are not scaled. */
static inline unsigned long long check_wait_ms(unsigned long long ms) {
  const char *s = getenv("XP2P_TEST_WAIT_SCALE");
  long k = s ? strtol(s, NULL, 10) : 1;
  if (k < 1) k = 1;
  if (k > 100) k = 100;
  return ms * (unsigned long long)k;
}

#define CHECK_DONE()                                                         \
  (printf("%d checks, %d failed\n", check_count_, check_failures_),          \
   check_failures_ == 0 ? 0 : 1)

#endif

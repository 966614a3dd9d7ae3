/* check_wait_ms(): the one knob that stretches a C test's waits for
 * expected events (XP2P_TEST_WAIT_SCALE). */
#ifndef XP2P_CTEST_WAIT_SCALE_H
#define XP2P_CTEST_WAIT_SCALE_H

#include <stdlib.h>

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

#endif

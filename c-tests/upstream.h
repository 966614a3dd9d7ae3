/* The behaviours upstream's own tests assert (spec section 6), one function
 * each, named suite.Name after the upstream test: the C tests
 * test_upstream_*.c list them in a table and run them all. A behaviour
 * holds when its function returns 1; EXPECT() prints the failed condition
 * and returns 0. */
#ifndef XP2P_CTEST_UPSTREAM_H
#define XP2P_CTEST_UPSTREAM_H

#include <stdio.h>
#include <string.h>

#include "wait_scale.h"

#define EXPECT(cond)                                                     \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "  %s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      return 0;                                                          \
    }                                                                    \
  } while (0)

typedef struct {
  const char *suite;
  const char *name;
  int (*fn)(void);
  /* Why the behaviour may not hold here (NULL: it must). */
  const char *exception;
  /* 1 for a check of ours rather than an upstream test name. */
  int ours;
} Behaviour;

#define BEHAVIOUR(suite, name) {#suite, #name, suite##_##name, NULL, 0}
#define EXCUSED(suite, name, why) {#suite, #name, suite##_##name, why, 0}
#define OURS(suite, name) {#suite, #name, suite##_##name, NULL, 1}

/* Runs every behaviour; prints one line each and the count. Returns the
 * exit status: 0 when every behaviour without an exception holds. */
static inline int run_behaviours(const char *what, const Behaviour *b, size_t n) {
  size_t i, held = 0, failed = 0, excused = 0, ours = 0, ours_held = 0;
  for (i = 0; i < n; i++) {
    int ok = b[i].fn();
    ours += (size_t)b[i].ours;
    if (ok && b[i].ours) ours_held++;
    if (ok) {
      held += (size_t)!b[i].ours;
      printf("ok      %s.%s\n", b[i].suite, b[i].name);
    } else if (b[i].exception) {
      excused++;
      printf("excused %s.%s (%s)\n", b[i].suite, b[i].name, b[i].exception);
    } else {
      failed++;
      printf("FAILED  %s.%s\n", b[i].suite, b[i].name);
    }
    fflush(stdout);
  }
  printf("%s: %zu of %zu upstream behaviours hold (%zu excused); %zu of %zu checks of ours hold; "
         "%zu failed\n",
         what, held, n - ours, excused, ours_held, ours, failed);
  return failed == 0 ? 0 : 1;
}

#endif

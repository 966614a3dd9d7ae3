/* The xbase event loop through the installed headers: fd readiness
 * (edge-triggered), timers, functions posted from a second thread, stop from
 * another thread, deletion inside callbacks, signals, and NULL arguments for
 * every function of event.h, error.h and time.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <xbase/base.h>
#include <xbase/error.h>
#include <xbase/event.h>
#include <xbase/time.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

static void make_pipe(int fds[2]) {
  CHECK_EQ_INT(pipe(fds), 0);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
}

/* ---- base.h ---- */

XDEF_STRUCT(Outer) {
  int before;
  int member;
};

XDEF_ENUM(Colour){ Colour_Red = 0, Colour_Green = 1 };
XDEF_HANDLE(Thing);

static void test_base_macros(void) {
  Outer o;
  int *inner = &o.member;
  bool yes = true;
  Colour c = Colour_Green;
  Thing t = &o;
  CHECK(xContainerOf(inner, Outer, member) == &o);
  CHECK(yes);
  CHECK_EQ_INT(sizeof(Colour), sizeof(int));
  CHECK_EQ_INT(c, 1);
  CHECK(t == (void *)&o);
}

/* ---- error.h, time.h ---- */

static void test_errors_and_clocks(void) {
  int i, j;
  uint64_t a, b;
  CHECK_EQ_INT(xErrno_Ok, 0);
  CHECK_EQ_INT(xErrno_Again, 14);
  CHECK_EQ_INT(xErrno_PromptTooLong, 17);
  for (i = 0; i <= 17; i++) {
    CHECK(xstrerror(i) != NULL && xstrerror(i)[0] != '\0');
    for (j = 0; j < i; j++) CHECK(strcmp(xstrerror(i), xstrerror(j)) != 0);
  }
  CHECK(strcmp(xstrerror(-1), "unknown error") == 0);
  CHECK(strcmp(xstrerror(18), "unknown error") == 0);
  CHECK(strcmp(xstrerror(xErrno_InvalidArg), "invalid argument") == 0);

  a = xMonoMs();
  sleep_ms(20);
  b = xMonoMs();
  CHECK(b - a >= 20 && b - a < 5000);
  CHECK(xEventLoopNowMs() >= b);
  CHECK(xWallMs() > (uint64_t)1577836800000ULL); /* after 2020 */
}

/* ---- fds ---- */

typedef struct {
  int calls;
  int last_fd;
  xEventMask last_mask;
  char last_byte;
} FdLog;

static void read_one(int fd, xEventMask mask, void *arg) {
  FdLog *log = (FdLog *)arg;
  char b = 0;
  if (read(fd, &b, 1) != 1) b = 0;
  log->calls++;
  log->last_fd = fd;
  log->last_mask = mask;
  log->last_byte = b;
}

static void note_fd(int fd, xEventMask mask, void *arg) {
  FdLog *log = (FdLog *)arg;
  log->calls++;
  log->last_fd = fd;
  log->last_mask = mask;
}

static void test_fd_readiness(void) {
  xEventLoop lp = xEventLoopCreate();
  FdLog log;
  int p[2];
  xEventSource src, wsrc;
  char rest[8];
  memset(&log, 0, sizeof log);
  CHECK(lp != NULL);
  make_pipe(p);
  src = xEventAdd(lp, p[0], xEvent_Read, read_one, &log);
  CHECK(src != NULL);
  CHECK_EQ_INT(xEventWait(lp, 0), 0);

  CHECK_EQ_INT(write(p[1], "ab", 2), 2);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(log.calls, 1);
  CHECK_EQ_INT(log.last_fd, p[0]);
  CHECK_EQ_INT(log.last_mask, xEvent_Read);
  CHECK_EQ_INT(log.last_byte, 'a');
  /* Edge-triggered: the byte left behind is not reported again... */
  CHECK_EQ_INT(xEventWait(lp, 20), 0);
  CHECK_EQ_INT(log.calls, 1);
  /* ...until new data arrives. */
  CHECK_EQ_INT(write(p[1], "c", 1), 1);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(log.calls, 2);
  CHECK_EQ_INT(log.last_byte, 'b');

  /* Write readiness, and the same fd twice is refused. */
  wsrc = xEventAdd(lp, p[1], xEvent_Write, note_fd, &log);
  CHECK(wsrc != NULL);
  CHECK(xEventAdd(lp, p[1], xEvent_Read, note_fd, &log) == NULL);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(log.last_fd, p[1]);
  CHECK_EQ_INT(log.last_mask, xEvent_Write);
  CHECK_EQ_INT(xEventMod(lp, wsrc, xEvent_Write), xErrno_Ok);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(log.calls, 4);

  /* Deleted: no callback, the fd stays open. */
  CHECK_EQ_INT(xEventDel(lp, src), xErrno_Ok);
  CHECK_EQ_INT(xEventDel(lp, src), xErrno_NotFound);
  CHECK_EQ_INT(xEventMod(lp, src, xEvent_Read), xErrno_NotFound);
  CHECK_EQ_INT(xEventDel(lp, wsrc), xErrno_Ok);
  CHECK_EQ_INT(write(p[1], "d", 1), 1);
  CHECK_EQ_INT(xEventWait(lp, 20), 0);
  CHECK_EQ_INT(log.calls, 4);
  CHECK_EQ_INT(read(p[0], rest, sizeof rest), 2);

  xEventLoopDestroy(lp);
  close(p[0]);
  close(p[1]);
}

/* Two ready sources whose callbacks delete each other: only one runs. */
typedef struct {
  xEventLoop lp;
  xEventSource src[2];
  int fd[2];
  int calls;
} Pair;

static void delete_other(int fd, xEventMask mask, void *arg) {
  Pair *p = (Pair *)arg;
  (void)mask;
  p->calls++;
  CHECK_EQ_INT(xEventDel(p->lp, fd == p->fd[0] ? p->src[1] : p->src[0]), xErrno_Ok);
}

static void test_delete_inside_callback(void) {
  Pair pair;
  int a[2], b[2];
  memset(&pair, 0, sizeof pair);
  pair.lp = xEventLoopCreate();
  make_pipe(a);
  make_pipe(b);
  pair.fd[0] = a[0];
  pair.fd[1] = b[0];
  pair.src[0] = xEventAdd(pair.lp, a[0], xEvent_Read, delete_other, &pair);
  pair.src[1] = xEventAdd(pair.lp, b[0], xEvent_Read, delete_other, &pair);
  CHECK(pair.src[0] != NULL && pair.src[1] != NULL);
  CHECK_EQ_INT(write(a[1], "x", 1), 1);
  CHECK_EQ_INT(write(b[1], "y", 1), 1);
  CHECK_EQ_INT(xEventWait(pair.lp, 1000), 1);
  CHECK_EQ_INT(pair.calls, 1);
  xEventLoopDestroy(pair.lp);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
}

/* ---- timers ---- */

typedef struct {
  int order[8];
  int n;
} Order;

typedef struct {
  Order *order;
  int tag;
} Tagged;

static void on_timer(void *arg) {
  Tagged *t = (Tagged *)arg;
  if (t->order->n < 8) t->order->order[t->order->n++] = t->tag;
}

static void run_until(xEventLoop lp, const int *counter, int n, uint64_t ms) {
  uint64_t end = xMonoMs() + check_wait_ms(ms);
  while (*counter < n && xMonoMs() < end) CHECK(xEventWait(lp, 10) >= 0);
}

static void test_timers(void) {
  xEventLoop lp = xEventLoopCreate();
  xEventLoop other = xEventLoopCreate();
  Order order;
  Tagged tags[6];
  xEventTimer cancelled, fired;
  uint64_t start = xMonoMs();
  int i;
  memset(&order, 0, sizeof order);
  for (i = 0; i < 6; i++) {
    tags[i].order = &order;
    tags[i].tag = i;
  }
  /* 100 ms apart, so that a slow run (valgrind) between reading `start` and
   * arming the relative timers cannot reorder them against the absolute one. */
  CHECK(xEventLoopTimerAfter(lp, on_timer, &tags[0], 400) != NULL);
  CHECK(xEventLoopTimerAfter(lp, on_timer, &tags[1], 100) != NULL);
  CHECK(xEventLoopTimerAfter(lp, on_timer, &tags[2], 300) != NULL);
  CHECK(xEventLoopTimerAt(lp, on_timer, &tags[3], start + 200) != NULL);
  cancelled = xEventLoopTimerAfter(lp, on_timer, &tags[4], 10);
  CHECK(cancelled != NULL);
  CHECK_EQ_INT(xEventLoopTimerCancel(other, cancelled), xErrno_Unknown);
  CHECK_EQ_INT(xEventLoopTimerCancel(lp, cancelled), xErrno_Ok);
  CHECK_EQ_INT(xEventLoopTimerCancel(lp, cancelled), xErrno_Unknown);

  run_until(lp, &order.n, 4, 3000);
  CHECK_EQ_INT(order.n, 4);
  CHECK_EQ_INT(order.order[0], 1);
  CHECK_EQ_INT(order.order[1], 3);
  CHECK_EQ_INT(order.order[2], 2);
  CHECK_EQ_INT(order.order[3], 0);
  CHECK(xMonoMs() - start >= 400);

  /* A blocking wait ends when the timer is due; a fired timer cannot be
   * cancelled. */
  start = xMonoMs(); /* before arming: the timer counts from its own call */
  fired = xEventLoopTimerAfter(lp, on_timer, &tags[5], 15);
  CHECK_EQ_INT(xEventWait(lp, -1), 1);
  CHECK(xMonoMs() - start >= 15);
  CHECK_EQ_INT(order.n, 5);
  CHECK_EQ_INT(order.order[4], 5);
  CHECK_EQ_INT(xEventLoopTimerCancel(lp, fired), xErrno_Unknown);

  xEventLoopDestroy(other);
  xEventLoopDestroy(lp);
}

/* ---- threads: post, stop, timers from another thread ---- */

#define POSTS 100

typedef struct {
  xEventLoop lp;
  int seen[POSTS];
  int n;
  int values[POSTS];
} PostState;

static PostState post_state;

static void on_post(void *arg) {
  int v = *(int *)arg;
  if (post_state.n < POSTS) post_state.seen[post_state.n++] = v;
  if (post_state.n == POSTS) xEventLoopStop(post_state.lp);
}

static void *poster(void *arg) {
  int i;
  (void)arg;
  for (i = 0; i < POSTS; i++) {
    CHECK_EQ_INT(xEventLoopPost(post_state.lp, on_post, &post_state.values[i]), xErrno_Ok);
    if (i % 25 == 0) sleep_ms(2);
  }
  return NULL;
}

static void test_post_from_thread(void) {
  pthread_t th;
  int i;
  memset(&post_state, 0, sizeof post_state);
  post_state.lp = xEventLoopCreate();
  for (i = 0; i < POSTS; i++) post_state.values[i] = i;
  CHECK_EQ_INT(pthread_create(&th, NULL, poster, NULL), 0);
  xEventLoopRun(post_state.lp);
  pthread_join(th, NULL);
  CHECK_EQ_INT(post_state.n, POSTS);
  for (i = 0; i < POSTS; i++) CHECK_EQ_INT(post_state.seen[i], i);
  xEventLoopDestroy(post_state.lp);
}

static void *stopper(void *arg) {
  sleep_ms(40);
  xEventLoopStop((xEventLoop)arg);
  return NULL;
}

static void *late_timer(void *arg) {
  static Order order;
  static Tagged tag;
  tag.order = &order;
  tag.tag = 9;
  sleep_ms(20);
  CHECK(xEventLoopTimerAfter((xEventLoop)arg, on_timer, &tag, 5) != NULL);
  return NULL;
}

static void *waker(void *arg) {
  sleep_ms(20);
  CHECK_EQ_INT(xEventWake((xEventLoop)arg), xErrno_Ok);
  return NULL;
}

static void test_stop_and_wake_from_thread(void) {
  xEventLoop lp = xEventLoopCreate();
  pthread_t th;
  uint64_t start = xMonoMs();
  int ran = 0;

  CHECK_EQ_INT(pthread_create(&th, NULL, stopper, lp), 0);
  xEventLoopRun(lp);
  CHECK(xMonoMs() - start >= 40);
  pthread_join(th, NULL);

  start = xMonoMs();
  CHECK_EQ_INT(pthread_create(&th, NULL, stopper, lp), 0);
  CHECK_EQ_INT(xEventLoopWait(lp, 10000), xErrno_Ok);
  CHECK(xMonoMs() - start >= 40);
  pthread_join(th, NULL);

  start = xMonoMs();
  CHECK_EQ_INT(xEventLoopWait(lp, 30), xErrno_Timeout);
  CHECK(xMonoMs() - start >= 30);

  /* A timer set from another thread wakes a wait with no time limit. */
  start = xMonoMs();
  CHECK_EQ_INT(pthread_create(&th, NULL, late_timer, lp), 0);
  while (ran == 0) {
    ran = xEventWait(lp, -1);
    CHECK(ran >= 0);
    if (ran < 0) break;
  }
  CHECK_EQ_INT(ran, 1);
  CHECK(xMonoMs() - start >= 25);
  pthread_join(th, NULL);

  CHECK_EQ_INT(pthread_create(&th, NULL, waker, lp), 0);
  CHECK_EQ_INT(xEventWait(lp, -1), 0);
  pthread_join(th, NULL);
  xEventLoopDestroy(lp);
}

/* ---- signals ---- */

static int last_signal = 0;

static void on_signal(int signo, void *arg) {
  (void)arg;
  last_signal = signo;
}

static void test_signal_watch(void) {
  xEventLoop lp = xEventLoopCreate();
  CHECK_EQ_INT(xEventLoopSignalWatch(lp, SIGUSR1, on_signal, NULL), xErrno_Ok);
  CHECK_EQ_INT(raise(SIGUSR1), 0);
  CHECK_EQ_INT(xEventWait(lp, 1000), 1);
  CHECK_EQ_INT(last_signal, SIGUSR1);
  CHECK_EQ_INT(xEventLoopSignalWatch(lp, SIGKILL, on_signal, NULL), xErrno_InvalidArg);
  xEventLoopDestroy(lp);
}

/* ---- NULL arguments ---- */

static void dummy_timer(void *arg) { (void)arg; }
static void dummy_signal(int signo, void *arg) {
  (void)signo;
  (void)arg;
}

static void test_null_arguments(void) {
  xEventLoop lp = xEventLoopCreate();
  xEventLoop gone = xEventLoopCreate();
  int p[2];
  make_pipe(p);
  xEventLoopDestroy(gone);

  xEventLoopDestroy(NULL);
  CHECK(xEventAdd(NULL, p[0], xEvent_Read, note_fd, NULL) == NULL);
  CHECK(xEventAdd(lp, p[0], xEvent_Read, NULL, NULL) == NULL);
  CHECK(xEventAdd(lp, -1, xEvent_Read, note_fd, NULL) == NULL);
  CHECK(xEventAdd(gone, p[0], xEvent_Read, note_fd, NULL) == NULL);
  CHECK_EQ_INT(xEventMod(NULL, NULL, xEvent_Read), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventMod(lp, NULL, xEvent_Read), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventDel(NULL, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventDel(lp, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventWait(NULL, 0), -1);
  CHECK_EQ_INT(xEventWait(gone, 0), -1);
  CHECK_EQ_INT(xEventWake(NULL), xErrno_InvalidArg);
  CHECK(xEventLoopTimerAfter(NULL, dummy_timer, NULL, 1) == NULL);
  CHECK(xEventLoopTimerAfter(lp, NULL, NULL, 1) == NULL);
  CHECK(xEventLoopTimerAt(NULL, dummy_timer, NULL, 1) == NULL);
  CHECK(xEventLoopTimerAt(lp, NULL, NULL, 1) == NULL);
  CHECK_EQ_INT(xEventLoopTimerCancel(NULL, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventLoopTimerCancel(lp, NULL), xErrno_Unknown);
  CHECK_EQ_INT(xEventLoopPost(NULL, dummy_timer, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventLoopPost(lp, NULL, NULL), xErrno_InvalidArg);
  xEventLoopRun(NULL);
  xEventLoopStop(NULL);
  CHECK_EQ_INT(xEventLoopWait(NULL, 0), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventLoopWait(gone, 0), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventLoopSignalWatch(NULL, SIGUSR2, dummy_signal, NULL), xErrno_InvalidArg);
  CHECK_EQ_INT(xEventLoopSignalWatch(lp, SIGUSR2, NULL, NULL), xErrno_InvalidArg);
  CHECK(xstrerror(12345) != NULL);

  xEventLoopDestroy(lp);
  close(p[0]);
  close(p[1]);
}

int main(void) {
  test_base_macros();
  test_errors_and_clocks();
  test_fd_readiness();
  test_delete_inside_callback();
  test_timers();
  test_post_from_thread();
  test_stop_and_wake_from_thread();
  test_null_arguments();
  test_signal_watch();
  return CHECK_DONE();
}

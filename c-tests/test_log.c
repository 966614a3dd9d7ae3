/* Logging (xp2p/log.h): XP2P_LOG read once at first use, filter strings,
 * levels per component, the callback sink (called from library threads,
 * safe while another thread changes the settings), the default stderr sink,
 * and nothing at all when logging is off. No time bounds: waits are bounded
 * loops that end as soon as their condition holds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/log.h>
#include <xp2p/peer_connection.h>

#include "check.h"
#include "pc_pair.h"

#define WAIT_MS 120000
#define MAX_COMPONENTS 16

/* What the callback saw; written from any library thread. */
typedef struct Seen {
  pthread_mutex_t lock;
  int total;
  int by_level[6];
  int bad_level;
  int off_thread; /* records delivered on a thread other than main's */
  int reentrant_ok;
  char components[MAX_COMPONENTS][16];
  int ncomponents;
  int dtls_connected; /* "connected ... DTLSv1.2, cipher ..." */
  int pc_state;       /* "state ... -> Connected" */
  int ice_candidate;  /* "local candidate a=candidate:..." */
  int ice_check;      /* debug "check ... -> ..." */
  int sctp_up;        /* "association up" */
  int empty;
} Seen;

static Seen seen = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, 0, 0, 0, {{0}}, 0, 0, 0, 0, 0, 0, 0};
static pthread_t main_thread;

static void reset_seen(void) {
  pthread_mutex_lock(&seen.lock);
  seen.total = seen.bad_level = seen.off_thread = seen.reentrant_ok = 0;
  memset(seen.by_level, 0, sizeof seen.by_level);
  memset(seen.components, 0, sizeof seen.components);
  seen.ncomponents = 0;
  seen.dtls_connected = seen.pc_state = seen.ice_candidate = seen.ice_check = seen.sctp_up = 0;
  seen.empty = 0;
  pthread_mutex_unlock(&seen.lock);
}

static int has_component(const char *c) {
  int i, r = 0;
  pthread_mutex_lock(&seen.lock);
  for (i = 0; i < seen.ncomponents; i++) r |= strcmp(seen.components[i], c) == 0;
  pthread_mutex_unlock(&seen.lock);
  return r;
}

static void on_log(xP2PLogLevel level, const char *component, const char *message, void *ctx) {
  int i, known = 0;
  /* Calling back into the logging API from the callback must not block. */
  xP2PLogLevel now = xP2PLogGetLevel(component);
  CHECK(ctx == &seen);
  pthread_mutex_lock(&seen.lock);
  seen.total++;
  if (level >= xP2PLogLevel_Error && level <= xP2PLogLevel_Trace)
    seen.by_level[level]++;
  else
    seen.bad_level++;
  if (now >= level) seen.reentrant_ok++;
  if (!pthread_equal(pthread_self(), main_thread)) seen.off_thread++;
  if (!component || !message || !message[0]) seen.empty++;
  if (component) {
    for (i = 0; i < seen.ncomponents; i++) known |= strcmp(seen.components[i], component) == 0;
    if (!known && seen.ncomponents < MAX_COMPONENTS)
      snprintf(seen.components[seen.ncomponents++], 16, "%s", component);
  }
  if (component && message) {
    if (!strcmp(component, "dtls") && strstr(message, "connected") && strstr(message, "DTLSv1.2") &&
        strstr(message, "cipher") && strstr(message, "sha-256 "))
      seen.dtls_connected++;
    if (!strcmp(component, "pc") && strstr(message, "-> Connected")) seen.pc_state++;
    if (!strcmp(component, "ice") && strstr(message, "local candidate a=candidate:"))
      seen.ice_candidate++;
    if (!strcmp(component, "ice") && level == xP2PLogLevel_Debug && !strncmp(message, "check ", 6))
      seen.ice_check++;
    if (!strcmp(component, "sctp") && strstr(message, "association up")) seen.sctp_up++;
  }
  pthread_mutex_unlock(&seen.lock);
}

/* Two PeerConnections on loopback, one message each way. */
static PcSide A, B;

static void spin_until(xEventLoop loop, int (*cond)(void)) {
  uint64_t end = xMonoMs() + WAIT_MS;
  while (xMonoMs() < end && !(cond && cond())) xEventWait(loop, 5);
}

static int b_got(void) { return B.msgs >= 1; }

/* Two PeerConnections connect on loopback and A sends one message. */
static void session(xEventLoop loop) {
  xDataChannelConf dc;
  xDataChannel ch;
  uint64_t end;
  if (!pc_pair_create(&A, loop, &B, loop)) return;
  dc = pc_pair_channel("log", true);
  ch = xPeerConnectionCreateDataChannel(A.pc, &dc);
  pc_pair_negotiate(&A, &B);
  end = xMonoMs() + WAIT_MS;
  while (xMonoMs() < end && !(A.opened >= 1 && A.state == xPeerConnectionState_Connected &&
                              B.state == xPeerConnectionState_Connected))
    xEventWait(loop, 5);
  CHECK_EQ_INT(A.opened, 1);
  CHECK_EQ_INT(xDataChannelSendString(ch, "ping", 4), xErrno_Ok);
  spin_until(loop, b_got);
  CHECK_EQ_INT(B.msgs, 1);
  xPeerConnectionDestroy(A.pc);
  xPeerConnectionDestroy(B.pc);
  A.pc = B.pc = NULL;
  end = xMonoMs() + 200;
  while (xMonoMs() < end) xEventWait(loop, 5);
}

static void filters(void) {
  CHECK_EQ_INT(xP2PLogSetFilter("ice=trace, sctp=INFO"), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogGetLevel("ice"), xP2PLogLevel_Trace);
  CHECK_EQ_INT(xP2PLogGetLevel("sctp"), xP2PLogLevel_Info);
  CHECK_EQ_INT(xP2PLogGetLevel("dtls"), xP2PLogLevel_Off);
  CHECK_EQ_INT(xP2PLogGetLevel(NULL), xP2PLogLevel_Off);
  CHECK_EQ_INT(xP2PLogSetFilter("warn,dtls=debug"), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogGetLevel("dtls"), xP2PLogLevel_Debug);
  CHECK_EQ_INT(xP2PLogGetLevel("pc"), xP2PLogLevel_Warn);
  /* A bad string changes nothing. */
  CHECK_EQ_INT(xP2PLogSetFilter("loud"), xErrno_InvalidArg);
  CHECK_EQ_INT(xP2PLogSetFilter("ice=chatty"), xErrno_InvalidArg);
  CHECK_EQ_INT(xP2PLogSetFilter("=debug"), xErrno_InvalidArg);
  CHECK_EQ_INT(xP2PLogGetLevel("dtls"), xP2PLogLevel_Debug);
  CHECK_EQ_INT(xP2PLogSetLevel((xP2PLogLevel)6), xErrno_InvalidArg);
  CHECK_EQ_INT(xP2PLogSetLevel((xP2PLogLevel)-1), xErrno_InvalidArg);
  CHECK_EQ_INT(xP2PLogSetLevel(xP2PLogLevel_Error), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogGetLevel("dtls"), xP2PLogLevel_Error);
  CHECK_EQ_INT(xP2PLogGetLevel("anything"), xP2PLogLevel_Error);
  CHECK_EQ_INT(xP2PLogSetFilter(NULL), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogGetLevel("ice"), xP2PLogLevel_Off);
  CHECK_EQ_INT(xP2PLogSetFilter(""), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogGetLevel(NULL), xP2PLogLevel_Off);
}

/* Toggles the settings from a second thread while the library logs. */
static volatile int stop_toggling;
static void *toggler(void *arg) {
  int n = 0;
  (void)arg;
  while (!stop_toggling) {
    xP2PLogSetFilter(n % 2 ? "debug" : "info,ice=debug");
    xP2PLogSetCallback(on_log, &seen);
    (void)xP2PLogGetLevel("ice");
    n++;
    if (n % 64 == 0) usleep(1000);
  }
  return NULL;
}

static int file_contains(FILE *f, const char *needle) {
  static char text[1 << 16];
  size_t n;
  fflush(f);
  rewind(f);
  n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fseek(f, 0, SEEK_END);
  return strstr(text, needle) != NULL;
}

int main(void) {
  xEventLoop loop;
  main_thread = pthread_self();

  /* XP2P_LOG is read at the first use of the library, once. */
  setenv("XP2P_LOG", "ice=trace,sctp=info", 1);
  CHECK_EQ_INT(xP2PLogGetLevel("ice"), xP2PLogLevel_Trace);
  CHECK_EQ_INT(xP2PLogGetLevel("sctp"), xP2PLogLevel_Info);
  CHECK_EQ_INT(xP2PLogGetLevel("dtls"), xP2PLogLevel_Off);
  setenv("XP2P_LOG", "trace", 1);
  CHECK_EQ_INT(xP2PLogGetLevel("dtls"), xP2PLogLevel_Off);
  unsetenv("XP2P_LOG");

  filters();
  loop = xEventLoopCreate();

  /* Default sink: stderr, "[seconds] LEVEL component: message". */
  {
    FILE *tmp = tmpfile();
    int saved = dup(2);
    xIceConf ic;
    xIceAgent agent;
    uint64_t end;
    CHECK(tmp != NULL && saved >= 0);
    if (tmp && saved >= 0) {
      fflush(stderr);
      dup2(fileno(tmp), 2);
      CHECK_EQ_INT(xP2PLogSetFilter("ice=info"), xErrno_Ok);
      memset(&ic, 0, sizeof ic);
      agent = xIceAgentCreate(loop, &ic);
      CHECK(agent != NULL);
      CHECK_EQ_INT(xIceAgentGather(agent), xErrno_Ok);
      end = xMonoMs() + WAIT_MS;
      while (xMonoMs() < end && !file_contains(tmp, "ice: local candidate a=candidate:"))
        xEventWait(loop, 5);
      xIceAgentDestroy(agent);
      xP2PLogSetLevel(xP2PLogLevel_Off);
      fflush(stderr);
      dup2(saved, 2);
      close(saved);
      CHECK(file_contains(tmp, "] INFO  ice: local candidate a=candidate:"));
      CHECK(file_contains(tmp, "ice: state New -> Gathering"));
      CHECK(!file_contains(tmp, " dtls: "));
      fclose(tmp);
    }
  }

  /* Callback at debug: every layer reports, nothing at trace. */
  reset_seen();
  CHECK_EQ_INT(xP2PLogSetCallback(on_log, &seen), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogSetFilter("debug"), xErrno_Ok);
  session(loop);
  pthread_mutex_lock(&seen.lock);
  printf("debug: %d records (error %d, warn %d, info %d, debug %d), %d off the main thread\n",
         seen.total, seen.by_level[1], seen.by_level[2], seen.by_level[3], seen.by_level[4],
         seen.off_thread);
  CHECK(seen.total > 0);
  CHECK_EQ_INT(seen.bad_level, 0);
  CHECK_EQ_INT(seen.by_level[xP2PLogLevel_Trace], 0);
  CHECK(seen.by_level[xP2PLogLevel_Info] > 0);
  CHECK(seen.by_level[xP2PLogLevel_Debug] > 0);
  CHECK_EQ_INT(seen.by_level[xP2PLogLevel_Error], 0);
  CHECK_EQ_INT(seen.empty, 0);
  CHECK_EQ_INT(seen.reentrant_ok, seen.total);
  CHECK(seen.off_thread > 0); /* the I/O thread logs too */
  CHECK(seen.dtls_connected >= 2);
  CHECK(seen.pc_state >= 2);
  CHECK(seen.ice_candidate >= 2);
  CHECK(seen.ice_check >= 1);
  CHECK(seen.sctp_up >= 2);
  pthread_mutex_unlock(&seen.lock);
  CHECK(has_component("pc") && has_component("ice") && has_component("dtls") &&
        has_component("sctp") && has_component("dc"));

  /* One component at one level. */
  reset_seen();
  CHECK_EQ_INT(xP2PLogSetFilter("dtls=info"), xErrno_Ok);
  session(loop);
  pthread_mutex_lock(&seen.lock);
  CHECK(seen.total > 0);
  CHECK(seen.dtls_connected >= 2);
  CHECK_EQ_INT(seen.by_level[xP2PLogLevel_Debug] + seen.by_level[xP2PLogLevel_Trace], 0);
  CHECK_EQ_INT(seen.ncomponents, 1);
  pthread_mutex_unlock(&seen.lock);
  CHECK(has_component("dtls"));

  /* Off: not one record. */
  reset_seen();
  CHECK_EQ_INT(xP2PLogSetLevel(xP2PLogLevel_Off), xErrno_Ok);
  session(loop);
  pthread_mutex_lock(&seen.lock);
  CHECK_EQ_INT(seen.total, 0);
  pthread_mutex_unlock(&seen.lock);

  /* Settings changed from another thread while the I/O thread logs. */
  {
    pthread_t t;
    reset_seen();
    stop_toggling = 0;
    CHECK_EQ_INT(pthread_create(&t, NULL, toggler, NULL), 0);
    session(loop);
    stop_toggling = 1;
    pthread_join(t, NULL);
    pthread_mutex_lock(&seen.lock);
    CHECK(seen.total > 0);
    CHECK_EQ_INT(seen.bad_level + seen.empty, 0);
    pthread_mutex_unlock(&seen.lock);
  }

  /* NULL restores stderr; off again for the rest of the process. */
  CHECK_EQ_INT(xP2PLogSetCallback(NULL, NULL), xErrno_Ok);
  CHECK_EQ_INT(xP2PLogSetLevel(xP2PLogLevel_Off), xErrno_Ok);
  xEventLoopDestroy(loop);
  return CHECK_DONE();
}

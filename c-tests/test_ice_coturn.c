/* Server-reflexive gathering against a real STUN server: coturn, started
 * here on loopback. The agent's Binding request must be answered and the
 * answer accepted, which ends gathering well before the 5 s gather timeout;
 * a server that never answers makes gathering wait for that timeout. Names
 * are resolved off the loop thread ("localhost:<port>"). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/stun_msg.h>

#include "check.h"
#include "coturn.h"

typedef struct {
  int done;
  int candidates;
  int srflx;
} Gather;

static void on_candidate(xIceAgent agent, const char *line, void *arg) {
  Gather *g = (Gather *)arg;
  (void)agent;
  if (!line) {
    g->done = 1;
    return;
  }
  g->candidates++;
  if (strstr(line, "typ srflx")) g->srflx++;
}

/* Gathers with the given STUN server; returns milliseconds until
 * end-of-candidates (or -1 after 8 s). */
static long gather_ms(xEventLoop loop, const char *server, Gather *g) {
  xIceConf c;
  xIceAgent a;
  uint64_t start, end;
  memset(&c, 0, sizeof c);
  memset(g, 0, sizeof *g);
  c.stun_server = server;
  c.on_candidate = on_candidate;
  c.ctx = g;
  a = xIceAgentCreate(loop, &c);
  CHECK(a != NULL);
  start = xMonoMs();
  CHECK_EQ_INT(xIceAgentGather(a), xErrno_Ok);
  end = start + 8000;
  while (!g->done && xMonoMs() < end) xEventWait(loop, 10);
  xIceAgentDestroy(a);
  xEventWait(loop, 10);
  return g->done ? (long)(xMonoMs() - start) : -1;
}

int main(void) {
  int port = 20000 + (int)(getpid() % 20000);
  static const char *const stun_only[] = {"--stun-only", NULL};
  char server[64], named[64], dead[64];
  Coturn turn;
  int up;
  long ms;
  Gather g;
  xEventLoop loop;
  int silent;
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;

  up = coturn_start(&turn, port, stun_only);
  CHECK(up);
  if (!up) return CHECK_DONE();

  loop = xEventLoopCreate();
  snprintf(server, sizeof server, "127.0.0.1:%d", port);
  ms = gather_ms(loop, server, &g);
  printf("gathering with coturn at %s: %ld ms, %d candidates (%d srflx)\n", server, ms,
         g.candidates, g.srflx);
  CHECK(ms >= 0 && ms < 4000);
  CHECK(g.candidates >= 1);

  snprintf(named, sizeof named, "localhost:%d", port);
  ms = gather_ms(loop, named, &g);
  printf("gathering with coturn at %s: %ld ms\n", named, ms);
  CHECK(ms >= 0 && ms < 4000);

  /* A server that never answers: gathering ends at the 5 s timeout. */
  silent = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(silent, (struct sockaddr *)&sa, sizeof sa);
  getsockname(silent, (struct sockaddr *)&sa, &slen);
  snprintf(dead, sizeof dead, "127.0.0.1:%d", ntohs(sa.sin_port));
  ms = gather_ms(loop, dead, &g);
  printf("gathering with a silent server: %ld ms\n", ms);
  CHECK(ms >= 4500 && ms < 8000);
  CHECK(g.candidates >= 1);
  close(silent);

  /* An unresolvable name only drops server-reflexive candidates. */
  ms = gather_ms(loop, "no-such-host.invalid:3478", &g);
  CHECK(ms >= 0);
  CHECK(g.candidates >= 1);

  xEventLoopDestroy(loop);
  coturn_stop(&turn);
  return CHECK_DONE();
}

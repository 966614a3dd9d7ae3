/* ice_echo: two processes connect with the xp2p ICE agent and echo datagrams.
 *
 * The offerer listens on a Unix-domain socket (a filesystem path, so it also
 * works between network namespaces of one host), the answerer connects to
 * it. Each side gathers its candidates, waits for the end of candidates
 * (at most 6 s), and sends its description (length-prefixed) through that
 * socket; the offerer is the controlling agent. Once both are connected
 * (the answerer says "ready" on the socket), the offerer sends --count
 * datagrams of --size bytes (first byte 200, then a sequence number),
 * keeping at most --window (64) without an echo, and the answerer sends
 * every datagram back. The offerer says "bye" on the socket at the end and
 * prints
 *   ice_echo: sent 1000, echoed 1000, lost 0
 * and exits 0 when nothing was lost. With --duration S both sides keep the
 * connection S seconds after the transfer and print its state changes; with
 * --expect-failure that period must end in state Failed (consent freshness).
 *
 * By hand, in two terminals (start them in either order; build the examples
 * as said in examples-c/CMakeLists.txt):
 *   build/examples/ice_echo offer  --signal /tmp/ice_echo.sock
 *   build/examples/ice_echo answer --signal /tmp/ice_echo.sock
 * Add --stun HOST:PORT to both to gather server-reflexive candidates too,
 * --turn HOST:PORT --turn-user U --turn-pass P for a relayed candidate
 * through a TURN server, and --relay-only to signal only the relayed
 * candidate (the peer can then only reach us through the relay).
 * XP2P_INTERFACES=eth0 limits the host candidates to some interfaces.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/ice_candidate.h>

#include "options.h"
#include "signal.h"

#define WINDOW 64              /* default: datagrams without an echo yet */
#define GATHER_WAIT_MS 6000    /* longest wait for the end of candidates */
#define CONNECT_WAIT_MS 20000  /* from the remote description to both connected */
#define STALL_MS 1000          /* no echo for that long: the window is written off */
#define DRAIN_MS 2000          /* after the last send, wait that long for late echoes */
#define MAX_SIZE 1400          /* largest datagram (fits a 1500-byte MTU) */
#define MARK 200               /* first byte of our datagrams: application data */

typedef enum Phase { PH_SETUP, PH_TRANSFER, PH_LINGER, PH_DONE } Phase;

typedef struct App {
  /* Options. */
  ExOptions opt;
  int count, size, window, duration, expect_failure, max_lost, wait_s;
  /* Agent. */
  uint64_t t0;
  xEventLoop loop;
  xIceAgent agent;
  xIceState state;
  int was_connected, failed, gathering_done, candidates;
  uint64_t gather_at, remote_at;
  /* Signaling. */
  int listen_fd;
  SigConn sig;
  uint64_t next_connect_at;
  int sent_desc, got_desc, got_ready, got_bye, sig_eof;
  /* Transfer (offerer). */
  Phase phase;
  uint8_t *echoed_seq;  /* one flag per sequence number */
  int next_seq, echoed, duplicates, corrupt, send_errors;
  int writeoff_seq, echoed_since_writeoff;
  uint64_t transfer_at, last_progress, linger_end;
  /* Echo (answerer). */
  int received, echo_errors;
  int stop_signal;
  int ok;
} App;

static App app;

static uint64_t since_start(void) { return xMonoMs() - app.t0; }

static void say(const char *fmt, ...) {
  va_list ap;
  printf("[%6" PRIu64 " ms] ", since_start());
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

static const char *state_name(xIceState s) {
  switch (s) {
    case xIceState_New: return "New";
    case xIceState_Gathering: return "Gathering";
    case xIceState_Checking: return "Checking";
    case xIceState_Connected: return "Connected";
    case xIceState_Completed: return "Completed";
    case xIceState_Failed: return "Failed";
    case xIceState_Closed: return "Closed";
  }
  return "?";
}

static int is_connected(xIceState s) {
  return s == xIceState_Connected || s == xIceState_Completed;
}

/* ---- datagrams ---------------------------------------------------------- */

static void fill(uint8_t *buf, int seq, int size) {
  int i;
  buf[0] = MARK;
  buf[1] = (uint8_t)(seq >> 24);
  buf[2] = (uint8_t)(seq >> 16);
  buf[3] = (uint8_t)(seq >> 8);
  buf[4] = (uint8_t)seq;
  for (i = 5; i < size; i++) buf[i] = (uint8_t)(seq + i);
}

/* The sequence number of a well-formed echo, or -1. */
static int check(const uint8_t *buf, size_t len) {
  int seq, i;
  if (len != (size_t)app.size || len < 5 || buf[0] != MARK) return -1;
  seq = (int)(((uint32_t)buf[1] << 24) | ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 8) |
              buf[4]);
  if (seq < 0 || seq >= app.next_seq) return -1;
  for (i = 5; i < (int)len; i++)
    if (buf[i] != (uint8_t)(seq + i)) return -1;
  return seq;
}

/* Sends while fewer than WINDOW datagrams wait for their echo. */
static void pump(void) {
  uint8_t buf[MAX_SIZE];
  if (app.phase != PH_TRANSFER || !is_connected(app.state)) return;
  while (app.next_seq < app.count &&
         (app.next_seq - app.writeoff_seq) - app.echoed_since_writeoff < app.window) {
    fill(buf, app.next_seq, app.size);
    if (xIceAgentSend(app.agent, buf, (size_t)app.size) != xErrno_Ok) {
      app.send_errors++;
      return; /* retried on the next turn */
    }
    app.next_seq++;
  }
}

/* ---- agent callbacks (all on this thread, from xEventWait) -------------- */

static void on_state(xIceAgent agent, xIceState state, void *arg) {
  (void)agent;
  (void)arg;
  app.state = state;
  say("state %s", state_name(state));
  if (is_connected(state)) app.was_connected = 1;
  if (state == xIceState_Failed) app.failed = 1;
}

static void on_candidate(xIceAgent agent, const char *line, void *arg) {
  (void)agent;
  (void)arg;
  if (!line) {
    if (!app.gathering_done) say("end of candidates (%d)", app.candidates);
    app.gathering_done = 1;
    return;
  }
  app.candidates++;
  say("local %.*s", (int)strcspn(line, "\r\n"), line);
  if (strstr(line, " typ relay")) say("relayed candidate gathered");
}

static void on_data(xIceAgent agent, const uint8_t *data, size_t len, void *arg) {
  int seq;
  (void)arg;
  if (!app.opt.offer) {
    app.received++;
    if (xIceAgentSend(agent, data, len) != xErrno_Ok) app.echo_errors++;
    return;
  }
  seq = check(data, len);
  if (seq < 0) {
    app.corrupt++;
    return;
  }
  if (app.echoed_seq[seq]) {
    app.duplicates++;
    return;
  }
  app.echoed_seq[seq] = 1;
  app.echoed++;
  if (seq >= app.writeoff_seq) app.echoed_since_writeoff++;
  app.last_progress = xMonoMs();
  pump();
}

static void on_signal(int signo, void *arg) {
  *(int *)arg = signo;
}

/* ---- signaling: see signal.h -------------------------------------------- */

static int send_msg(const char *msg) { return sig_send(&app.sig, msg); }

/* ---- the run ------------------------------------------------------------ */

static void print_local_candidates(void) {
  int n = 0, i;
  const xIceCandidate *c = xIceAgentGetLocalCandidates(app.agent, &n);
  char ip[64], base[64];
  for (i = 0; c && i < n; i++) {
    const struct sockaddr *base_addr = (const struct sockaddr *)&c[i].base_addr;
    xSockaddrIP((const struct sockaddr *)&c[i].addr, ip, sizeof ip);
    if (c[i].type == xIceCandidateType_Host || !xSockaddrPort(base_addr)) {
      say("local candidate %-5s %s:%u", xIceCandidateTypeStr(c[i].type), ip,
          xSockaddrPort((const struct sockaddr *)&c[i].addr));
    } else {
      xSockaddrIP(base_addr, base, sizeof base);
      say("local candidate %-5s %s:%u (base %s:%u)", xIceCandidateTypeStr(c[i].type), ip,
          xSockaddrPort((const struct sockaddr *)&c[i].addr), base, xSockaddrPort(base_addr));
    }
  }
}

static void print_remote_candidates(const char *sdp) {
  const char *p = sdp;
  while ((p = strstr(p, "a=candidate:")) != NULL) {
    size_t len = strcspn(p, "\r\n");
    say("remote %.*s", (int)len - 2, p + 2);
    p += len;
  }
}

static void apply_remote(char *sdp) {
  xErrno e = xIceAgentSetRemoteDescription(app.agent, sdp);
  print_remote_candidates(sdp);
  if (e != xErrno_Ok) {
    say("remote description rejected (xErrno %d)", (int)e);
    app.phase = PH_DONE;
    return;
  }
  say("remote description applied");
  app.got_desc = 1;
  app.remote_at = xMonoMs();
}

static void finish_transfer(void) {
  uint64_t took = xMonoMs() - app.transfer_at;
  int lost = app.next_seq - app.echoed;
  if (app.opt.offer) {
    say("transfer: %d datagrams of %d bytes in %" PRIu64 " ms (%d duplicate, %d corrupt, %d "
        "send retries)",
        app.next_seq, app.size, took, app.duplicates, app.corrupt, app.send_errors);
    printf("ice_echo: sent %d, echoed %d, lost %d\n", app.next_seq, app.echoed, lost);
    app.ok = app.next_seq == app.count && lost <= app.max_lost && app.corrupt == 0;
    if (send_msg("bye") < 0) say("could not tell the answerer that the transfer is over");
  } else {
    printf("ice_echo: received %d, echo errors %d\n", app.received, app.echo_errors);
    app.ok = app.got_bye && app.received > 0 && app.echo_errors == 0;
  }
  fflush(stdout);
  if (app.duration > 0 && app.ok) {
    say("keeping the connection for %d s", app.duration);
    app.linger_end = xMonoMs() + (uint64_t)app.duration * 1000;
    app.phase = PH_LINGER;
  } else {
    app.phase = PH_DONE;
  }
}

static void step(void) {
  uint64_t now = xMonoMs();
  static char msg[SIG_MAX_FRAME + 1];

  /* Signaling connection. */
  if (app.sig.fd < 0) {
    if (app.opt.offer) {
      sig_accept(&app.sig, app.listen_fd);
    } else if (now >= app.next_connect_at) {
      sig_connect(&app.sig, app.opt.signal_path);
      app.next_connect_at = now + 100;
    }
    if (app.sig.fd >= 0) {
      say("signaling connected (%s)", app.opt.signal_path);
    } else if (since_start() > (uint64_t)app.wait_s * 1000) {
      say("no peer on %s after %d s", app.opt.signal_path, app.wait_s);
      app.phase = PH_DONE;
      return;
    }
  }

  /* Our description, once gathering is over. */
  if (app.sig.fd >= 0 && !app.sent_desc &&
      (app.gathering_done || now - app.gather_at >= GATHER_WAIT_MS)) {
    char *desc = app.opt.offer ? xIceAgentCreateOffer(app.agent) : xIceAgentCreateAnswer(app.agent);
    if (!app.gathering_done)
      say("no end of candidates after %d ms, sending what there is", GATHER_WAIT_MS);
    if (desc && app.opt.relay_only) {
      /* Only the relayed candidates go to the peer. */
      int dropped = 0;
      char *kept = ex_relay_sdp(desc, &dropped);
      free(desc);
      desc = kept;
    }
    if (!desc || send_msg(desc) < 0) {
      say("could not send the %s", app.opt.offer ? "offer" : "answer");
      free(desc);
      app.phase = PH_DONE;
      return;
    }
    say("%s sent (%zu bytes)", app.opt.offer ? "offer" : "answer", strlen(desc));
    free(desc);
    app.sent_desc = 1;
  }

  /* The peer's messages: its description first; then the answerer says
   * "ready" once connected, the offerer "bye" after the transfer. */
  while (app.sig.fd >= 0 && !app.sig_eof) {
    int r = sig_recv(&app.sig, msg);
    if (r == 0) break;
    if (r < 0) {
      app.sig_eof = 1;
      if (!app.got_bye) say("signaling closed by the peer");
      break;
    }
    if (!app.got_desc) {
      apply_remote(msg);
      if (app.phase == PH_DONE) return;
    } else if (strcmp(msg, "ready") == 0) {
      app.got_ready = 1;
      say("peer: connected");
    } else if (strcmp(msg, "bye") == 0) {
      app.got_bye = 1;
      say("peer: transfer over");
    }
  }

  now = xMonoMs(); /* remote_at may be newer than the first reading */
  switch (app.phase) {
    case PH_SETUP:
      if (app.failed) {
        say("ICE failed before connecting");
        app.phase = PH_DONE;
      } else if (app.was_connected && !app.opt.offer) {
        /* The offerer may be connected before we are (it can nominate a
         * pair before our answer has its offer): it sends once told. */
        print_local_candidates();
        if (send_msg("ready") < 0) say("could not tell the offerer that we are connected");
        app.phase = PH_TRANSFER;
      } else if (app.was_connected && app.got_ready) {
        print_local_candidates();
        app.phase = PH_TRANSFER;
        app.transfer_at = app.last_progress = now;
        if (app.opt.offer) say("sending %d datagrams of %d bytes", app.count, app.size);
      } else if (app.got_desc && now - app.remote_at > CONNECT_WAIT_MS) {
        say("%s %d ms after the remote description",
            app.was_connected ? "the answerer is not connected" : "not connected",
            CONNECT_WAIT_MS);
        app.phase = PH_DONE;
      } else if (!app.got_desc && app.sig_eof) {
        app.phase = PH_DONE;
      }
      break;
    case PH_TRANSFER:
      if (app.opt.offer) {
        int in_flight = (app.next_seq - app.writeoff_seq) - app.echoed_since_writeoff;
        if (app.failed) {
          say("ICE failed during the transfer");
          finish_transfer();
          app.ok = 0;
          app.phase = PH_DONE;
          break;
        }
        if (app.echoed == app.count ||
            (app.next_seq == app.count && now - app.last_progress > DRAIN_MS)) {
          finish_transfer();
          break;
        }
        if (in_flight > 0 && now - app.last_progress > STALL_MS) {
          say("no echo for %d ms: %d datagrams written off", STALL_MS, in_flight);
          app.writeoff_seq = app.next_seq;
          app.echoed_since_writeoff = 0;
          app.last_progress = now;
        }
        pump();
      } else if (app.got_bye || app.sig_eof || app.failed) {
        finish_transfer();
      }
      break;
    case PH_LINGER:
      if (app.failed) {
        app.ok = app.expect_failure;
        say("Failed while keeping the connection%s", app.expect_failure ? " (expected)" : "");
        app.phase = PH_DONE;
      } else if (now >= app.linger_end) {
        if (app.expect_failure) {
          say("state still %s after %d s, Failed was expected", state_name(app.state),
              app.duration);
          app.ok = 0;
        }
        app.phase = PH_DONE;
      }
      break;
    case PH_DONE:
      break;
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: ice_echo offer  --signal PATH [--stun HOST:PORT] [--count N] [--size B]\n"
          "                       [--window N] [--duration S] [--expect-failure]\n"
          "                       [--max-lost N] [--wait S] [TURN options]\n"
          "       ice_echo answer --signal PATH [--stun HOST:PORT] [--duration S]\n"
          "                       [--expect-failure] [--wait S] [TURN options]\n"
          "  --signal PATH     Unix socket for the descriptions (the offerer listens)\n"
          "  --stun HOST:PORT  STUN server for server-reflexive candidates\n"
          "  --turn HOST:PORT  TURN server (also turn:HOST:PORT) for a relayed candidate\n"
          "  --turn-user U     TURN username\n"
          "  --turn-pass P     TURN password\n"
          "  --relay-only      signal only the relayed candidate\n"
          "  --count N         datagrams to send (default 1000)\n"
          "  --size B          bytes per datagram, 5..%d (default 100)\n"
          "  --window N        datagrams sent ahead of their echo (default %d)\n"
          "  --duration S      keep the connection S seconds after the transfer\n"
          "  --expect-failure  succeed only if that period ends in state Failed\n"
          "  --max-lost N      datagrams that may go without an echo (default 0)\n"
          "  --wait S          how long to wait for the peer on PATH (default 30)\n",
          MAX_SIZE, WINDOW);
  exit(2);
}

static int int_arg(const char *s, int lo, int hi) { return (int)ex_num_arg(s, lo, hi, usage); }

static void parse(int argc, char **argv) {
  int i, used;
  app.opt.offer = ex_role(argc, argv, usage);
  app.count = 1000;
  app.size = 100;
  app.window = WINDOW;
  app.wait_s = 30;
  for (i = 2; i < argc; i++) {
    const char *o = argv[i];
    if (strcmp(o, "--expect-failure") == 0) {
      app.expect_failure = 1;
      continue;
    }
    used = ex_option(&app.opt, argc, argv, i);
    if (used < 0) usage();
    if (used > 0) {
      i += used - 1;
      continue;
    }
    if (i + 1 >= argc) usage();
    if (strcmp(o, "--count") == 0 && app.opt.offer) {
      app.count = int_arg(argv[++i], 1, 10000000);
    } else if (strcmp(o, "--size") == 0 && app.opt.offer) {
      app.size = int_arg(argv[++i], 5, MAX_SIZE);
    } else if (strcmp(o, "--window") == 0 && app.opt.offer) {
      app.window = int_arg(argv[++i], 1, 10000000);
    } else if (strcmp(o, "--max-lost") == 0 && app.opt.offer) {
      app.max_lost = int_arg(argv[++i], 0, 10000000);
    } else if (strcmp(o, "--duration") == 0) {
      app.duration = int_arg(argv[++i], 0, 86400);
    } else if (strcmp(o, "--wait") == 0) {
      app.wait_s = int_arg(argv[++i], 1, 86400);
    } else {
      usage();
    }
  }
  if (!app.opt.signal_path) usage();
  if (app.opt.turn && (!app.opt.turn_user || !app.opt.turn_pass)) usage();
  if (app.opt.relay_only && !app.opt.turn) usage();
}

int main(int argc, char **argv) {
  xIceConf conf;

  setvbuf(stdout, NULL, _IOLBF, 0);
  parse(argc, argv);
  app.t0 = xMonoMs();
  app.listen_fd = -1;
  sig_init(&app.sig);
  app.phase = PH_SETUP;

  /* Signals go through the loop; blocked before the agent starts threads. */
  app.loop = ex_loop_start("ice_echo", on_signal, &app.stop_signal);
  if (!app.loop) return 1;

  if (app.opt.offer) {
    app.echoed_seq = calloc((size_t)app.count, 1);
    app.listen_fd = sig_listen(app.opt.signal_path);
    if (app.listen_fd < 0)
      fprintf(stderr, "ice_echo: cannot listen on %s: %s\n", app.opt.signal_path, strerror(errno));
    if (!app.echoed_seq || app.listen_fd < 0) return 1;
    say("offer: waiting for the answerer on %s", app.opt.signal_path);
  } else {
    say("answer: connecting to %s", app.opt.signal_path);
  }

  memset(&conf, 0, sizeof conf);
  conf.role = app.opt.offer ? xIceRole_Controlling : xIceRole_Controlled;
  EX_CONF_SERVERS(conf, app.opt);
  conf.on_state_change = on_state;
  conf.on_candidate = on_candidate;
  conf.on_data = on_data;
  app.agent = xIceAgentCreate(app.loop, &conf);
  if (!app.agent) {
    fprintf(stderr, "ice_echo: xIceAgentCreate failed\n");
    return 1;
  }
  app.gather_at = xMonoMs();
  if (xIceAgentGather(app.agent) != xErrno_Ok) {
    fprintf(stderr, "ice_echo: xIceAgentGather failed\n");
    return 1;
  }
  say("gathering%s%s%s%s", app.opt.stun ? " with STUN server " : "", app.opt.stun ? app.opt.stun : "",
      app.opt.turn ? " with TURN server " : "", app.opt.turn ? app.opt.turn : "");

  while (app.phase != PH_DONE && !app.stop_signal) {
    xEventWait(app.loop, 10);
    step();
  }
  if (app.stop_signal) {
    say("stopped by signal %d", app.stop_signal);
    app.ok = 0;
  }

  xIceAgentDestroy(app.agent); /* no callback runs after this */
  ex_signal_close(&app.sig, app.listen_fd, app.opt.signal_path);
  xEventLoopDestroy(app.loop);
  free(app.echoed_seq);
  say("exit %d", app.ok ? 0 : 1);
  return app.ok ? 0 : 1;
}

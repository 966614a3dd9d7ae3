/* quickstart.c: the smallest complete libxp2p program. Two processes connect
 * with a PeerConnection, open a data channel named "chat", each sends one
 * message when the channel opens and prints what it receives.
 *
 *   quickstart offer  [--signal PATH] [--stun HOST:PORT] [--message TEXT]
 *   quickstart answer [--signal PATH] [--stun HOST:PORT] [--message TEXT]
 *
 * Start one of each (either first). They exchange the offer, the answer and
 * the trickled candidates through a Unix socket (examples-c/signal.h; the
 * offerer listens at PATH, default /tmp/xp2p-quickstart.sock). Each exits 0
 * once it has received the peer's message and the peer got ours (it says
 * "bye" on the signaling socket), 1 on failure or after 30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/peer_connection.h>

#include "signal.h"

static struct {
  int offerer;
  const char *message;
  SigConn sig;
  char *local_sdp; /* our description, to skip candidates already in it */
  int received, bye_sent, failed, sig_ended;
  int peer_done; /* the peer said "bye", closed the connection or exited */
} app;

static const char *state_name(xPeerConnectionState s) {
  static const char *names[] = {"New", "Connecting", "Connected", "Disconnected", "Failed",
                                "Closed"};
  return s >= 0 && s <= 5 ? names[s] : "?";
}

/* ---- PeerConnection callbacks (all on the loop thread) ------------------ */

static void on_state_change(xPeerConnection pc, xPeerConnectionState state, void *arg) {
  (void)pc;
  (void)arg;
  printf("quickstart: state %s\n", state_name(state));
  /* The peer closes once it has our message; closing or failing before
   * its message arrived is a failure. */
  if (state == xPeerConnectionState_Closed && app.received) app.peer_done = 1;
  else if (state == xPeerConnectionState_Failed || state == xPeerConnectionState_Closed)
    app.failed = 1;
}

/* Trickle ICE: every local candidate goes to the peer; NULL ends the list. */
static void on_ice_candidate(xPeerConnection pc, const char *candidate, void *arg) {
  (void)pc;
  (void)arg;
  if (!candidate) {
    sig_send(&app.sig, "a=end-of-candidates");
  } else if (!app.local_sdp || !strstr(app.local_sdp, candidate)) {
    sig_send(&app.sig, candidate);
  }
}

static void on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  (void)pc;
  (void)arg;
  printf("quickstart: the peer opened channel \"%s\"\n", xDataChannelGetLabel(ch));
}

/* The channel is open (ours, or the one the peer opened): say hello. */
static void on_dc_open(xDataChannel ch, void *arg) {
  (void)arg;
  printf("quickstart: channel \"%s\" open, sending \"%s\"\n", xDataChannelGetLabel(ch),
         app.message);
  if (xDataChannelSendString(ch, app.message, strlen(app.message)) != xErrno_Ok) app.failed = 1;
}

static void on_dc_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data,
                          size_t len, void *arg) {
  (void)arg;
  if (type == xDataChannelMsgType_String)
    printf("quickstart: received on \"%s\": %.*s\n", xDataChannelGetLabel(ch), (int)len,
           (const char *)data);
  else
    printf("quickstart: received %zu bytes of binary\n", len);
  app.received++;
  if (!app.bye_sent) {
    sig_send(&app.sig, "bye");
    app.bye_sent = 1;
  }
}

static void on_dc_close(xDataChannel ch, void *arg) {
  (void)arg;
  printf("quickstart: channel \"%s\" closed\n", xDataChannelGetLabel(ch));
}

/* ---- signaling ----------------------------------------------------------- */

static void send_description(xPeerConnection pc) {
  char *sdp = app.offerer ? xPeerConnectionCreateOffer(pc) : xPeerConnectionCreateAnswer(pc);
  if (!sdp || xPeerConnectionSetLocalDescription(pc, sdp) != xErrno_Ok ||
      sig_send(&app.sig, sdp) < 0) {
    fprintf(stderr, "quickstart: could not make or send our description\n");
    app.failed = 1;
  }
  free(app.local_sdp);
  app.local_sdp = sdp;
}

static void on_signal(xPeerConnection pc, const char *msg) {
  if (strncmp(msg, "v=0", 3) == 0) {
    if (xPeerConnectionSetRemoteDescription(pc, msg) != xErrno_Ok) {
      fprintf(stderr, "quickstart: the peer's description was rejected\n");
      app.failed = 1;
    } else if (!app.offerer) {
      send_description(pc);
    }
  } else if (strcmp(msg, "bye") == 0) {
    app.peer_done = 1;
  } else if (xPeerConnectionAddIceCandidate(pc, msg) != xErrno_Ok) {
    fprintf(stderr, "quickstart: bad candidate from the peer: %s\n", msg);
  }
}

int main(int argc, char **argv) {
  const char *path = "/tmp/xp2p-quickstart.sock";
  const char *stun = "stun.l.google.com:19302";
  static char msg[SIG_MAX_FRAME + 1];
  xPeerConnectionConf conf;
  xPeerConnection pc;
  xEventLoop loop;
  int listen_fd = -1, i, ok;
  uint64_t deadline;

  if (argc < 2 || (strcmp(argv[1], "offer") != 0 && strcmp(argv[1], "answer") != 0)) {
    fprintf(stderr, "usage: quickstart offer|answer [--signal PATH] [--stun HOST:PORT] "
                    "[--message TEXT]\n");
    return 2;
  }
  app.offerer = strcmp(argv[1], "offer") == 0;
  app.message = app.offerer ? "Hello from the offerer!" : "Hello from the answerer!";
  for (i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--signal") == 0) path = argv[i + 1];
    else if (strcmp(argv[i], "--stun") == 0) stun = argv[i + 1];
    else if (strcmp(argv[i], "--message") == 0) app.message = argv[i + 1];
  }
  sig_init(&app.sig);

  /* 1. An event loop and a PeerConnection on it. */
  loop = xEventLoopCreate();
  memset(&conf, 0, sizeof conf);
  conf.stun_server = stun;
  conf.on_state_change = on_state_change;
  conf.on_ice_candidate = on_ice_candidate;
  conf.on_datachannel = on_datachannel;
  conf.on_dc_open = on_dc_open;
  conf.on_dc_message = on_dc_message;
  conf.on_dc_close = on_dc_close;
  pc = xPeerConnectionCreate(loop, &conf);
  if (!loop || !pc) {
    fprintf(stderr, "quickstart: could not create the PeerConnection\n");
    return 1;
  }

  /* 2. The offerer opens the "chat" channel (it opens once connected; its
   *    callbacks are the PeerConnection's on_dc_*). */
  if (app.offerer) {
    xDataChannelConf dc;
    memset(&dc, 0, sizeof dc);
    strcpy(dc.label, "chat");
    dc.ordered = true;
    if (!xPeerConnectionCreateDataChannel(pc, &dc)) app.failed = 1;
    listen_fd = sig_listen(path);
    if (listen_fd < 0) app.failed = 1;
  }

  /* 3. Signaling, then run the loop until both messages went through. */
  deadline = xMonoMs() + 30000;
  while (!app.failed && !(app.received > 0 && app.peer_done) && xMonoMs() < deadline) {
    if (app.sig.fd < 0 && !app.sig_ended) {
      if (app.offerer ? sig_accept(&app.sig, listen_fd) : sig_connect(&app.sig, path)) {
        if (app.offerer) send_description(pc);
      }
    } else if (app.sig.fd >= 0) {
      int r;
      while ((r = sig_recv(&app.sig, msg)) == 1) on_signal(pc, msg);
      if (r < 0) { /* the peer exited: fine only once we have its message */
        sig_close(&app.sig);
        app.sig_ended = 1;
        if (app.received) app.peer_done = 1;
        else app.failed = 1;
      }
    }
    xEventWait(loop, 10);
  }
  ok = app.received > 0 && app.peer_done;
  printf("quickstart: %s\n", ok ? "done" : "failed");

  /* 4. Clean up: no callback runs after Destroy returns. */
  xPeerConnectionDestroy(pc);
  xEventLoopDestroy(loop);
  sig_close(&app.sig);
  if (listen_fd >= 0) {
    close(listen_fd);
    unlink(path);
  }
  free(app.local_sdp);
  return ok ? 0 : 1;
}

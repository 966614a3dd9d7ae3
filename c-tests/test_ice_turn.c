/* Relayed candidates against a real TURN server: coturn, started here on
 * loopback with long-term credentials and short allocation lifetimes (so
 * the allocations are refreshed every few seconds, with stale nonces),
 * listening on UDP, TCP and TLS (a self-signed certificate for localhost
 * and 127.0.0.1 made here with the openssl tool).
 *
 *  - two ICE agents that only learn each other's relayed candidates
 *    connect through coturn and exchange 1000 datagrams each way, none
 *    lost, with the server reached over UDP, over TCP
 *    (`turn:…?transport=tcp`) and over TLS (`turns:`, the certificate
 *    trusted through XP2P_TURN_CA_FILE); every datagram each side sends
 *    goes to an address of coturn;
 *  - the relayed path keeps working over several allocation refreshes
 *    (over UDP and over TLS);
 *  - two PeerConnections with relay-only candidates exchange data-channel
 *    messages through coturn, over UDP and over TLS;
 *  - a wrong password, a closed port (UDP and TCP), a server that stops
 *    answering and a TLS server whose certificate is not trusted cost only
 *    the relayed candidate: end-of-candidates still comes (at once after
 *    the 401, a refused connection or a refused certificate, at the 5 s
 *    gather timeout otherwise) and the host candidates connect. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <xbase/event.h>
#include <xbase/time.h>
#include <xp2p/ice_agent.h>
#include <xp2p/peer_connection.h>
#include <xp2p/stats.h>
#include <xp2p/stun_msg.h>

#include "check.h"
#include "coturn.h"

#define USER "xp2p"
#define PASS "relay-secret"
#define MARK 200
#define COUNT 1000
/* coturn's log lines: an allocation made over TLS, a deallocation, a TCP
 * or TLS connection the client closed, a TLS close_notify received. */
#define TLS_SESSION "new, realm=<xp2p.test>, username=<xp2p>, lifetime=6, cipher="
#define DEALLOCATED "lifetime=0"
#define TCP_CLOSED "TCP connection closed by client (callback)"
#define TLS_CLOSE_NOTIFY "SSL shutdown received"

/* ---- coturn --------------------------------------------------------------- */

typedef struct TurnServer {
  pid_t pid;
  int port;     /* UDP and TCP */
  int tls_port; /* TLS */
  char logfile[64];
  char db[64];
  char dir[64]; /* certificate and key */
  char cert[96];
  char key[96];
} TurnServer;

/* Lines of `path` containing `what`. */
static int log_count(const char *path, const char *what) {
  char line[1024];
  int n = 0;
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strstr(line, what)) n++;
  fclose(f);
  return n;
}

/* A self-signed certificate (its own CA) for localhost and 127.0.0.1, made
 * by the openssl tool in a fresh directory. Returns 0 on success. */
static int make_certificate(TurnServer *c) {
  const char *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", c->key, "-out", c->cert, NULL};
  int status = -1;
  pid_t pid;
  snprintf(c->dir, sizeof c->dir, "/tmp/xp2p-turn-tls-XXXXXX");
  if (!mkdtemp(c->dir)) return -1;
  snprintf(c->cert, sizeof c->cert, "%s/cert.pem", c->dir);
  snprintf(c->key, sizeof c->key, "%s/key.pem", c->dir);
  pid = coturn_spawn(argv, -1);
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "openssl req failed (status %d): is the openssl tool installed?\n", status);
    return -1;
  }
  return access(c->cert, R_OK) == 0 && access(c->key, R_OK) == 0 ? 0 : -1;
}

/* Starts coturn as a TURN server on 127.0.0.1 with user USER:PASS (UDP and
 * TCP on `port`, TLS on `tls_port` with the certificate of
 * make_certificate), relaying on 127.0.0.1 from `min_port` (100 ports).
 * Returns 0 when it answers. */
static int turn_server_start(TurnServer *c, int min_port) {
  char port_arg[16], tls_arg[16], min_arg[16], max_arg[16], log_arg[96], db_arg[96],
      pid_arg[96], cert_arg[128], key_arg[128], tls_listener[96];
  const char *argv[] = {"turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                        "--listening-port", port_arg, "--tls-listening-port", tls_arg, cert_arg,
                        key_arg, "--min-port", min_arg, "--max-port", max_arg, "--lt-cred-mech",
                        "--user", USER ":" PASS, "--realm", "xp2p.test", "--allow-loopback-peers",
                        "--max-allocate-lifetime=6", "--stale-nonce=10", "--no-cli", "--no-dtls",
                        "--no-tcp-relay", "--verbose", log_arg, "--simple-log", "--no-stdout-log",
                        db_arg, pid_arg, NULL};
  int i, up, logfd, dbfd;
  if (make_certificate(c) != 0) return -1;
  c->port = coturn_free_port(SOCK_DGRAM);
  c->tls_port = coturn_free_port(SOCK_STREAM);
  snprintf(c->logfile, sizeof c->logfile, "/tmp/xp2p-turn-log-XXXXXX");
  snprintf(c->db, sizeof c->db, "/tmp/xp2p-turn-db-XXXXXX");
  logfd = mkstemp(c->logfile);
  dbfd = mkstemp(c->db);
  if (logfd >= 0) close(logfd);
  if (dbfd >= 0) close(dbfd);
  unlink(c->db); /* coturn creates its (empty) user database there */
  snprintf(port_arg, sizeof port_arg, "%d", c->port);
  snprintf(tls_arg, sizeof tls_arg, "%d", c->tls_port);
  snprintf(cert_arg, sizeof cert_arg, "--cert=%s", c->cert);
  snprintf(key_arg, sizeof key_arg, "--pkey=%s", c->key);
  snprintf(min_arg, sizeof min_arg, "%d", min_port);
  snprintf(max_arg, sizeof max_arg, "%d", min_port + 99);
  snprintf(log_arg, sizeof log_arg, "--log-file=%s", c->logfile);
  snprintf(db_arg, sizeof db_arg, "--userdb=%s", c->db);
  snprintf(pid_arg, sizeof pid_arg, "--pidfile=%s.pid", c->db);
  c->pid = coturn_spawn(argv, -1);
  up = coturn_wait_answer(c->port);
  /* The TLS listener, from coturn's log (a probing connection would show
   * up in the log as a closed session later). */
  snprintf(tls_listener, sizeof tls_listener, "TLS/TCP listener opened on : 127.0.0.1:%d",
           c->tls_port);
  for (i = 0; i < 50 && up && log_count(c->logfile, tls_listener) < 1; i++) usleep(100000);
  if (up && log_count(c->logfile, tls_listener) < 1) up = 0;
  if (!up) fprintf(stderr, "coturn did not start (is it installed? log in %s)\n", c->logfile);
  return up ? 0 : -1;
}

static void turn_server_stop(TurnServer *c) {
  char pidfile[80];
  if (c->pid > 0) {
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
  }
  snprintf(pidfile, sizeof pidfile, "%s.pid", c->db);
  unlink(pidfile);
  unlink(c->db);
  if (getenv("XP2P_KEEP_LOGS")) {
    fprintf(stderr, "coturn log kept in %s\n", c->logfile);
  } else {
    unlink(c->logfile);
  }
  if (c->dir[0]) {
    unlink(c->cert);
    unlink(c->key);
    rmdir(c->dir);
  }
}

/* ---- ICE agents ------------------------------------------------------------ */

typedef struct Peer {
  const char *name;
  xIceAgent agent;
  struct Peer *other;
  xIceState state;
  int relay_only;    /* forward only relayed candidates to `other` */
  int eoc;
  uint64_t start_ms, eoc_ms;
  int host, relay, srflx;
  char relay_line[256];
  int received, bad, out_of_order;
  uint32_t next_seq; /* expected from the other side */
  uint32_t out_seq;  /* next one we send */
  int send_errors;
} Peer;

static void on_state(xIceAgent agent, xIceState state, void *arg) {
  (void)agent;
  ((Peer *)arg)->state = state;
}

static void on_candidate(xIceAgent agent, const char *line, void *arg) {
  Peer *p = (Peer *)arg;
  (void)agent;
  if (!line) {
    if (!p->eoc) p->eoc_ms = xMonoMs() - p->start_ms;
    p->eoc = 1;
    return;
  }
  if (strstr(line, " typ host")) p->host++;
  if (strstr(line, " typ srflx")) p->srflx++;
  if (strstr(line, " typ relay")) {
    p->relay++;
    snprintf(p->relay_line, sizeof p->relay_line, "%s", line);
  }
  if (p->other && p->other->agent && (!p->relay_only || strstr(line, " typ relay")))
    CHECK_EQ_INT(xIceAgentAddRemoteCandidate(p->other->agent, line), xErrno_Ok);
}

static void on_data(xIceAgent agent, const uint8_t *data, size_t len, void *arg) {
  Peer *p = (Peer *)arg;
  uint32_t seq;
  (void)agent;
  if (len != 100 || data[0] != MARK) {
    p->bad++;
    return;
  }
  seq = ((uint32_t)data[1] << 24) | ((uint32_t)data[2] << 16) | ((uint32_t)data[3] << 8) | data[4];
  if (seq != p->next_seq) p->out_of_order++;
  p->next_seq = seq + 1;
  p->received++;
}

static int connected(const Peer *p) {
  return p->state == xIceState_Connected || p->state == xIceState_Completed;
}

static void spin_until(xEventLoop loop, int ms, int (*cond)(Peer *, Peer *), Peer *a, Peer *b) {
  uint64_t end = xMonoMs() + check_wait_ms((uint64_t)ms);
  while (xMonoMs() < end && !cond(a, b)) xEventWait(loop, 5);
}

static int both_eoc(Peer *a, Peer *b) { return a->eoc && b->eoc; }
static int both_connected(Peer *a, Peer *b) { return connected(a) && connected(b); }

/* Removes every candidate line that is not a relayed candidate. */
static void keep_relay_lines(char *sdp) {
  char *p = sdp;
  while ((p = strstr(p, "a=candidate:")) != NULL) {
    size_t len = strcspn(p, "\n");
    char *relay = strstr(p, " typ relay");
    if (p[len] == '\n') len++;
    if (relay && (size_t)(relay - p) < len) {
      p += len;
    } else {
      memmove(p, p + len, strlen(p + len) + 1);
    }
  }
}

/* Every candidate line of `sdp` names `port` on 127.0.0.1 in coturn's
 * relay range [lo, lo + 100). */
static int only_relay_addresses(const char *sdp, int lo) {
  const char *p = sdp;
  int n = 0;
  while ((p = strstr(p, "a=candidate:")) != NULL) {
    char ip[64];
    int port = 0;
    const char *q = p;
    int field;
    for (field = 0; field < 4 && q; field++) q = strchr(q + 1, ' ');
    if (!q || sscanf(q + 1, "%63s %d", ip, &port) != 2) return 0;
    if (strcmp(ip, "127.0.0.1") != 0 || port < lo || port >= lo + 100) return 0;
    n++;
    p += 12;
  }
  return n > 0;
}

static xIceAgent make_agent(xEventLoop loop, Peer *p, xIceRole role, const char *turn,
                            const char *pass) {
  xIceConf c;
  memset(&c, 0, sizeof c);
  c.role = role;
  c.turn_server = turn;
  c.turn_username = USER;
  c.turn_password = pass;
  c.on_state_change = on_state;
  c.on_candidate = on_candidate;
  c.on_data = on_data;
  c.ctx = p;
  p->agent = xIceAgentCreate(loop, &c);
  return p->agent;
}

/* Creates and gathers two agents, exchanges descriptions (only relayed
 * candidates when `relay_only`) and waits until both are connected. */
static int connect_agents(xEventLoop loop, Peer *a, Peer *b, const char *turn, const char *pass,
                          int relay_only, int relay_lo) {
  char *offer, *answer;
  memset(a, 0, sizeof *a);
  memset(b, 0, sizeof *b);
  a->name = "a";
  b->name = "b";
  a->other = b;
  b->other = a;
  a->relay_only = b->relay_only = relay_only;
  CHECK(make_agent(loop, a, xIceRole_Controlling, turn, pass) != NULL);
  CHECK(make_agent(loop, b, xIceRole_Controlled, turn, pass) != NULL);
  if (!a->agent || !b->agent) return 0;
  a->start_ms = b->start_ms = xMonoMs();
  CHECK_EQ_INT(xIceAgentGather(a->agent), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentGather(b->agent), xErrno_Ok);
  spin_until(loop, 8000, both_eoc, a, b);
  CHECK(a->eoc && b->eoc);
  offer = xIceAgentCreateOffer(a->agent);
  answer = xIceAgentCreateAnswer(b->agent);
  CHECK(offer != NULL && answer != NULL);
  if (!offer || !answer) {
    free(offer);
    free(answer);
    return 0;
  }
  if (relay_only) {
    keep_relay_lines(offer);
    keep_relay_lines(answer);
    CHECK(only_relay_addresses(offer, relay_lo));
    CHECK(only_relay_addresses(answer, relay_lo));
  }
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(b->agent, offer), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentSetRemoteDescription(a->agent, answer), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(a->agent, "a=end-of-candidates"), xErrno_Ok);
  CHECK_EQ_INT(xIceAgentAddRemoteCandidate(b->agent, "a=end-of-candidates"), xErrno_Ok);
  free(offer);
  free(answer);
  spin_until(loop, 15000, both_connected, a, b);
  CHECK(connected(a) && connected(b));
  return connected(a) && connected(b);
}

static void fill(uint8_t *buf, uint32_t seq) {
  int i;
  buf[0] = MARK;
  buf[1] = (uint8_t)(seq >> 24);
  buf[2] = (uint8_t)(seq >> 16);
  buf[3] = (uint8_t)(seq >> 8);
  buf[4] = (uint8_t)seq;
  for (i = 5; i < 100; i++) buf[i] = (uint8_t)(seq + (uint32_t)i);
}

static int caught_up(Peer *a, Peer *b) {
  return (uint32_t)b->received >= a->out_seq && (uint32_t)a->received >= b->out_seq;
}

/* Sends `n` datagrams each way in batches of 50, waiting for each batch to
 * arrive (at most 2 s each). */
static void exchange(xEventLoop loop, Peer *a, Peer *b, int n) {
  uint8_t buf[100];
  int i, k;
  for (i = 0; i < n; i += 50) {
    for (k = 0; k < 50 && i + k < n; k++) {
      fill(buf, a->out_seq);
      if (xIceAgentSend(a->agent, buf, sizeof buf) == xErrno_Ok) {
        a->out_seq++;
      } else {
        a->send_errors++;
      }
      fill(buf, b->out_seq);
      if (xIceAgentSend(b->agent, buf, sizeof buf) == xErrno_Ok) {
        b->out_seq++;
      } else {
        b->send_errors++;
      }
    }
    spin_until(loop, 2000, caught_up, a, b);
  }
}

static void destroy_agents(xEventLoop loop, Peer *a, Peer *b) {
  xIceAgentDestroy(a->agent);
  xIceAgentDestroy(b->agent);
  a->agent = b->agent = NULL;
  xEventWait(loop, 10);
}

/* Only relayed candidates signalled (server `turn`): connected through
 * coturn, 1000 datagrams each way, then `refresh_s` seconds of allocation
 * refreshes (lifetime 6 s: refreshed every 4.8 s) with data flowing all
 * along. */
static void relay_only_agents(xEventLoop loop, const TurnServer *c, int relay_lo, const char *turn,
                              int refresh_s) {
  static Peer a, b;
  uint64_t end;
  int refreshes_before, refreshes;
  /* Two allocations: every 4.8 s each is refreshed (6 in 20 s). */
  int min_refreshes = refresh_s >= 20 ? 6 : refresh_s >= 5 ? 2 : 0;
  int tls = strncmp(turn, "turns:", 6) == 0, stream = tls || strstr(turn, "transport=tcp") != NULL;
  int tls_before = log_count(c->logfile, TLS_SESSION), closed_before = log_count(c->logfile, TCP_CLOSED);
  int dealloc_before = log_count(c->logfile, DEALLOCATED), deallocs = 0, closed = 0;
  int notify_before = log_count(c->logfile, TLS_CLOSE_NOTIFY), notified = 0;
  int want_closed = stream ? 2 : 0, want_notified = tls ? 2 : 0, want_tls = tls ? 2 : 0;
  printf("-- relay-only agents through %s\n", turn);
  if (!connect_agents(loop, &a, &b, turn, PASS, 1, relay_lo)) {
    fprintf(stderr, "relay-only agents: a state %d (relay %d), b state %d (relay %d)\n", a.state,
            a.relay, b.state, b.relay);
    destroy_agents(loop, &a, &b);
    return;
  }
  CHECK_EQ_INT(a.relay, 1);
  CHECK_EQ_INT(b.relay, 1);
  /* The allocations were made over TLS exactly when asked for. */
  CHECK_EQ_INT(log_count(c->logfile, TLS_SESSION) - tls_before, want_tls);
  CHECK(strstr(a.relay_line, " raddr 127.0.0.1 rport ") != NULL);
  /* RFC 8445 type preference 0, local preference 65535, component 1. */
  CHECK(strstr(a.relay_line, " 16777215 127.0.0.1 ") != NULL);
  printf("relay candidates: %s / %s\n", a.relay_line, b.relay_line);
  printf("gathering with a relay took %llu / %llu ms\n", (unsigned long long)a.eoc_ms,
         (unsigned long long)b.eoc_ms);
  exchange(loop, &a, &b, COUNT);
  printf("through coturn: a->b %d/%u, b->a %d/%u (out of order %d/%d, bad %d/%d)\n", b.received,
         a.out_seq, a.received, b.out_seq, b.out_of_order, a.out_of_order, b.bad, a.bad);
  CHECK_EQ_INT(a.out_seq, COUNT);
  CHECK_EQ_INT(b.out_seq, COUNT);
  CHECK_EQ_INT(b.received, COUNT);
  CHECK_EQ_INT(a.received, COUNT);
  CHECK_EQ_INT(a.bad + b.bad, 0);
  {
    /* Statistics (xp2p/stats.h): the pair goes through a relay of this
     * server, over the transport asked for; a side whose own candidate is
     * not the relayed one has the peer's relayed address as remote. */
    xIceStats st[2];
    int k, relayed = 0;
    for (k = 0; k < 2; k++) {
      const struct sockaddr_in *srv = (const struct sockaddr_in *)&st[k].relay_server;
      const struct sockaddr_in *loc = (const struct sockaddr_in *)&st[k].local_address;
      const struct sockaddr_in *rem = (const struct sockaddr_in *)&st[k].remote_address;
      memset(&st[k], 0, sizeof st[k]);
      st[k].size = sizeof st[k];
      CHECK_EQ_INT(xIceAgentGetStats(k ? b.agent : a.agent, &st[k]), xErrno_Ok);
      printf("stats %c: local %s %d, remote %s %d, relayed %d (transport %d, server port %d)\n",
             'a' + k, xIceCandidateTypeStr(st[k].local_type), ntohs(loc->sin_port),
             xIceCandidateTypeStr(st[k].remote_type), ntohs(rem->sin_port), st[k].relayed,
             st[k].relay_transport, ntohs(srv->sin_port));
      CHECK(st[k].has_selected_pair);
      CHECK(st[k].datagrams_sent >= COUNT && st[k].datagrams_received >= COUNT);
      CHECK_EQ_INT(st[k].relay_failures, 0);
      if (st[k].relayed) {
        relayed++;
        CHECK_EQ_INT(st[k].local_type, xIceCandidateType_Relay);
        CHECK_EQ_INT(st[k].relay_transport, stream ? XP2P_RELAY_STREAM : XP2P_RELAY_UDP);
        CHECK_EQ_INT(st[k].relay_server.ss_family, AF_INET);
        CHECK_EQ_INT(ntohs(srv->sin_port), tls ? c->tls_port : c->port);
        CHECK(ntohs(loc->sin_port) >= relay_lo && ntohs(loc->sin_port) < relay_lo + 100);
      } else {
        CHECK_EQ_INT(st[k].relay_transport, XP2P_RELAY_NONE);
        CHECK(ntohs(rem->sin_port) >= relay_lo && ntohs(rem->sin_port) < relay_lo + 100);
      }
    }
    CHECK(relayed >= 1);
  }

  /* `refresh_s` seconds (20 s: four refresh periods, nonces going stale
   * every 10 s): 10 datagrams each way every 500 ms, none may be lost. */
  refreshes_before = log_count(c->logfile, "refreshed");
  end = xMonoMs() + (uint64_t)refresh_s * 1000;
  while (xMonoMs() < end && connected(&a) && connected(&b)) {
    uint64_t next = xMonoMs() + 500;
    exchange(loop, &a, &b, 10);
    while (xMonoMs() < next) xEventWait(loop, 10);
  }
  refreshes = log_count(c->logfile, "refreshed") - refreshes_before;
  printf("coturn logged %d allocation refreshes in %d s\n", refreshes, refresh_s);
  CHECK(refreshes >= min_refreshes);
  printf("after %d s of refreshes: a->b %d/%u, b->a %d/%u, states %d/%d\n", refresh_s, b.received,
         a.out_seq, a.received, b.out_seq, a.state, b.state);
  CHECK(connected(&a) && connected(&b));
  CHECK(a.out_seq >= (uint32_t)(COUNT + 15 * refresh_s));
  CHECK_EQ_INT(a.send_errors + b.send_errors, 0);
  CHECK_EQ_INT(b.received, a.out_seq);
  CHECK_EQ_INT(a.received, b.out_seq);
  destroy_agents(loop, &a, &b);
  /* Destroying sends each deallocation (a Refresh with lifetime 0) and,
   * over TCP or TLS, then closes the connection. */
  end = xMonoMs() + check_wait_ms(3000);
  while (xMonoMs() < end) {
    deallocs = log_count(c->logfile, DEALLOCATED) - dealloc_before;
    closed = log_count(c->logfile, TCP_CLOSED) - closed_before;
    notified = log_count(c->logfile, TLS_CLOSE_NOTIFY) - notify_before;
    if (deallocs >= 2 && closed >= want_closed && notified >= want_notified) break;
    usleep(20000);
  }
  printf("coturn saw %d deallocations, %d connections closed, %d TLS close_notify\n", deallocs,
         closed, notified);
  CHECK_EQ_INT(deallocs, 2);
  CHECK_EQ_INT(closed, want_closed);
  CHECK_EQ_INT(notified, want_notified);
}

/* The relayed candidate fails (`turn`, `pass`), end-of-candidates still
 * comes (not before `min_eoc_ms` where a timeout must run out first; no
 * upper bound: how soon is a benchmark matter, not a test one), and host
 * candidates connect. */
static void relay_fails_host_connects(xEventLoop loop, const char *what, const char *turn,
                                      const char *pass, uint64_t min_eoc_ms) {
  static Peer a, b;
  int ok = connect_agents(loop, &a, &b, turn, pass, 0, 0);
  printf("%s: end-of-candidates after %llu / %llu ms, relay candidates %d/%d, host %d/%d\n", what,
         (unsigned long long)a.eoc_ms, (unsigned long long)b.eoc_ms, a.relay, b.relay, a.host,
         b.host);
  CHECK(ok);
  CHECK_EQ_INT(a.relay + b.relay, 0);
  CHECK(a.host >= 1 && b.host >= 1);
  CHECK(a.eoc && a.eoc_ms >= min_eoc_ms);
  CHECK(b.eoc && b.eoc_ms >= min_eoc_ms);
  if (ok) {
    exchange(loop, &a, &b, 100);
    CHECK_EQ_INT(b.received, 100);
    CHECK_EQ_INT(a.received, 100);
  }
  destroy_agents(loop, &a, &b);
}

/* ---- PeerConnections ------------------------------------------------------- */

typedef struct Pc {
  xPeerConnection pc;
  struct Pc *other;
  xPeerConnectionState state;
  int eoc, relay, opened, failed;
  int msgs, bad;
  xDataChannel ch;
  char relay_line[256];
} Pc;

static void pc_on_state(xPeerConnection pc, xPeerConnectionState s, void *arg) {
  (void)pc;
  ((Pc *)arg)->state = s;
  if (s == xPeerConnectionState_Failed) ((Pc *)arg)->failed = 1;
}

static void pc_on_candidate(xPeerConnection pc, const char *line, void *arg) {
  Pc *x = (Pc *)arg;
  (void)pc;
  if (!line) {
    x->eoc = 1;
    return;
  }
  if (!strstr(line, " typ relay")) return; /* relay-only signalling */
  x->relay++;
  snprintf(x->relay_line, sizeof x->relay_line, "%s", line);
  if (x->other && x->other->pc) xPeerConnectionAddIceCandidate(x->other->pc, line);
}

static void pc_on_datachannel(xPeerConnection pc, xDataChannel ch, void *arg) {
  (void)pc;
  ((Pc *)arg)->ch = ch;
}

static void pc_on_open(xDataChannel ch, void *arg) {
  Pc *x = (Pc *)arg;
  x->ch = ch;
  x->opened++;
}

static void pc_on_message(xDataChannel ch, xDataChannelMsgType type, const uint8_t *data,
                          size_t len, void *arg) {
  Pc *x = (Pc *)arg;
  char want[32];
  (void)ch;
  (void)type;
  snprintf(want, sizeof want, "message %05d", x->msgs);
  if (len != strlen(want) || memcmp(data, want, len) != 0) x->bad++;
  x->msgs++;
}

static void pc_on_close(xDataChannel ch, void *arg) {
  (void)ch;
  (void)arg;
}

static xPeerConnection make_pc(xEventLoop loop, Pc *x, const char *turn) {
  xPeerConnectionConf c;
  memset(&c, 0, sizeof c);
  c.turn_server = turn;
  c.turn_username = USER;
  c.turn_password = PASS;
  c.on_state_change = pc_on_state;
  c.on_ice_candidate = pc_on_candidate;
  c.on_datachannel = pc_on_datachannel;
  c.on_dc_open = pc_on_open;
  c.on_dc_message = pc_on_message;
  c.on_dc_close = pc_on_close;
  c.ctx = x;
  x->pc = xPeerConnectionCreate(loop, &c);
  return x->pc;
}

static void pc_spin(xEventLoop loop, int ms, int (*cond)(Pc *, Pc *), Pc *a, Pc *b) {
  uint64_t end = xMonoMs() + check_wait_ms((uint64_t)ms);
  while (xMonoMs() < end && !cond(a, b)) xEventWait(loop, 5);
}
static int pc_open(Pc *a, Pc *b) { return a->opened && b->opened; }
static int pc_msgs(Pc *a, Pc *b) { return a->msgs >= COUNT && b->msgs >= COUNT; }
static int pc_eoc(Pc *a, Pc *b) { return a->eoc && b->eoc; }

static void relay_only_peer_connections(xEventLoop loop, const TurnServer *c, int relay_lo,
                                        const char *turn) {
  static Pc a, b;
  char *offer, *answer, text[32];
  xDataChannelConf dc;
  int i, deallocs = 0, dealloc_before = log_count(c->logfile, DEALLOCATED);
  uint64_t end;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  a.other = &b;
  b.other = &a;
  printf("-- relay-only PeerConnections through %s\n", turn);
  CHECK(make_pc(loop, &a, turn) != NULL);
  CHECK(make_pc(loop, &b, turn) != NULL);
  if (!a.pc || !b.pc) return;
  memset(&dc, 0, sizeof dc);
  snprintf(dc.label, sizeof dc.label, "relayed");
  dc.ordered = true;
  CHECK(xPeerConnectionCreateDataChannel(a.pc, &dc) != NULL);

  offer = xPeerConnectionCreateOffer(a.pc);
  CHECK(offer != NULL);
  if (!offer) return;
  CHECK_EQ_INT(xPeerConnectionSetLocalDescription(a.pc, offer), xErrno_Ok);
  keep_relay_lines(offer); /* the relay usually comes by trickle, later */
  CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(b.pc, offer), xErrno_Ok);
  answer = xPeerConnectionCreateAnswer(b.pc);
  CHECK(answer != NULL);
  if (answer) {
    CHECK_EQ_INT(xPeerConnectionSetLocalDescription(b.pc, answer), xErrno_Ok);
    keep_relay_lines(answer);
    CHECK_EQ_INT(xPeerConnectionSetRemoteDescription(a.pc, answer), xErrno_Ok);
  }
  free(offer);
  free(answer);
  pc_spin(loop, 15000, pc_open, &a, &b);
  printf("PeerConnections over relays: relay candidates %d/%d, states %d/%d, open %d/%d\n",
         a.relay, b.relay, a.state, b.state, a.opened, b.opened);
  CHECK(a.relay == 1 && b.relay == 1);
  CHECK(only_relay_addresses(a.relay_line, relay_lo));
  CHECK(only_relay_addresses(b.relay_line, relay_lo));
  CHECK(a.opened == 1 && b.opened == 1);
  CHECK(a.state == xPeerConnectionState_Connected && b.state == xPeerConnectionState_Connected);
  if (a.opened && b.opened && a.ch && b.ch) {
    for (i = 0; i < COUNT; i++) {
      snprintf(text, sizeof text, "message %05d", i);
      CHECK_EQ_INT(xDataChannelSendString(a.ch, text, strlen(text)), xErrno_Ok);
      CHECK_EQ_INT(xDataChannelSendString(b.ch, text, strlen(text)), xErrno_Ok);
    }
    pc_spin(loop, 15000, pc_msgs, &a, &b);
    printf("data-channel messages through coturn: %d / %d (bad %d/%d)\n", b.msgs, a.msgs, b.bad,
           a.bad);
    CHECK_EQ_INT(a.msgs, COUNT);
    CHECK_EQ_INT(b.msgs, COUNT);
    CHECK_EQ_INT(a.bad + b.bad, 0);
    {
      /* Statistics: at least one side's selected pair is relayed, and the
       * channels counted every message. */
      xPeerConnectionStats sa, sb;
      xDataChannelStats ca;
      memset(&sa, 0, sizeof sa);
      memset(&sb, 0, sizeof sb);
      memset(&ca, 0, sizeof ca);
      sa.size = sizeof sa;
      sb.size = sizeof sb;
      ca.size = sizeof ca;
      CHECK_EQ_INT(xPeerConnectionGetStats(a.pc, &sa), xErrno_Ok);
      CHECK_EQ_INT(xPeerConnectionGetStats(b.pc, &sb), xErrno_Ok);
      CHECK(sa.relayed || sb.relayed);
      CHECK(sa.relayed ? sa.relay_transport != XP2P_RELAY_NONE
                       : sa.remote_type == xIceCandidateType_Relay);
      CHECK_EQ_INT(xDataChannelGetStats(a.ch, &ca), xErrno_Ok);
      CHECK(ca.messages_sent >= COUNT && ca.messages_received >= COUNT);
      printf("stats: a relayed %d, b relayed %d, a sent %llu bytes in %llu datagrams\n", sa.relayed,
             sb.relayed, (unsigned long long)sa.bytes_sent, (unsigned long long)sa.datagrams_sent);
    }
  }
  pc_spin(loop, 6000, pc_eoc, &a, &b);
  CHECK(a.eoc && b.eoc);
  CHECK(!a.failed && !b.failed);
  xPeerConnectionDestroy(a.pc);
  xPeerConnectionDestroy(b.pc);
  xEventWait(loop, 10);
  /* Both allocations are released on destroy, also b's, which may already
   * have been closed by a's SCTP ABORT and DTLS close_notify. */
  end = xMonoMs() + check_wait_ms(3000);
  while (xMonoMs() < end && deallocs < 2) {
    deallocs = log_count(c->logfile, DEALLOCATED) - dealloc_before;
    usleep(20000);
  }
  printf("coturn saw %d deallocations\n", deallocs);
  CHECK_EQ_INT(deallocs, 2);
}

int main(void) {
  TurnServer turn;
  xEventLoop loop;
  char server[96], closed[96];
  int relay_lo = 40000 + (int)(getpid() % 200) * 100;

  memset(&turn, 0, sizeof turn);
  if (turn_server_start(&turn, relay_lo) != 0) {
    CHECK(0);
    turn_server_stop(&turn);
    return CHECK_DONE();
  }
  loop = xEventLoopCreate();
  unsetenv("XP2P_TURN_CA_FILE");

  snprintf(server, sizeof server, "turn:127.0.0.1:%d?transport=udp", turn.port);
  relay_only_agents(loop, &turn, relay_lo, server, 20);
  snprintf(server, sizeof server, "127.0.0.1:%d", turn.port);
  relay_only_peer_connections(loop, &turn, relay_lo, server);

  /* TURN over TCP, then over TLS with the test's certificate trusted (by
   * name: the certificate must carry "localhost"). The CA file is read
   * when the agent or PeerConnection is created. */
  snprintf(server, sizeof server, "turn:127.0.0.1:%d?transport=tcp", turn.port);
  relay_only_agents(loop, &turn, relay_lo, server, 0);
  setenv("XP2P_TURN_CA_FILE", turn.cert, 1);
  snprintf(server, sizeof server, "turns:localhost:%d", turn.tls_port);
  relay_only_agents(loop, &turn, relay_lo, server, 6);
  snprintf(server, sizeof server, "turns:127.0.0.1:%d", turn.tls_port);
  relay_only_peer_connections(loop, &turn, relay_lo, server);
  unsetenv("XP2P_TURN_CA_FILE");

  /* Wrong password: the 401 ends relay gathering at once. */
  snprintf(server, sizeof server, "127.0.0.1:%d", turn.port);
  relay_fails_host_connects(loop, "wrong password", server, "not-the-password", 0);

  /* Nothing listens on the port: the gather timeout (5 s) ends it over
   * UDP, the refused connection at once over TCP. */
  snprintf(closed, sizeof closed, "turn:127.0.0.1:%d", coturn_free_port(SOCK_DGRAM));
  relay_fails_host_connects(loop, "closed port", closed, PASS, 4500);
  snprintf(closed, sizeof closed, "turn:127.0.0.1:%d?transport=tcp",
           coturn_free_port(SOCK_STREAM));
  relay_fails_host_connects(loop, "closed TCP port", closed, PASS, 0);

  /* TLS without the CA: the certificate is refused in the handshake. */
  snprintf(server, sizeof server, "turns:localhost:%d", turn.tls_port);
  relay_fails_host_connects(loop, "untrusted TLS certificate", server, PASS, 0);

  /* A server that stops answering (stopped, its port still open). */
  snprintf(server, sizeof server, "turn:127.0.0.1:%d", turn.port);
  kill(turn.pid, SIGSTOP);
  relay_fails_host_connects(loop, "stopped server", server, PASS, 4500);
  kill(turn.pid, SIGCONT);

  xEventLoopDestroy(loop);
  turn_server_stop(&turn);
  return CHECK_DONE();
}

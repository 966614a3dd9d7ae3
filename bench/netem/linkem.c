/* linkem: a userspace link emulator for the benchmark (this kernel has no
 * sch_netem), and the UDP probe that checks it.
 *
 *   linkem link --ns-a NS --ns-b NS --dev NAME [--delay-ms D] [--loss P]
 *               [--seed S] [--slots N]
 *       Creates a TAP device NAME in each of the two network namespaces
 *       (they must exist: `ip netns add`) and forwards Ethernet frames
 *       between them: every frame waits D milliseconds (one way, default 0;
 *       fractions allowed), and every IPv4/IPv6 frame is dropped with
 *       probability P (0..1, default 0) drawn from a generator seeded with S
 *       (default 1; each direction has its own stream). Other frames (ARP)
 *       are delayed, never dropped. At most N frames (default 8192) wait in
 *       each direction; one arriving when that many wait is dropped and
 *       counted as overflow. Prints "linkem ready" once both devices exist
 *       (the caller then sets addresses, MTU and brings them up), one stats
 *       line on SIGUSR1 and a last one on SIGTERM/SIGINT, then exits:
 *         linkem stats a2b in=.. fwd=.. lost=.. overflow=.. b2a in=.. ...
 *       The devices disappear with the process.
 *   linkem echo --port P
 *       UDP echo server on 0.0.0.0:P until SIGTERM.
 *   linkem ping --addr IPV4 --port P [--count N] [--interval-ms I]
 *       Sends N (default 10) numbered 64-byte UDP probes, one every I ms
 *       (default 100), to an echo server and waits up to 2 s after the last;
 *       prints
 *         linkem ping sent=N received=M median_ms=.. min_ms=.. max_ms=..
 *       and exits 0 when at least one reply came back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 2048

static volatile sig_atomic_t stop_flag, stats_flag;

static void on_signal(int s) {
  if (s == SIGUSR1)
    stats_flag = 1;
  else
    stop_flag = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "linkem: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: linkem link --ns-a NS --ns-b NS --dev NAME [--delay-ms D] [--loss P]\n"
          "                   [--seed S] [--slots N]\n"
          "       linkem echo --port P\n"
          "       linkem ping --addr IPV4 --port P [--count N] [--interval-ms I]\n");
  exit(2);
}

/* ---- link ----------------------------------------------------------------- */

typedef struct Slot {
  uint64_t due_ns;
  uint32_t len;
  uint8_t data[FRAME_MAX];
} Slot;

typedef struct Dir {
  int in_fd, out_fd;
  Slot *ring;
  uint32_t head, count;
  uint64_t rng;
  uint64_t in, fwd, lost, overflow, write_err;
} Dir;

static uint32_t slots = 8192;

/* xorshift64*, then the top 53 bits as a double in [0, 1). */
static double rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static int tap_in(const char *ns, const char *dev) {
  char path[256];
  struct ifreq ifr;
  int nsfd, fd;
  snprintf(path, sizeof path, "/var/run/netns/%s", ns);
  nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) die(path);
  if (setns(nsfd, CLONE_NEWNET) < 0) die("setns");
  close(nsfd);
  fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) die("/dev/net/tun");
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  return fd;
}

static void print_stats(Dir *d) {
  printf("linkem stats a2b in=%llu fwd=%llu lost=%llu overflow=%llu write_err=%llu "
         "b2a in=%llu fwd=%llu lost=%llu overflow=%llu write_err=%llu\n",
         (unsigned long long)d[0].in, (unsigned long long)d[0].fwd,
         (unsigned long long)d[0].lost, (unsigned long long)d[0].overflow,
         (unsigned long long)d[0].write_err, (unsigned long long)d[1].in,
         (unsigned long long)d[1].fwd, (unsigned long long)d[1].lost,
         (unsigned long long)d[1].overflow, (unsigned long long)d[1].write_err);
  fflush(stdout);
}

static int is_ip(const uint8_t *f, uint32_t len) {
  uint16_t type;
  if (len < 14) return 0;
  type = (uint16_t)(f[12] << 8 | f[13]);
  return type == 0x0800 || type == 0x86DD;
}

static int run_link(const char *ns_a, const char *ns_b, const char *dev, double delay_ms,
                    double loss, uint64_t seed) {
  Dir d[2];
  int home, fa, fb, i;
  uint64_t delay_ns = (uint64_t)(delay_ms * 1e6);
  struct sigaction sa;

  home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) die("/proc/self/ns/net");
  fa = tap_in(ns_a, dev);
  fb = tap_in(ns_b, dev);
  if (setns(home, CLONE_NEWNET) < 0) die("setns home");
  close(home);

  memset(d, 0, sizeof d);
  d[0].in_fd = fa;
  d[0].out_fd = fb;
  d[1].in_fd = fb;
  d[1].out_fd = fa;
  for (i = 0; i < 2; i++) {
    d[i].ring = malloc((size_t)slots * sizeof(Slot));
    if (!d[i].ring) die("malloc");
    d[i].rng = (seed ? seed : 1) * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD1B54A32D192ED03ull;
    if (!d[i].rng) d[i].rng = 1;
  }

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);

  printf("linkem ready dev=%s ns_a=%s ns_b=%s delay_ms=%.3f loss=%.4f seed=%llu slots=%u\n", dev,
         ns_a, ns_b, delay_ms, loss, (unsigned long long)seed, slots);
  fflush(stdout);

  while (!stop_flag) {
    struct pollfd p[2];
    struct timespec ts, *tsp = NULL;
    uint64_t t = now_ns(), next = UINT64_MAX;
    for (i = 0; i < 2; i++) {
      Dir *x = &d[i];
      while (x->count) {
        Slot *s = &x->ring[x->head];
        if (s->due_ns > t) {
          if (s->due_ns < next) next = s->due_ns;
          break;
        }
        if (write(x->out_fd, s->data, s->len) == (ssize_t)s->len)
          x->fwd++;
        else
          x->write_err++;
        x->head = (x->head + 1) % slots;
        x->count--;
      }
    }
    if (stats_flag) {
      stats_flag = 0;
      print_stats(d);
    }
    if (next != UINT64_MAX) {
      uint64_t w = next - t;
      ts.tv_sec = (time_t)(w / 1000000000u);
      ts.tv_nsec = (long)(w % 1000000000u);
      tsp = &ts;
    }
    p[0].fd = fa;
    p[0].events = POLLIN;
    p[1].fd = fb;
    p[1].events = POLLIN;
    if (ppoll(p, 2, tsp, NULL) < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    for (i = 0; i < 2; i++) {
      Dir *x = &d[i];
      int n;
      if (!(p[i].revents & POLLIN)) continue;
      for (n = 0; n < 512; n++) {
        uint8_t scratch[FRAME_MAX];
        Slot *s = x->count < slots ? &x->ring[(x->head + x->count) % slots] : NULL;
        uint8_t *buf = s ? s->data : scratch;
        ssize_t r = read(x->in_fd, buf, FRAME_MAX);
        if (r <= 0) break;
        x->in++;
        if (loss > 0 && is_ip(buf, (uint32_t)r) && rnd(&x->rng) < loss) {
          x->lost++;
          continue;
        }
        if (!s) {
          x->overflow++;
          continue;
        }
        s->len = (uint32_t)r;
        s->due_ns = now_ns() + delay_ns;
        x->count++;
      }
    }
  }
  print_stats(d);
  return 0;
}

/* ---- echo and ping ---------------------------------------------------------- */

static int run_echo(int port) {
  struct sockaddr_in a;
  struct sigaction sa;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("linkem echo on udp port %d\n", port);
  fflush(stdout);
  while (!stop_flag) {
    uint8_t buf[2048];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("recvfrom");
    }
    sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int run_ping(const char *addr, int port, int count, int interval_ms) {
  struct sockaddr_in a;
  uint64_t *sent_at = calloc((size_t)count, sizeof *sent_at);
  double *rtt = calloc((size_t)count, sizeof *rtt), med = 0;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sent = 0, got = 0;
  uint64_t next = now_ns(), end = 0;
  if (!sent_at || !rtt) die("calloc");
  if (fd < 0) die("socket");
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) usage();
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  for (;;) {
    uint64_t t = now_ns();
    struct pollfd p = {fd, POLLIN, 0};
    int wait_ms;
    if (sent < count && t >= next) {
      uint8_t probe[64];
      uint32_t seq = (uint32_t)sent;
      memset(probe, 0xA5, sizeof probe);
      memcpy(probe, &seq, sizeof seq);
      sent_at[sent] = t;
      if (send(fd, probe, sizeof probe, 0) < 0 && errno != ECONNREFUSED) die("send");
      sent++;
      next = t + (uint64_t)interval_ms * 1000000u;
      if (sent == count) end = t + 2000000000u;
    }
    if (sent == count && (got == count || t >= end)) break;
    wait_ms = sent < count ? (int)((next - t) / 1000000u) + 1 : (int)((end - t) / 1000000u) + 1;
    if (poll(&p, 1, wait_ms) > 0) {
      uint8_t buf[128];
      uint32_t seq;
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r == 64) {
        memcpy(&seq, buf, sizeof seq);
        if (seq < (uint32_t)sent && sent_at[seq]) {
          rtt[got++] = (double)(now_ns() - sent_at[seq]) / 1e6;
          sent_at[seq] = 0;
        }
      }
    }
  }
  if (got) {
    qsort(rtt, (size_t)got, sizeof *rtt, cmp_double);
    med = got % 2 ? rtt[got / 2] : (rtt[got / 2 - 1] + rtt[got / 2]) / 2;
    printf("linkem ping sent=%d received=%d median_ms=%.3f min_ms=%.3f max_ms=%.3f\n", sent, got,
           med, rtt[0], rtt[got - 1]);
  } else {
    printf("linkem ping sent=%d received=0\n", sent);
  }
  return got ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *ns_a = NULL, *ns_b = NULL, *dev = NULL, *addr = NULL;
  double delay = 0, loss = 0;
  unsigned long long seed = 1;
  int port = 0, count = 10, interval = 100, i;
  if (argc < 2) usage();
  for (i = 2; i < argc; i += 2) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (!strcmp(o, "--ns-a")) ns_a = v;
    else if (!strcmp(o, "--ns-b")) ns_b = v;
    else if (!strcmp(o, "--dev")) dev = v;
    else if (!strcmp(o, "--delay-ms")) delay = atof(v);
    else if (!strcmp(o, "--loss")) loss = atof(v);
    else if (!strcmp(o, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(o, "--slots")) slots = (uint32_t)atoi(v);
    else if (!strcmp(o, "--port")) port = atoi(v);
    else if (!strcmp(o, "--addr")) addr = v;
    else if (!strcmp(o, "--count")) count = atoi(v);
    else if (!strcmp(o, "--interval-ms")) interval = atoi(v);
    else usage();
  }
  if (!strcmp(argv[1], "link")) {
    if (!ns_a || !ns_b || !dev || delay < 0 || loss < 0 || loss > 1 || slots < 1) usage();
    return run_link(ns_a, ns_b, dev, delay, loss, seed);
  }
  if (!strcmp(argv[1], "echo")) {
    if (port <= 0 || port > 65535) usage();
    return run_echo(port);
  }
  if (!strcmp(argv[1], "ping")) {
    if (!addr || port <= 0 || port > 65535 || count < 1 || interval < 1) usage();
    return run_ping(addr, port, count, interval);
  }
  usage();
  return 2;
}

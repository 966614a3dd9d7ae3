/* ice_candidate.h and ice_pair.h through the installed headers: the
 * upstream ice_candidate_test behaviours, struct layouts and NULL
 * arguments. */
#include "check.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <xp2p/ice_candidate.h>
#include <xp2p/ice_pair.h>

static void set_v4(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin->sin_addr);
}

static void set_v6(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  memset(ss, 0, sizeof(*ss));
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &sin6->sin6_addr);
}

static void test_layout(void) {
  CHECK_EQ_INT(sizeof(xIceCandidate), 440);
  CHECK_EQ_INT(offsetof(xIceCandidate, foundation), 0);
  CHECK_EQ_INT(offsetof(xIceCandidate, component_id), 32);
  CHECK_EQ_INT(offsetof(xIceCandidate, transport), 36);
  CHECK_EQ_INT(offsetof(xIceCandidate, priority), 40);
  CHECK_EQ_INT(offsetof(xIceCandidate, type), 44);
  CHECK_EQ_INT(offsetof(xIceCandidate, addr), 48);
  CHECK_EQ_INT(offsetof(xIceCandidate, base_addr), 176);
  CHECK_EQ_INT(offsetof(xIceCandidate, rel_addr), 304);
  CHECK_EQ_INT(offsetof(xIceCandidate, sock), 432);
  CHECK_EQ_INT(sizeof(xIcePair), 32);
  CHECK_EQ_INT(offsetof(xIcePair, local), 0);
  CHECK_EQ_INT(offsetof(xIcePair, remote), 8);
  CHECK_EQ_INT(offsetof(xIcePair, priority), 16);
  CHECK_EQ_INT(offsetof(xIcePair, state), 24);
  CHECK_EQ_INT(offsetof(xIcePair, nominated), 28);
  CHECK_EQ_INT(XICE_MAX_CANDIDATES, 32);
  CHECK_EQ_INT(XICE_MAX_PAIRS, 128);
}

static void test_priorities(void) {
  uint32_t host = xIceCandidatePriority(xIceCandidateType_Host, 65535, 1);
  uint32_t srflx = xIceCandidatePriority(xIceCandidateType_Srflx, 65535, 1);
  uint32_t prflx = xIceCandidatePriority(xIceCandidateType_Prflx, 65535, 1);
  uint32_t relay = xIceCandidatePriority(xIceCandidateType_Relay, 65535, 1);
  CHECK_EQ_INT(host, 2130706431u);
  CHECK_EQ_INT(srflx, 1694498815u);
  CHECK_EQ_INT(relay, 16777215u);
  CHECK(host > prflx && prflx > srflx && srflx > relay);
  CHECK(xIceCandidatePriority(xIceCandidateType_Host, 65535, 1) >
        xIceCandidatePriority(xIceCandidateType_Host, 65535, 2));
  CHECK_EQ_INT(xIceCandidateTypePref(xIceCandidateType_Host), 126);
  CHECK_EQ_INT(xIceCandidateTypePref(xIceCandidateType_Srflx), 100);
  CHECK_EQ_INT(xIceCandidateTypePref(xIceCandidateType_Prflx), 110);
  CHECK_EQ_INT(xIceCandidateTypePref(xIceCandidateType_Relay), 0);
  CHECK_EQ_INT(xIceCandidateTypePref(42), 0);
}

static void test_foundation(void) {
  xIceCandidate a, b, c;
  struct sockaddr_storage stun;
  memset(&a, 0, sizeof(a));
  a.type = xIceCandidateType_Host;
  set_v4(&a.base_addr, "192.168.1.10", 5000);
  b = a;
  c = a;
  c.type = xIceCandidateType_Srflx;
  xIceCandidateFoundation(&a, NULL);
  xIceCandidateFoundation(&b, NULL);
  xIceCandidateFoundation(&c, NULL);
  CHECK(strlen(a.foundation) > 0);
  CHECK(strcmp(a.foundation, b.foundation) == 0);
  CHECK(strcmp(a.foundation, c.foundation) != 0);
  /* The STUN server takes part: a different server, a different foundation. */
  set_v4(&stun, "198.51.100.1", 3478);
  b = c;
  xIceCandidateFoundation(&b, (const struct sockaddr *)&stun);
  CHECK(strcmp(b.foundation, c.foundation) != 0);
  /* IPv6 bases work too. */
  set_v6(&c.base_addr, "2001:db8::1", 5000);
  xIceCandidateFoundation(&c, (const struct sockaddr *)&stun);
  CHECK(strlen(c.foundation) > 0);
  xIceCandidateFoundation(NULL, NULL); /* no crash */
}

static void test_type_strings(void) {
  xIceCandidateType t;
  int i;
  for (i = 0; i < 4; i++) {
    t = -1;
    CHECK_EQ_INT(xIceCandidateTypeFromStr(xIceCandidateTypeStr(i), &t), xErrno_Ok);
    CHECK_EQ_INT(t, i);
  }
  CHECK(strcmp(xIceCandidateTypeStr(xIceCandidateType_Host), "host") == 0);
  CHECK(strcmp(xIceCandidateTypeStr(xIceCandidateType_Relay), "relay") == 0);
  CHECK(strcmp(xIceCandidateTypeStr(7), "unknown") == 0);
  CHECK_EQ_INT(xIceCandidateTypeFromStr("invalid", &t), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceCandidateTypeFromStr("Host", &t), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceCandidateTypeFromStr(NULL, &t), xErrno_InvalidArg);
  CHECK_EQ_INT(xIceCandidateTypeFromStr("host", NULL), xErrno_InvalidArg);
}

static void test_sockaddr(void) {
  struct sockaddr_storage v4, v6, none;
  char buf[INET6_ADDRSTRLEN];
  set_v4(&v4, "10.0.0.1", 12345);
  set_v6(&v6, "2001:db8::42", 443);
  memset(&none, 0, sizeof(none));
  CHECK_EQ_INT(xSockaddrPort((const struct sockaddr *)&v4), 12345);
  CHECK_EQ_INT(xSockaddrPort((const struct sockaddr *)&v6), 443);
  CHECK_EQ_INT(xSockaddrPort((const struct sockaddr *)&none), 0);
  CHECK_EQ_INT(xSockaddrPort(NULL), 0);
  CHECK(xSockaddrIP((const struct sockaddr *)&v4, buf, sizeof(buf)) == buf);
  CHECK(strcmp(buf, "10.0.0.1") == 0);
  CHECK(xSockaddrIP((const struct sockaddr *)&v6, buf, sizeof(buf)) == buf);
  CHECK(strcmp(buf, "2001:db8::42") == 0);
  CHECK(xSockaddrIP((const struct sockaddr *)&none, buf, sizeof(buf)) == NULL);
  CHECK(xSockaddrIP((const struct sockaddr *)&v4, buf, 4) == NULL);
  CHECK(xSockaddrIP((const struct sockaddr *)&v4, NULL, 16) == NULL);
  CHECK(xSockaddrIP(NULL, buf, sizeof(buf)) == NULL);
}

static void test_pairs(void) {
  xIcePair pairs[3];
  xIcePair hi, lo;
  memset(pairs, 0, sizeof(pairs));
  CHECK(xIcePairPriority(100, 50) == ((uint64_t)50 << 32) + 201);
  CHECK(xIcePairPriority(100, 50) != xIcePairPriority(50, 100));
  CHECK(xIcePairPriority(100, 100) == ((uint64_t)100 << 32) + 200);
  pairs[0].priority = 100;
  pairs[1].priority = 300;
  pairs[2].priority = 200;
  xIcePairSort(pairs, 3);
  CHECK(pairs[0].priority == 300 && pairs[1].priority == 200 && pairs[2].priority == 100);
  pairs[0].priority = 1;
  qsort(pairs, 3, sizeof(xIcePair), xIcePairCompare);
  CHECK(pairs[0].priority == 200 && pairs[1].priority == 100 && pairs[2].priority == 1);
  memset(&hi, 0, sizeof(hi));
  memset(&lo, 0, sizeof(lo));
  hi.priority = 2;
  lo.priority = 1;
  CHECK(xIcePairCompare(&hi, &lo) < 0);
  CHECK(xIcePairCompare(&lo, &hi) > 0);
  CHECK_EQ_INT(xIcePairCompare(&hi, &hi), 0);
  CHECK(xIcePairCompare(NULL, &hi) > 0);
  CHECK_EQ_INT(xIcePairCompare(NULL, NULL), 0);
  xIcePairSort(NULL, 3); /* no crash */
  xIcePairSort(pairs, 0);
  xIcePairSort(pairs, -5);
}

int main(void) {
  test_layout();
  test_priorities();
  test_foundation();
  test_type_strings();
  test_sockaddr();
  test_pairs();
  return CHECK_DONE();
}

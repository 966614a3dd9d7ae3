/* turn_channel.h through the installed header: the upstream turn_test
 * ChannelData behaviours, struct layout and NULL arguments. ice_private.h
 * is included too: both headers define XTURN_CHANNEL_HEADER_SIZE, which must
 * be an identical (silent) redefinition. */
#include "check.h"

#include <stddef.h>
#include <string.h>
#include <xp2p/ice_private.h>
#include <xp2p/turn_channel.h>

static void test_layout(void) {
  CHECK_EQ_INT(sizeof(xTurnChannel), 144);
  CHECK_EQ_INT(offsetof(xTurnChannel, number), 0);
  CHECK_EQ_INT(offsetof(xTurnChannel, peer), 8);
  CHECK_EQ_INT(offsetof(xTurnChannel, bound), 136);
  CHECK_EQ_INT(XTURN_CHANNEL_HEADER_SIZE, 4);
}

static void test_round_trip(void) {
  const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
  uint8_t out[32];
  uint16_t channel = 0, len = 0;
  const uint8_t *data = NULL;
  int n;
  memset(out, 0xEE, sizeof(out));
  n = xTurnChannelDataEncode(0x4001, payload, 5, out, sizeof(out));
  CHECK_EQ_INT(n, 12);
  CHECK_EQ_INT(xReadU16BE(out), 0x4001);
  CHECK_EQ_INT(xReadU16BE(out + 2), 5);
  CHECK(memcmp(out + 4, payload, 5) == 0);
  CHECK(out[9] == 0 && out[10] == 0 && out[11] == 0);
  CHECK_EQ_INT(xTurnChannelDataDecode(out, (size_t)n, &channel, &data, &len), xErrno_Ok);
  CHECK_EQ_INT(channel, 0x4001);
  CHECK_EQ_INT(len, 5);
  CHECK(data == out + 4);
  /* Without padding (allowed over UDP). */
  CHECK_EQ_INT(xTurnChannelDataDecode(out, 9, &channel, &data, &len), xErrno_Ok);
  /* Aligned and empty payloads. */
  CHECK_EQ_INT(xTurnChannelDataEncode(0x7FFF, payload, 4, out, sizeof(out)), 8);
  CHECK_EQ_INT(xTurnChannelDataEncode(0x4000, NULL, 0, out, sizeof(out)), 4);
  CHECK_EQ_INT(xTurnChannelDataDecode(out, 4, &channel, &data, &len), xErrno_Ok);
  CHECK_EQ_INT(channel, 0x4000);
  CHECK_EQ_INT(len, 0);
}

static void test_errors(void) {
  const uint8_t payload[5] = {1, 2, 3, 4, 5};
  uint8_t out[16];
  uint8_t bad[8] = {0x00, 0x01, 0x00, 0x04, 1, 2, 3, 4};
  uint8_t long_len[8] = {0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4};
  uint16_t channel = 0, len = 0;
  const uint8_t *data = NULL;
  /* EncodeBufferTooSmall */
  CHECK_EQ_INT(xTurnChannelDataEncode(0x4001, payload, 5, out, 11), -1);
  CHECK_EQ_INT(xTurnChannelDataEncode(0x4001, payload, 5, out, 0), -1);
  CHECK_EQ_INT(xTurnChannelDataEncode(0x4001, NULL, 5, out, sizeof(out)), -1);
  CHECK_EQ_INT(xTurnChannelDataEncode(0x4001, payload, 5, NULL, sizeof(out)), -1);
  CHECK_EQ_INT(xTurnChannelDataEncode(0x0001, payload, 5, out, sizeof(out)), -1);
  /* DecodeInvalidChannel, DecodeTooShort, length beyond the buffer */
  CHECK_EQ_INT(xTurnChannelDataDecode(bad, sizeof(bad), &channel, &data, &len), xErrno_InvalidArg);
  bad[0] = 0x80;
  CHECK_EQ_INT(xTurnChannelDataDecode(bad, sizeof(bad), &channel, &data, &len), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnChannelDataDecode(long_len, 3, &channel, &data, &len), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnChannelDataDecode(long_len, sizeof(long_len), &channel, &data, &len),
               xErrno_InvalidArg);
  /* NULL arguments */
  CHECK_EQ_INT(xTurnChannelDataDecode(NULL, 8, &channel, &data, &len), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnChannelDataDecode(long_len, 8, NULL, &data, &len), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnChannelDataDecode(long_len, 8, &channel, NULL, &len), xErrno_InvalidArg);
  CHECK_EQ_INT(xTurnChannelDataDecode(long_len, 8, &channel, &data, NULL), xErrno_InvalidArg);
}

static void test_is_channel_data(void) {
  CHECK(xTurnIsChannelData(0x40));
  CHECK(xTurnIsChannelData(0x7F));
  CHECK(!xTurnIsChannelData(0x00));
  CHECK(!xTurnIsChannelData(0x80));
  CHECK(!xTurnIsChannelData(0x3F));
}

int main(void) {
  test_layout();
  test_round_trip();
  test_errors();
  test_is_channel_data();
  return CHECK_DONE();
}

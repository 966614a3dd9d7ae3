/* The data channel calls every C test of a channel API checks with a NULL
 * channel: neutral results, no crash. */
#ifndef XP2P_CTEST_DATACHANNEL_NULL_H
#define XP2P_CTEST_DATACHANNEL_NULL_H

#include <string.h>

#include <xp2p/datachannel.h>

#include "check.h"

static inline void datachannel_null_channel(void) {
  CHECK_EQ_INT(xDataChannelSendString(NULL, "x", 1), xErrno_InvalidArg);
  CHECK_EQ_INT(xDataChannelSendBinary(NULL, (const uint8_t *)"x", 1), xErrno_InvalidArg);
  xDataChannelClose(NULL);
  CHECK(strcmp(xDataChannelGetLabel(NULL), "") == 0);
  CHECK_EQ_INT(xDataChannelGetState(NULL), xDataChannelState_Closed);
  CHECK_EQ_INT(xDataChannelGetStreamId(NULL), 0);
  CHECK_EQ_INT(xDataChannelGetBufferedAmount(NULL), 0);
  xDataChannelSetBufferedAmountLowThreshold(NULL, 10);
}

#endif

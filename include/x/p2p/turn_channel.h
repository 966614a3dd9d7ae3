/* Mirror of <xp2p/turn_channel.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/turn_channel.h"

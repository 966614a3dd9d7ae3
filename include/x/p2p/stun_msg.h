/* Mirror of <xp2p/stun_msg.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/stun_msg.h"

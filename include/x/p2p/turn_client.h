/* Mirror of <xp2p/turn_client.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/turn_client.h"

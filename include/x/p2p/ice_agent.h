/* Mirror of <xp2p/ice_agent.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/ice_agent.h"

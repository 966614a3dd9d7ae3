/* Mirror of <xp2p/flow.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/flow.h"

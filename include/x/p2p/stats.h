/* Mirror of <xp2p/stats.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/stats.h"

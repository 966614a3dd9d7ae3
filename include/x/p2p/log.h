/* Mirror of <xp2p/log.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/log.h"

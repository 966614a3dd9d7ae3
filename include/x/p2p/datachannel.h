/* Mirror of <xp2p/datachannel.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/datachannel.h"

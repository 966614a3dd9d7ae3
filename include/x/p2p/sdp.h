/* Mirror of <xp2p/sdp.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/sdp.h"

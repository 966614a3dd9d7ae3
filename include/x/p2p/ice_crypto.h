/* Mirror of <xp2p/ice_crypto.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/ice_crypto.h"

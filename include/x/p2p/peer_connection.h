/* Mirror of <xp2p/peer_connection.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/peer_connection.h"

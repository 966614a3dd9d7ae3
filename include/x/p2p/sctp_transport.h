/* Mirror of <xp2p/sctp_transport.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/sctp_transport.h"

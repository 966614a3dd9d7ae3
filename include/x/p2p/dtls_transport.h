/* Mirror of <xp2p/dtls_transport.h> for the <x/p2p/...> include spelling. */
#include "../../xp2p/dtls_transport.h"

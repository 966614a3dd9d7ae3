/* Mirror of <xbase/socket.h> for the <x/base/...> include spelling. */
#include "../../xbase/socket.h"

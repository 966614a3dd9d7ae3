/* Mirror of <xbase/event.h> for the <x/base/...> include spelling. */
#include "../../xbase/event.h"

/* Mirror of <xbase/time.h> for the <x/base/...> include spelling. */
#include "../../xbase/time.h"

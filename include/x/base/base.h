/* Mirror of <xbase/base.h> for the <x/base/...> include spelling. */
#include "../../xbase/base.h"

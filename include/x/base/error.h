/* Mirror of <xbase/error.h> for the <x/base/...> include spelling. */
#include "../../xbase/error.h"

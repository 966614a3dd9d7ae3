/* Mirror of <xbase/task.h> for the <x/base/...> include spelling. */
#include "../../xbase/task.h"

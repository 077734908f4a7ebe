/* bmcwd user-space shim (ours): module metadata compiles to nothing. */
#ifndef BMCWD_SHIM_LINUX_MODULE_H
#define BMCWD_SHIM_LINUX_MODULE_H
#include <linux/moduleparam.h>
#define MODULE_LICENSE(x)
#define MODULE_AUTHOR(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_VERSION(x)
#define THIS_MODULE ((void *)0)
#endif

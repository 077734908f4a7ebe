/* bmcwd user-space shim (ours): the C library's string functions. */
#ifndef BMCWD_SHIM_LINUX_STRING_H
#define BMCWD_SHIM_LINUX_STRING_H
#include <string.h>
#endif

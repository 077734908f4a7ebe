/* bmcwd user-space shim (ours): module parameters are plain statics the
 * harness sets (bt_debug through bmcwd_set_debug). */
#ifndef BMCWD_SHIM_LINUX_MODULEPARAM_H
#define BMCWD_SHIM_LINUX_MODULEPARAM_H
#define module_param(name, type, perm)
#define module_param_named(name, value, type, perm)
#define MODULE_PARM_DESC(name, desc)
#endif

/* bmcwd user-space shim (ours, MIT OR Apache-2.0): the few kernel facilities
 * drivers/char/ipmi/ipmi_bt_sm.c uses, so the file compiles as-is in user space.
 * printk/dev_* format with vsnprintf and hand (level, text, flags) to bmcwd. */
#ifndef BMCWD_SHIM_LINUX_KERNEL_H
#define BMCWD_SHIM_LINUX_KERNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* What <linux/types.h> gives every kernel file (bool/true/false come from
 * <stdbool.h>, as the kernel's own definitions mean the same). */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define KERN_SOH	"\001"
#define KERN_EMERG	KERN_SOH "0"
#define KERN_ALERT	KERN_SOH "1"
#define KERN_CRIT	KERN_SOH "2"
#define KERN_ERR	KERN_SOH "3"
#define KERN_WARNING	KERN_SOH "4"
#define KERN_NOTICE	KERN_SOH "5"
#define KERN_INFO	KERN_SOH "6"
#define KERN_DEBUG	KERN_SOH "7"
#define KERN_DEFAULT	""
#define KERN_CONT	KERN_SOH "c"

#define USEC_PER_SEC	1000000L
#define MSEC_PER_SEC	1000L

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

struct device;

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dev_printk family: level 0..7; the record carries the device (a line of its own). */
void bmcwd_dev_printk(int level, const struct device *dev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define no_printk(fmt, ...) ({ if (0) printk(fmt, ##__VA_ARGS__); 0; })

#define pr_emerg(fmt, ...)	printk(KERN_EMERG pr_fmt(fmt), ##__VA_ARGS__)
#define pr_alert(fmt, ...)	printk(KERN_ALERT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit(fmt, ...)	printk(KERN_CRIT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...)	printk(KERN_ERR pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	printk(KERN_WARNING pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warning		pr_warn
#define pr_notice(fmt, ...)	printk(KERN_NOTICE pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	printk(KERN_INFO pr_fmt(fmt), ##__VA_ARGS__)
#define pr_cont(fmt, ...)	printk(KERN_CONT fmt, ##__VA_ARGS__)

#define dev_emerg(dev, fmt, ...) bmcwd_dev_printk(0, dev, fmt, ##__VA_ARGS__)
#define dev_alert(dev, fmt, ...) bmcwd_dev_printk(1, dev, fmt, ##__VA_ARGS__)
#define dev_crit(dev, fmt, ...)	bmcwd_dev_printk(2, dev, fmt, ##__VA_ARGS__)
#define dev_err(dev, fmt, ...)	bmcwd_dev_printk(3, dev, fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...)	bmcwd_dev_printk(4, dev, fmt, ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...) bmcwd_dev_printk(5, dev, fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...)	bmcwd_dev_printk(6, dev, fmt, ##__VA_ARGS__)
/* Like the kernel without dynamic debug: dev_dbg/pr_debug print only when the
 * file defines DEBUG before its includes (6.1's ipmi_bt_sm.c does). */
#ifdef DEBUG
#define dev_dbg(dev, fmt, ...)	bmcwd_dev_printk(7, dev, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#else
#define dev_dbg(dev, fmt, ...)	({ if (0) bmcwd_dev_printk(7, dev, fmt, ##__VA_ARGS__); })
#define pr_debug(fmt, ...)	no_printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#endif

/* Time: the harness sets HZ at run time (the SI model's kernel). */
unsigned int jiffies_to_usecs(unsigned long j);
/* The detect loop's one-jiffy sleep: the harness suspends the C code here and
 * resumes it when the simulation has let a jiffy pass. */
long schedule_timeout_uninterruptible(long timeout);

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __iomem
#define __user
#define fallthrough	__attribute__((__fallthrough__))
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)

#endif

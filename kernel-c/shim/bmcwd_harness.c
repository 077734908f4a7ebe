/* bmcwd user-space harness (ours, MIT OR Apache-2.0): compiles the user's
 * ipmi_bt_sm.c (included below as bt_sm_user.c) and exposes its
 * bt_smi_handlers to bmcwd through a small C ABI. Register access and log
 * text go to callbacks bmcwd registers; bt_detect's one-jiffy sleeps suspend
 * the C code (a ucontext coroutine) so the simulation can let time pass. */
#define _GNU_SOURCE

/* ---- the user's file, first: its own `#define DEBUG` must precede the
 * shim's linux/kernel.h as in the kernel ---- */
#include "bt_sm_user.c"
/* ------------------------- */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "ipmi_si_sm.h"

typedef unsigned char (*bmcwd_in_fn)(void *ctx, unsigned int offset);
typedef void (*bmcwd_out_fn)(void *ctx, unsigned int offset, unsigned char b);
/* flags: 1 = continuation (KERN_CONT / no level), 2 = bare (no level at all),
 * 4 = dev_* call (carries a device: ends its line). */
typedef void (*bmcwd_log_fn)(void *ctx, int level, int flags, const char *text, size_t len);

static bmcwd_in_fn cb_in;
static bmcwd_out_fn cb_out;
static bmcwd_log_fn cb_log;
static void *cur_ctx;
static unsigned int bmcwd_hz = 250;

static void emit(int level, int flags, const char *fmt, va_list ap)
{
	char buf[1024]; /* the kernel's LOG_LINE_MAX is about this */
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (cb_log)
		cb_log(cur_ctx, level, flags, buf, (size_t)n);
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int level = 4, flags = 0; /* MESSAGE_LOGLEVEL_DEFAULT */
	if (fmt[0] == '\001' && fmt[1] != '\0') {
		char c = fmt[1];
		fmt += 2;
		if (c == 'c')
			flags = 1;
		else if (c >= '0' && c <= '7')
			level = c - '0';
	} else {
		flags = 1 | 2;
	}
	va_start(ap, fmt);
	emit(level, flags, fmt, ap);
	va_end(ap);
	return 0;
}

void bmcwd_dev_printk(int level, const struct device *dev, const char *fmt, ...)
{
	va_list ap;
	(void)dev;
	va_start(ap, fmt);
	emit(level, 4, fmt, ap);
	va_end(ap);
}

unsigned int jiffies_to_usecs(unsigned long j)
{
	/* include/linux/jiffies.h: exact for HZ dividing 10^6, else rounded down */
	if (1000000u % bmcwd_hz == 0)
		return (1000000u / bmcwd_hz) * j;
	return (unsigned int)((unsigned long long)j * 1000000ull / bmcwd_hz);
}

static unsigned char io_in(const struct si_sm_io *io, unsigned int offset)
{
	(void)io;
	return cb_in ? cb_in(cur_ctx, offset) : 0xff;
}

static void io_out(const struct si_sm_io *io, unsigned int offset, unsigned char b)
{
	(void)io;
	if (cb_out)
		cb_out(cur_ctx, offset, b);
}

struct bmcwd_inst;
static struct bmcwd_inst *cur_inst;

#define CO_NONE 0
#define CO_SLEEPING 1
#define CO_DONE 2
#define CO_STACK (1 << 20)

struct bmcwd_inst {
	struct si_sm_io io;
	struct si_sm_data *sm;
	ucontext_t caller, co;
	void *stack;
	int co_state;
	int detect_rv;
};

long schedule_timeout_uninterruptible(long timeout)
{
	struct bmcwd_inst *i = cur_inst;
	if (i && i->co_state == CO_SLEEPING)
		swapcontext(&i->co, &i->caller);
	return 0 * timeout;
}

void bmcwd_register(bmcwd_in_fn in, bmcwd_out_fn out, bmcwd_log_fn log)
{
	cb_in = in;
	cb_out = out;
	cb_log = log;
}

void bmcwd_set_hz(unsigned int hz)
{
	if (hz)
		bmcwd_hz = hz;
}

void bmcwd_set_debug(int v)
{
	bt_debug = v;
}

/* Bit per missing handler: 1 init_data, 2 start_transaction, 4 get_result,
 * 8 event, 16 detect, 32 size. */
int bmcwd_missing(void)
{
	int m = 0;
	if (!bt_smi_handlers.init_data) m |= 1;
	if (!bt_smi_handlers.start_transaction) m |= 2;
	if (!bt_smi_handlers.get_result) m |= 4;
	if (!bt_smi_handlers.event) m |= 8;
	if (!bt_smi_handlers.detect) m |= 16;
	if (!bt_smi_handlers.size) m |= 32;
	return m;
}

int bmcwd_size(void)
{
	return bt_smi_handlers.size();
}

struct bmcwd_inst *bmcwd_new(void)
{
	struct bmcwd_inst *i = calloc(1, sizeof(*i));
	int sz;
	if (!i)
		return NULL;
	sz = bt_smi_handlers.size();
	i->sm = calloc(1, sz > 0 ? (size_t)sz : 1);
	if (!i->sm) {
		free(i);
		return NULL;
	}
	i->io.inputb = io_in;
	i->io.outputb = io_out;
	return i;
}

void bmcwd_free(struct bmcwd_inst *i)
{
	if (!i)
		return;
	free(i->stack);
	free(i->sm);
	free(i);
}

unsigned int bmcwd_init_data(struct bmcwd_inst *i, void *ctx)
{
	cur_ctx = ctx;
	cur_inst = i;
	return bt_smi_handlers.init_data(i->sm, &i->io);
}

int bmcwd_start_transaction(struct bmcwd_inst *i, void *ctx, unsigned char *data, unsigned int size)
{
	cur_ctx = ctx;
	cur_inst = i;
	return bt_smi_handlers.start_transaction(i->sm, data, size);
}

int bmcwd_get_result(struct bmcwd_inst *i, void *ctx, unsigned char *data, unsigned int length)
{
	cur_ctx = ctx;
	cur_inst = i;
	return bt_smi_handlers.get_result(i->sm, data, length);
}

int bmcwd_event(struct bmcwd_inst *i, void *ctx, long time)
{
	cur_ctx = ctx;
	cur_inst = i;
	return (int)bt_smi_handlers.event(i->sm, time);
}

static void co_main(void)
{
	struct bmcwd_inst *i = cur_inst;
	i->detect_rv = bt_smi_handlers.detect(i->sm);
	i->co_state = CO_DONE;
	/* returning resumes uc_link (the caller) */
}

/* Runs bt_detect until it sleeps (returns 1) or ends (returns 2, result in
 * bmcwd_detect_rv); -1 if no stack could be had. */
int bmcwd_detect_start(struct bmcwd_inst *i, void *ctx)
{
	cur_ctx = ctx;
	cur_inst = i;
	if (!i->stack) {
		i->stack = malloc(CO_STACK);
		if (!i->stack)
			return -1;
	}
	if (getcontext(&i->co) != 0)
		return -1;
	i->co.uc_stack.ss_sp = i->stack;
	i->co.uc_stack.ss_size = CO_STACK;
	i->co.uc_link = &i->caller;
	makecontext(&i->co, co_main, 0);
	i->co_state = CO_SLEEPING;
	swapcontext(&i->caller, &i->co);
	return i->co_state;
}

/* Lets a sleeping bt_detect go on after its one-jiffy sleep. */
int bmcwd_detect_resume(struct bmcwd_inst *i, void *ctx)
{
	cur_ctx = ctx;
	cur_inst = i;
	if (i->co_state != CO_SLEEPING)
		return i->co_state;
	swapcontext(&i->caller, &i->co);
	return i->co_state;
}

int bmcwd_detect_rv(struct bmcwd_inst *i)
{
	return i->detect_rv;
}

/* The state as the file's own state2txt prints it, and the countdown. */
const char *bmcwd_state_text(struct bmcwd_inst *i)
{
	return state2txt(i->sm->state);
}

const char *bmcwd_state_text_of(int s)
{
	return state2txt((unsigned char)s);
}

int bmcwd_state(struct bmcwd_inst *i)
{
	return (int)i->sm->state;
}

long bmcwd_timeout(struct bmcwd_inst *i)
{
	return i->sm->timeout;
}

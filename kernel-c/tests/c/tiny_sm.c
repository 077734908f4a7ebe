/* A deliberately tiny BT-like state machine for the harness's own tests
 * (ours, not kernel code): IDLE -> (start) XACTION -> event writes the
 * request bytes and completes. Exercises every printk shape. */
#define DEBUG
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ipmi_msgdefs.h>
#include "ipmi_si_sm.h"

static int bt_debug;
module_param(bt_debug, int, 0644);

enum bt_states { BT_STATE_IDLE = 0, BT_STATE_XACTION_START, BT_STATE_LONG_BUSY };

struct si_sm_data {
	enum bt_states state;
	struct si_sm_io *io;
	unsigned char data[IPMI_MAX_MSG_LENGTH];
	unsigned int size;
	long timeout;
	/* Kernel types from <linux/types.h>, as real fixes use them (patches/). */
	bool started;
	u8 last_cmd;
};

static char *state2txt(unsigned char state)
{
	switch (state) {
	case BT_STATE_IDLE: return "IDLE";
	case BT_STATE_XACTION_START: return "XACTION";
	case BT_STATE_LONG_BUSY: return "LONG_BUSY";
	}
	return "BAD STATE";
}

static unsigned int bt_init_data(struct si_sm_data *bt, struct si_sm_io *io)
{
	memset(bt, 0, sizeof(*bt));
	bt->io = io;
	bt->timeout = 5 * USEC_PER_SEC;
	return 3;
}

static int bt_start_transaction(struct si_sm_data *bt, unsigned char *data, unsigned int size)
{
	unsigned int i;
	if (size < 2)
		return IPMI_REQ_LEN_INVALID_ERR;
	if (bt->state != BT_STATE_IDLE)
		return IPMI_NOT_IN_MY_STATE_ERR;
	memcpy(bt->data, data, size);
	bt->size = size;
	bt->started = true;
	bt->last_cmd = (u8)data[1];
	bt->state = BT_STATE_XACTION_START;
	if (bt_debug) {
		dev_dbg(bt->io->dev, "start %d bytes:", size);
		for (i = 0; i < size; i++)
			pr_cont(" %02x", data[i]);
		pr_cont("\n");
	}
	return 0;
}

static int bt_get_result(struct si_sm_data *bt, unsigned char *data, unsigned int length)
{
	data[0] = bt->data[0] | 4;
	data[1] = bt->data[1];
	data[2] = 0;
	return 3;
}

static enum si_sm_result bt_event(struct si_sm_data *bt, long time)
{
	unsigned int i;
	unsigned char status = bt->io->inputb(bt->io, 0);
	bt->timeout -= time;
	if (bt->state == BT_STATE_IDLE)
		return SI_SM_IDLE;
	if (status & 0x80) {
		printk(KERN_WARNING "busy %s ", "now");	/* open-ended */
		printk("bare %d\n", 1);			/* bare: era decides */
		printk(KERN_CONT "cont %ld\n", time);
		return SI_SM_CALL_WITH_DELAY;
	}
	if (bt->timeout < 0) {
		dev_warn(bt->io->dev, "IPMI BT: timeout in %s ", state2txt(bt->state));
		pr_cont("%d retries left\n", 0);
		dev_err(bt->io->dev, "stuck, try power cycle\n");
		bt->state = BT_STATE_IDLE;
		return SI_SM_TRANSACTION_COMPLETE;
	}
	for (i = 0; i < bt->size; i++)
		bt->io->outputb(bt->io, 1, bt->data[i]);
	bt->state = BT_STATE_IDLE;
	return SI_SM_TRANSACTION_COMPLETE;
}

static int bt_detect(struct si_sm_data *bt)
{
	int n = 0;
	if (bt->io->inputb(bt->io, 0) == 0xFF && bt->io->inputb(bt->io, 2) == 0xFF)
		return 1;
	/* wait (sleeping one jiffy at a time) until CTRL drops B_BUSY */
	while (bt->io->inputb(bt->io, 0) & 0x80) {
		schedule_timeout_uninterruptible(1);
		n += jiffies_to_usecs(1);
	}
	dev_info(bt->io->dev, "waited %d us\n", n);
	return 0;
}

static int bt_size(void)
{
	return sizeof(struct si_sm_data);
}

const struct si_sm_handlers bt_smi_handlers = {
	.init_data = bt_init_data,
	.start_transaction = bt_start_transaction,
	.get_result = bt_get_result,
	.event = bt_event,
	.detect = bt_detect,
	.size = bt_size,
};

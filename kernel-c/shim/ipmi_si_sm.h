/* bmcwd user-space shim (ours): the state-machine interface of the kernel's SI
 * layer as ipmi_bt_sm.c sees it (struct si_sm_io register access, enum
 * si_sm_result, struct si_sm_handlers), for the 2018+ and pre-2018 files. */
#ifndef BMCWD_SHIM_IPMI_SI_SM_H
#define BMCWD_SHIM_IPMI_SI_SM_H
#include <linux/kernel.h>
#include <linux/ipmi_msgdefs.h>

struct si_sm_data;

struct si_sm_io {
	unsigned char (*inputb)(const struct si_sm_io *io, unsigned int offset);
	void (*outputb)(const struct si_sm_io *io, unsigned int offset, unsigned char b);
	struct device *dev;
	void *addr;
	int regspacing;
	int regsize;
	int regshift;
};

enum si_sm_result {
	SI_SM_CALL_WITHOUT_DELAY,
	SI_SM_CALL_WITH_DELAY,
	SI_SM_CALL_WITH_TICK_DELAY,
	SI_SM_TRANSACTION_COMPLETE,
	SI_SM_IDLE,
	SI_SM_HOSED,
	SI_SM_ATTN
};

struct si_sm_handlers {
	char *version;
	unsigned int (*init_data)(struct si_sm_data *smi, struct si_sm_io *io);
	int (*start_transaction)(struct si_sm_data *smi, unsigned char *data, unsigned int size);
	int (*get_result)(struct si_sm_data *smi, unsigned char *data, unsigned int length);
	enum si_sm_result (*event)(struct si_sm_data *smi, long time);
	int (*detect)(struct si_sm_data *smi);
	void (*cleanup)(struct si_sm_data *smi);
	int (*size)(void);
};
#endif

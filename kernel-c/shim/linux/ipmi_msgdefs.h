/* bmcwd user-space shim (ours): IPMI numbers from the IPMI v2.0 spec
 * (§5.2 Table 5-2 completion codes, §5.1 NetFns) under the kernel's names. */
#ifndef BMCWD_SHIM_LINUX_IPMI_MSGDEFS_H
#define BMCWD_SHIM_LINUX_IPMI_MSGDEFS_H
#define IPMI_NETFN_APP_REQUEST		0x06
#define IPMI_NETFN_APP_RESPONSE		0x07
#define IPMI_GET_DEVICE_ID_CMD		0x01
#define IPMI_MAX_MSG_LENGTH		272
#define IPMI_CC_NO_ERROR		0x00
#define IPMI_NODE_BUSY_ERR		0xc0
#define IPMI_INVALID_COMMAND_ERR	0xc1
#define IPMI_TIMEOUT_ERR		0xc3
#define IPMI_ERR_MSG_TRUNCATED		0xc6
#define IPMI_REQ_LEN_INVALID_ERR	0xc7
#define IPMI_REQ_LEN_EXCEEDED_ERR	0xc8
#define IPMI_DEVICE_IN_FW_UPDATE_ERR	0xd1
#define IPMI_DEVICE_IN_INIT_ERR		0xd2
#define IPMI_NOT_IN_MY_STATE_ERR	0xd5
#define IPMI_LOST_ARBITRATION_ERR	0x81
#define IPMI_BUS_ERR			0x82
#define IPMI_NAK_ON_WRITE_ERR		0x83
#define IPMI_ERR_UNSPECIFIED		0xff
#endif

/* Offsets and sizes of the agent's structures that tramp.S's fast paths read and write (plain numbers, so the
 * assembler can use them). hook.c and agent.c check every one against the C layout with _Static_assert: a
 * change to struct cw_thread, cw_frame, cw_site or the counter region that is not made here too does not
 * build. */
#ifndef CW_AGENT_LAYOUT_H
#define CW_AGENT_LAYOUT_H

/* struct cw_thread */
#define CW_T_BUSY 0
#define CW_T_SHARD 4
#define CW_T_EXCL 8
#define CW_T_DEPTH 12
#define CW_T_STACK_LO 168
#define CW_T_STACK_HI 176
#define CW_T_FRAMES 184
#define CW_T_NFRAMES 8192 /* CW_STACK_FRAMES */

/* struct cw_frame: 64 bytes, so frame k is at CW_T_FRAMES + (k << 6) */
#define CW_F_SHIFT 6
#define CW_F_RET 0
#define CW_F_RETP 8
#define CW_F_T0 16
#define CW_F_CHILD 24
#define CW_F_SLOT 32
#define CW_F_SITE 36 /* CW_F_SLOT + 4: the entry stores both at once */
#define CW_F_CALLER 40
#define CW_F_RESTORED 44
#define CW_F_GEN 48
#define CW_F_INST 56

/* struct cw_site (agent.h) and its table */
#define CW_S_SIZE 72
#define CW_S_STUB 56
#define CW_S_SLOT 64
#define CW_S_MAX 16384 /* CW_MAX_SITES */
#define CW_S_ORIG_OFF 16 /* CW_X86_STUB_ORIG_OFF */

/* the counter region (proto.h): slot k's shard s is at CW_SHM_SLOTS + k * CW_SLOT_SIZE + (s << 8) */
#define CW_SHM_SLOTS 128
#define CW_SLOT_SIZE 2176
#define CW_CTR_SHIFT 8
#define CW_CTR_CALLS 0
#define CW_CTR_INCL 8
#define CW_CTR_CHILD 16

#endif

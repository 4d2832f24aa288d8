/* A minimal x86-64 code writer: only the encodings the entry stubs need, each checked for reach. */
#include "arch/x86_64/x86.h"

#include <errno.h>
#include <string.h>

void cw_x86w_init(struct cw_x86w *w, uint8_t *buf, size_t cap, uint64_t addr)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->addr = addr;
	w->err = 0;
}

uint64_t cw_x86w_pc(const struct cw_x86w *w)
{
	return w->addr + w->len;
}

void cw_x86w_bytes(struct cw_x86w *w, const void *b, size_t n)
{
	if (w->err)
		return;
	if (w->len + n > w->cap) {
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->buf + w->len, b, n);
	w->len += n;
}

static void put_rel32(struct cw_x86w *w, uint64_t target, size_t insn_len_after)
{
	/* rel32 is relative to the end of the instruction: here, after these 4 bytes + INSN_LEN_AFTER */
	int64_t rel = (int64_t)(target - (cw_x86w_pc(w) + 4 + insn_len_after));
	if (rel < INT32_MIN || rel > INT32_MAX) {
		if (!w->err)
			w->err = -ERANGE;
		return;
	}
	int32_t r = (int32_t)rel;
	cw_x86w_bytes(w, &r, 4);
}

void cw_x86w_push_imm32(struct cw_x86w *w, uint32_t imm)
{
	uint8_t op = 0x68;
	cw_x86w_bytes(w, &op, 1);
	cw_x86w_bytes(w, &imm, 4);
}

void cw_x86w_jmp_rip_ind(struct cw_x86w *w, uint64_t slot)
{
	static const uint8_t op[] = { 0xff, 0x25 };
	cw_x86w_bytes(w, op, 2);
	put_rel32(w, slot, 0);
}

void cw_x86w_lea_rsp(struct cw_x86w *w, int8_t off)
{
	/* lea disp8(%rsp),%rsp: does not touch the flags, unlike add */
	uint8_t op[] = { 0x48, 0x8d, 0x64, 0x24, (uint8_t)off };
	cw_x86w_bytes(w, op, sizeof(op));
}

void cw_x86w_jmp(struct cw_x86w *w, uint64_t target)
{
	uint8_t op = 0xe9;
	cw_x86w_bytes(w, &op, 1);
	put_rel32(w, target, 0);
}

void cw_x86w_call(struct cw_x86w *w, uint64_t target)
{
	uint8_t op = 0xe8;
	cw_x86w_bytes(w, &op, 1);
	put_rel32(w, target, 0);
}

void cw_x86w_jcc(struct cw_x86w *w, unsigned cond, uint64_t target)
{
	uint8_t op[] = { 0x0f, (uint8_t)(0x80 | (cond & 0xf)) };
	cw_x86w_bytes(w, op, 2);
	put_rel32(w, target, 0);
}

void cw_x86w_align(struct cw_x86w *w, unsigned a, uint8_t fill)
{
	while (!w->err && (cw_x86w_pc(w) & (a - 1)))
		cw_x86w_bytes(w, &fill, 1);
}

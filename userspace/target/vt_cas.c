/* vt_cas: prove the jump after a slab's head CAS as a probe site. */
#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/vt_cas.h"
#include "target/vt_target.h"

#define MAX_INSNS 1024	/* functions longer than this are not analysed */
#define MAX_RUN 12	/* instructions from the CAS to its jump */

#define MAX_SLOTS 8	/* frame slots followed at once */
#define RED_ZONE 128	/* below %rsp, a leaf's own (x86-64 ABI) */

/* What holds the first argument (the slab) + k, when known: registers,
 * and the 8-byte slots of the function's own frame (-O0 code keeps its
 * arguments there) while %rbp is its frame base. */
struct flow {
	uint16_t known;		/* bit r: regs[r] holds slab + k[r] */
	bool frame;		/* %rbp is the frame base */
	uint8_t nslot;
	int64_t k[VT_R_COUNT];
	int32_t slot_d[MAX_SLOTS];	/* %rbp + slot_d[i] holds slab + slot_k[i] */
	int64_t slot_k[MAX_SLOTS];
};

/* The frame, when the function sets one up: `push %rbp; mov %rbp, %rsp`
 * then `sub %rsp, size`, and no instruction but the epilogue writes %rbp
 * or %rsp (calls and returns aside). A pointer into the frame comes only
 * from its base: escape is the lowest displacement any instruction takes
 * the address of or indexes from (INT64_MIN when %rbp or %rsp itself is
 * copied). Only the slots below it are followed: no pointer, no callee
 * and no other thread reaches them (a pointer to one object may reach
 * the objects above it, never another object below), so only a store
 * naming one changes it. */
struct frame {
	bool ok;
	size_t body;		/* the first instruction after the prologue */
	int64_t size;
	int64_t escape;
};

struct fn {
	csh h;
	cs_insn *in;
	size_t n;
	uint64_t addr, len;
	struct frame fr;
	struct flow *at;	/* state before each instruction */
	bool *reached;
	bool *target;		/* some branch lands here */
};

/* The enum vt_reg of a (sub)register; -1 for any other. */
static int reg_index(x86_reg r)
{
	static const x86_reg fam[VT_R_COUNT][5] = {
		[VT_R_AX] = { X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH },
		[VT_R_BX] = { X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH },
		[VT_R_CX] = { X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH },
		[VT_R_DX] = { X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH },
		[VT_R_SI] = { X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
		[VT_R_DI] = { X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
		[VT_R_BP] = { X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL },
		[VT_R_SP] = { X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL },
		[VT_R_8] = { X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
		[VT_R_9] = { X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
		[VT_R_10] = { X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B },
		[VT_R_11] = { X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B },
		[VT_R_12] = { X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B },
		[VT_R_13] = { X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B },
		[VT_R_14] = { X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B },
		[VT_R_15] = { X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B },
	};

	if (r == X86_REG_INVALID)
		return -1;
	for (int i = 0; i < VT_R_COUNT; i++)
		for (int j = 0; j < 5 && fam[i][j]; j++)
			if (fam[i][j] == r)
				return i;
	return -1;
}

/* A 64-bit register operand's index, else -1. */
static int reg64(const cs_x86_op *op)
{
	return op->type == X86_OP_REG && op->size == 8 ? reg_index(op->reg)
						       : -1;
}

static bool is_jump(const struct fn *f, const cs_insn *in)
{
	return cs_insn_group(f->h, in, X86_GRP_JUMP);
}

static bool indirect(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return x->op_count != 1 || x->operands[0].type != X86_OP_IMM;
}

static bool is_cond(const cs_insn *in)
{
	return in->id != X86_INS_JMP;
}

/* The direct target of a branch inside the function, as an index; -1. */
static long target_of(const struct fn *f, const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;
	uint64_t t;

	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return -1;
	t = (uint64_t)x->operands[0].imm;
	for (size_t i = 0; i < f->n; i++)
		if (f->in[i].address == t)
			return (long)i;
	return -1;
}

/* The registers an instruction writes, as a mask; calls clobber the
 * caller-saved ones as well. */
static uint16_t written(const struct fn *f, const cs_insn *in)
{
	cs_regs rd, wr;
	uint8_t nrd, nwr;
	uint16_t m = 0;

	if (cs_regs_access(f->h, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
		return 0xffff;
	for (uint8_t i = 0; i < nwr; i++) {
		int r = reg_index(wr[i]);

		if (r >= 0)
			m |= 1u << r;
	}
	if (cs_insn_group(f->h, in, X86_GRP_CALL))
		m |= 1u << VT_R_AX | 1u << VT_R_CX | 1u << VT_R_DX |
		     1u << VT_R_SI | 1u << VT_R_DI | 1u << VT_R_8 |
		     1u << VT_R_9 | 1u << VT_R_10 | 1u << VT_R_11;
	return m;
}

static bool op_reg(const cs_insn *in, int i, x86_reg r)
{
	const cs_x86 *x = &in->detail->x86;

	return x->op_count > i && x->operands[i].type == X86_OP_REG &&
	       x->operands[i].reg == r;
}

static bool is_pop_rbp(const cs_insn *in)
{
	return in->id == X86_INS_POP && op_reg(in, 0, X86_REG_RBP);
}

/* Instruction i takes the frame down: leave, pop %rbp, or clang's
 * `add %rsp, size` right before it. */
static bool epilogue(const struct fn *f, size_t i)
{
	const cs_insn *in = &f->in[i];

	return in->id == X86_INS_LEAVE || is_pop_rbp(in) ||
	       (in->id == X86_INS_ADD && op_reg(in, 0, X86_REG_RSP) &&
		i + 1 < f->n && is_pop_rbp(&f->in[i + 1]));
}

static bool frame_reg(x86_reg r)
{
	return reg_index(r) == VT_R_BP || reg_index(r) == VT_R_SP;
}

/* A memory operand's displacement from the frame base, when it is %rbp
 * or %rsp (= %rbp - size in the body) plus a constant. */
static bool frame_disp(const struct fn *f, const cs_x86_op *m, int64_t *d)
{
	if (m->type != X86_OP_MEM || m->mem.segment != X86_REG_INVALID ||
	    m->mem.index != X86_REG_INVALID)
		return false;
	if (m->mem.base == X86_REG_RBP)
		*d = m->mem.disp;
	else if (m->mem.base == X86_REG_RSP)
		*d = m->mem.disp - f->fr.size;
	else
		return false;
	return true;
}

/* What body instruction i does to the frame: unsettles it, or lets the
 * address of a slot escape. */
static void frame_insn(struct fn *f, size_t i)
{
	const cs_insn *in = &f->in[i];
	const cs_x86 *x = &in->detail->x86;
	bool ends = epilogue(f, i);
	uint16_t w = written(f, in);
	int64_t d;

	if ((w & (1u << VT_R_BP | 1u << VT_R_SP)) && !ends &&
	    !cs_insn_group(f->h, in, X86_GRP_CALL) &&
	    !cs_insn_group(f->h, in, X86_GRP_RET))
		f->fr.ok = false;
	for (int k = 0; k < x->op_count; k++) {
		const cs_x86_op *op = &x->operands[k];

		if (op->type == X86_OP_REG && frame_reg(op->reg) && !ends)
			f->fr.escape = INT64_MIN;
		if (op->type != X86_OP_MEM)
			continue;
		if (frame_reg(op->mem.index) ||
		    (frame_reg(op->mem.base) && op->mem.index != X86_REG_INVALID))
			f->fr.escape = INT64_MIN;
		else if (in->id == X86_INS_LEA && frame_disp(f, op, &d) &&
			 d < f->fr.escape)
			f->fr.escape = d;
	}
}

/* Finds the frame (struct frame). */
static void frame_scan(struct fn *f)
{
	struct frame *fr = &f->fr;
	size_t i = f->n > 0 && f->in[0].id == X86_INS_ENDBR64 ? 1 : 0;
	const cs_insn *sub;

	*fr = (struct frame){ .escape = INT64_MAX };
	if (i + 1 >= f->n || f->in[i].id != X86_INS_PUSH ||
	    !op_reg(&f->in[i], 0, X86_REG_RBP) ||
	    f->in[i + 1].id != X86_INS_MOV ||
	    !op_reg(&f->in[i + 1], 0, X86_REG_RBP) ||
	    !op_reg(&f->in[i + 1], 1, X86_REG_RSP))
		return;
	i += 2;
	sub = i < f->n ? &f->in[i] : NULL;
	if (sub && sub->id == X86_INS_SUB && op_reg(sub, 0, X86_REG_RSP) &&
	    sub->detail->x86.operands[1].type == X86_OP_IMM &&
	    sub->detail->x86.operands[1].imm > 0) {
		fr->size = sub->detail->x86.operands[1].imm;
		i++;
	}
	fr->body = i;
	fr->ok = true;
	for (size_t j = fr->body; j < f->n; j++) {
		long t = is_jump(f, &f->in[j]) ? target_of(f, &f->in[j]) : -1;

		if (t >= 0 && (size_t)t < fr->body)
			fr->ok = false;	/* a jump back into the prologue */
		frame_insn(f, j);
	}
}

static int slot_find(const struct flow *s, int64_t d)
{
	for (int i = 0; i < s->nslot; i++)
		if (s->slot_d[i] == d)
			return i;
	return -1;
}

static void slot_drop(struct flow *s, int i)
{
	s->nslot--;
	s->slot_d[i] = s->slot_d[s->nslot];
	s->slot_k[i] = s->slot_k[s->nslot];
}

/* Forgets the slots that overlap [lo, hi). */
static void slots_clear(struct flow *s, int64_t lo, int64_t hi)
{
	for (int i = s->nslot - 1; i >= 0; i--)
		if (s->slot_d[i] < hi && s->slot_d[i] + 8 > lo)
			slot_drop(s, i);
}

static void slot_set(const struct fn *f, struct flow *s, int64_t d,
		     int64_t k)
{
	if (d + 8 > f->fr.escape || d < -f->fr.size - RED_ZONE ||
	    s->nslot == MAX_SLOTS)
		return;
	s->slot_d[s->nslot] = (int32_t)d;
	s->slot_k[s->nslot++] = k;
}

/* What an instruction does to the frame slots: a store naming one
 * replaces it, a call (or a system call) clobbers the red zone below the
 * frame. */
static void frame_step(const struct fn *f, const cs_insn *in,
		       const struct flow *s, struct flow *o)
{
	const cs_x86 *x = &in->detail->x86;
	int64_t d;

	if (!o->frame)
		return;
	if (cs_insn_group(f->h, in, X86_GRP_CALL) ||
	    cs_insn_group(f->h, in, X86_GRP_INT) || in->id == X86_INS_SYSCALL)
		slots_clear(o, INT64_MIN, -f->fr.size);
	for (int k = 0; k < x->op_count; k++) {
		const cs_x86_op *m = &x->operands[k];

		if (m->type == X86_OP_MEM && in->id != X86_INS_LEA &&
		    (!m->access || (m->access & CS_AC_WRITE)) &&
		    frame_disp(f, m, &d))
			slots_clear(o, d, d + (m->size ? m->size : 8));
	}
	if (in->id == X86_INS_MOV && x->op_count == 2 &&
	    frame_disp(f, &x->operands[0], &d) && x->operands[0].size == 8 &&
	    reg64(&x->operands[1]) >= 0 &&
	    (s->known >> reg64(&x->operands[1]) & 1))
		slot_set(f, o, d, s->k[reg64(&x->operands[1])]);
}

/* The state after instruction i. */
static struct flow step(const struct fn *f, size_t i, struct flow s)
{
	const cs_insn *in = &f->in[i];
	const cs_x86 *x = &in->detail->x86;
	int d = x->op_count == 2 ? reg64(&x->operands[0]) : -1;
	const cs_x86_op *src = &x->operands[1];
	uint16_t w = written(f, in);
	struct flow o = s;
	bool set = false;
	int64_t sd;
	int sl;

	o.known &= ~w;
	if (w >> VT_R_BP & 1) {
		o.frame = false;
		o.nslot = 0;
	}
	frame_step(f, in, &s, &o);
	if (f->fr.ok && i + 1 == f->fr.body)
		o.frame = true;
	if (d < 0)
		return o;
	if (in->id == X86_INS_MOV && reg64(src) >= 0 &&
	    (s.known >> reg64(src) & 1)) {
		o.k[d] = s.k[reg64(src)];
		set = true;
	} else if (in->id == X86_INS_MOV && s.frame && src->size == 8 &&
		   frame_disp(f, src, &sd) && (sl = slot_find(&s, sd)) >= 0) {
		o.k[d] = s.slot_k[sl];
		set = true;
	} else if (in->id == X86_INS_LEA && src->type == X86_OP_MEM &&
		   src->mem.index == X86_REG_INVALID &&
		   src->mem.segment == X86_REG_INVALID &&
		   reg_index(src->mem.base) >= 0 &&
		   (s.known >> reg_index(src->mem.base) & 1)) {
		o.k[d] = s.k[reg_index(src->mem.base)] + src->mem.disp;
		set = true;
	} else if ((in->id == X86_INS_ADD || in->id == X86_INS_SUB) &&
		   src->type == X86_OP_IMM && (s.known >> d & 1)) {
		o.k[d] = s.k[d] + (in->id == X86_INS_ADD ? src->imm : -src->imm);
		set = true;
	}
	if (set)
		o.known |= 1u << d;
	return o;
}

/* Joins s into the state before instruction i; true when it changed. */
static bool join(struct fn *f, size_t i, const struct flow *s)
{
	struct flow *a = &f->at[i];
	bool changed = false;
	uint16_t k;

	if (!f->reached[i]) {
		*a = *s;
		f->reached[i] = true;
		return true;
	}
	k = a->known & s->known;
	for (int r = 0; r < VT_R_COUNT; r++)
		if ((k >> r & 1) && a->k[r] != s->k[r])
			k &= ~(1u << r);
	for (int m = a->nslot - 1; m >= 0; m--) {
		int j = s->frame ? slot_find(s, a->slot_d[m]) : -1;

		if (j < 0 || s->slot_k[j] != a->slot_k[m]) {
			slot_drop(a, m);
			changed = true;
		}
	}
	if (a->frame && !s->frame) {
		a->frame = false;
		changed = true;
	}
	if (k == a->known)
		return changed;
	a->known = k;
	return true;
}

/* Forward data flow to a fixed point; -1 when control flow cannot be
 * followed (an indirect jump). */
static int flow(struct fn *f)
{
	size_t cap = f->n * (VT_R_COUNT + MAX_SLOTS + 3);
	size_t *work = calloc(cap, sizeof(*work));
	size_t top = 0;
	struct flow s0 = { .known = 1u << VT_R_DI };
	int rc = 0;

	if (!work)
		return -1;
	join(f, 0, &s0);
	work[top++] = 0;
	while (top > 0 && rc == 0) {
		size_t i = work[--top];
		const cs_insn *in = &f->in[i];
		struct flow o = step(f, i, f->at[i]);
		long t = -1;
		bool fall = true;

		if (cs_insn_group(f->h, in, X86_GRP_RET) ||
		    cs_insn_group(f->h, in, X86_GRP_INT))
			fall = false;
		else if (is_jump(f, in)) {
			if (indirect(in))
				rc = -1;
			t = target_of(f, in);
			fall = is_cond(in);
		}
		for (int e = 0; e < 2 && rc == 0; e++) {
			long nx = e == 0 ? (fall ? (long)i + 1 : -1) : t;

			if (nx < 0 || (size_t)nx >= f->n || !join(f, nx, &o))
				continue;
			if (top == cap)
				rc = -1;
			else
				work[top++] = (size_t)nx;
		}
	}
	free(work);
	return rc;
}

/* The one head CAS: an 8-byte lock cmpxchg on slab + k, k neither
 * numFree nor peakUsed. Its index, or -1 when there is not exactly one. */
static long head_cas(const struct fn *f, struct vt_cas_need need)
{
	long found = -1;

	for (size_t i = 0; i < f->n; i++) {
		const cs_insn *in = &f->in[i];
		const cs_x86 *x = &in->detail->x86;
		const cs_x86_op *m = &x->operands[0];
		int b;
		int64_t k;

		if (in->id != X86_INS_CMPXCHG || x->prefix[0] != X86_PREFIX_LOCK ||
		    !f->reached[i] || x->op_count != 2 ||
		    m->type != X86_OP_MEM || m->size != 8 ||
		    m->mem.index != X86_REG_INVALID ||
		    m->mem.segment != X86_REG_INVALID ||
		    (b = reg_index(m->mem.base)) < 0 ||
		    !(f->at[i].known >> b & 1))
			continue;
		k = f->at[i].k[b] + m->mem.disp;
		if (k == need.num_free || k == need.peak)
			continue;
		if (found >= 0)
			return -1;
		found = (long)i;
	}
	return found;
}

static bool zf_written(const cs_insn *in)
{
	return in->detail->x86.eflags &
	       (X86_EFLAGS_MODIFY_ZF | X86_EFLAGS_SET_ZF | X86_EFLAGS_RESET_ZF |
		X86_EFLAGS_UNDEFINED_ZF | X86_EFLAGS_PRIOR_ZF);
}

/* Where the CAS's outcome is along the run: sense +1 when the zero flag
 * is set on success, -1 when clear, 0 unknown; boolean (a byte register
 * set by sete/setne) in bool_reg with bool_sense. */
struct outcome {
	int sense;
	int bool_reg, bool_sense;
};

static void track_outcome(const cs_insn *in, uint16_t w, struct outcome *o)
{
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *a = &x->operands[0], *b = &x->operands[1];

	if ((in->id == X86_INS_SETE || in->id == X86_INS_SETNE) &&
	    a->type == X86_OP_REG && a->size == 1) {
		o->bool_reg = reg_index(a->reg);
		o->bool_sense = in->id == X86_INS_SETE ? o->sense : -o->sense;
		return;
	}
	if (in->id == X86_INS_TEST && x->op_count == 2 &&
	    a->type == X86_OP_REG && a->size == 1 && o->bool_sense &&
	    reg_index(a->reg) == o->bool_reg &&
	    ((b->type == X86_OP_REG && b->reg == a->reg) ||
	     (b->type == X86_OP_IMM && (b->imm & 1)))) {
		o->sense = -o->bool_sense;	/* ZF: the boolean is 0 */
		return;
	}
	if (zf_written(in))
		o->sense = 0;
	if (o->bool_reg >= 0 && (w >> o->bool_reg & 1))
		o->bool_sense = 0;
}

/* The lowest register of a mask, -1 for none. */
static int first_reg(uint16_t m)
{
	for (int r = 0; r < VT_R_COUNT; r++)
		if (m >> r & 1)
			return r;
	return -1;
}

static void describe(const cs_insn *in, char *out)
{
	int n = snprintf(out, VT_SITE_INSN_LEN, "%.15s %.30s", in->mnemonic,
			 in->op_str);

	if (n > 0 && out[n - 1] == ' ')
		out[n - 1] = 0;
}

/* Follows the straight run from the CAS at c to the first conditional
 * jump: no other branch, nothing jumping into it, the tag and the
 * outcome still known there. */
static int run_to_jump(const struct fn *f, size_t c, bool pop,
		       struct vt_cas_site *out)
{
	const cs_x86_op *src = &f->in[c].detail->x86.operands[1];
	struct outcome o = { 1, -1, 0 };
	uint16_t tag = pop ? 1u << VT_R_AX
			   : (reg64(src) >= 0 ? 1u << reg64(src) : 0);

	for (size_t i = c + 1; i < f->n && i <= c + MAX_RUN && tag; i++) {
		const cs_insn *in = &f->in[i];
		const struct flow *s = &f->at[i];
		uint16_t w;
		int slab;

		if (f->target[i] || !f->reached[i])
			return -1;
		if (is_jump(f, in)) {
			slab = first_reg(s->known);
			if (!is_cond(in) || !o.sense || slab < 0 ||
			    vt_site_classify(in->bytes, in->size) ==
				    VT_SITE_STEPPED)
				return -1;
			out->regs = (struct vt_bpf_cas){
				.slab_add = (int32_t)-s->k[slab],
				.slab_reg = (uint8_t)slab,
				.tag_reg = (uint8_t)first_reg(tag),
				.zf_ok = o.sense > 0,
			};
			out->site.offset = in->address - f->addr;
			out->site.cls = vt_site_classify(in->bytes, in->size);
			out->site.skipped = (unsigned)i;
			describe(in, out->site.insn);
			describe(&f->in[0], out->site.entry);
			return 0;
		}
		if (cs_insn_group(f->h, in, X86_GRP_CALL) ||
		    cs_insn_group(f->h, in, X86_GRP_RET) ||
		    cs_insn_group(f->h, in, X86_GRP_INT))
			return -1;
		w = written(f, in);
		track_outcome(in, w, &o);
		{
			const cs_x86 *x = &in->detail->x86;
			int d = x->op_count == 2 ? reg64(&x->operands[0]) : -1;
			int r = x->op_count == 2 ? reg64(&x->operands[1]) : -1;
			bool copy = in->id == X86_INS_MOV && d >= 0 && r >= 0 &&
				    (tag >> r & 1);

			tag &= ~w;
			if (copy)
				tag |= 1u << d;
		}
	}
	return -1;
}

static void mark_targets(struct fn *f)
{
	for (size_t i = 0; i < f->n; i++) {
		long t;

		if ((is_jump(f, &f->in[i]) ||
		     cs_insn_group(f->h, &f->in[i], X86_GRP_CALL)) &&
		    (t = target_of(f, &f->in[i])) >= 0)
			f->target[t] = true;
	}
}

/* The whole function decoded; -1 when a byte does not decode. */
static int decode(struct fn *f, const uint8_t *code, size_t len)
{
	size_t end;

	f->n = cs_disasm(f->h, code, len, f->addr, 0, &f->in);
	if (f->n == 0 || f->n > MAX_INSNS)
		return -1;
	end = f->in[f->n - 1].address + f->in[f->n - 1].size - f->addr;
	return end == len ? 0 : -1;
}

static int analyse(struct fn *f, const uint8_t *code, size_t len,
		   struct vt_cas_need need, struct vt_cas_site *out)
{
	long c;

	if (decode(f, code, len))
		return -1;
	f->at = calloc(f->n, sizeof(*f->at));
	f->reached = calloc(f->n, sizeof(*f->reached));
	f->target = calloc(f->n, sizeof(*f->target));
	if (!f->at || !f->reached || !f->target)
		return -1;
	frame_scan(f);
	if (flow(f))
		return -1;
	mark_targets(f);
	c = head_cas(f, need);
	return c < 0 ? -1 : run_to_jump(f, (size_t)c, need.pop, out);
}

int vt_cas_place(const uint8_t *code, size_t len, uint64_t addr,
		 struct vt_cas_need need, struct vt_cas_site *out)
{
	struct fn f = { .addr = addr, .len = len };
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &f.h) != CS_ERR_OK)
		return -1;
	cs_option(f.h, CS_OPT_DETAIL, CS_OPT_ON);
	rc = analyse(&f, code, len, need, out);
	if (f.in)
		cs_free(f.in, f.n);
	free(f.at);
	free(f.reached);
	free(f.target);
	cs_close(&f.h);
	return rc;
}

int vt_cas_find(const char *path, const char *func, struct vt_cas_need need,
		struct vt_cas_site *out)
{
	struct vt_target_func fc;
	int rc;

	if (vt_target_func_code(path, func, &fc))
		return -1;
	rc = vt_cas_place(fc.code, fc.len, fc.addr, need, out);
	out->site.file_off = fc.file_off + out->site.offset;
	free(fc.code);
	return rc;
}

/* vt_cas: prove the jump after a slab's head CAS as a probe site. */
#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/vt_cas.h"
#include "target/vt_target.h"

#define MAX_INSNS 1024	/* functions longer than this are not analysed */
#define MAX_RUN 12	/* instructions from the CAS to its jump */

/* A register's value: the first argument (the slab) + k, when known. */
struct flow {
	uint16_t known;		/* bit r: regs[r] holds slab + k[r] */
	int64_t k[VT_R_COUNT];
};

struct fn {
	csh h;
	cs_insn *in;
	size_t n;
	uint64_t addr, len;
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

/* The state after one instruction. */
static struct flow step(const struct fn *f, const cs_insn *in,
			struct flow s)
{
	const cs_x86 *x = &in->detail->x86;
	int d = x->op_count == 2 ? reg64(&x->operands[0]) : -1;
	const cs_x86_op *src = &x->operands[1];
	struct flow o = s;
	bool set = false;

	o.known &= ~written(f, in);
	if (d < 0)
		return o;
	if (in->id == X86_INS_MOV && reg64(src) >= 0 &&
	    (s.known >> reg64(src) & 1)) {
		o.k[d] = s.k[reg64(src)];
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
	if (k == a->known)
		return false;
	a->known = k;
	return true;
}

/* Forward data flow to a fixed point; -1 when control flow cannot be
 * followed (an indirect jump). */
static int flow(struct fn *f)
{
	size_t *work = calloc(f->n * (VT_R_COUNT + 2), sizeof(*work));
	size_t top = 0, cap = f->n * (VT_R_COUNT + 2);
	struct flow s0 = { .known = 1u << VT_R_DI };
	int rc = 0;

	if (!work)
		return -1;
	join(f, 0, &s0);
	work[top++] = 0;
	while (top > 0 && rc == 0) {
		size_t i = work[--top];
		const cs_insn *in = &f->in[i];
		struct flow o = step(f, in, f->at[i]);
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
	if (!f->at || !f->reached || !f->target || flow(f))
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

/* vt_site: classify and place uprobe sites from the decoded code. */
#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/vt_site.h"
#include "target/vt_target.h"

/* How far into a function a site may move. */
#define MAX_SKIP 32

static const char *const class_names[VT_SITE_NCLASS] = {
	[VT_SITE_NOP5] = "nop5",
	[VT_SITE_EMULATED] = "emulated",
	[VT_SITE_STEPPED] = "stepped",
};

/* Per hit, first instruction of each class, measured with empty bpftrace
 * programs on a loop of calls (kernel 6.18, x86_64 VM). */
static const double class_cost_us[VT_SITE_NCLASS] = {
	[VT_SITE_NOP5] = 0.35,
	[VT_SITE_EMULATED] = 0.8,
	[VT_SITE_STEPPED] = 8.0,
};

const char *vt_site_class_name(enum vt_site_class c)
{
	return c < VT_SITE_NCLASS ? class_names[c] : "?";
}

double vt_site_cost_us(enum vt_site_class c)
{
	return c < VT_SITE_NCLASS ? class_cost_us[c] : 0;
}

/* The 64-bit register a (sub)register belongs to, for the ones the
 * placement cares about: the six argument registers and the stack
 * pointer. X86_REG_INVALID for any other. */
static x86_reg reg_family(x86_reg r)
{
	static const x86_reg fam[][5] = {
		{ X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
		{ X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
		{ X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH },
		{ X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH },
		{ X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
		{ X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
		{ X86_REG_RSP, X86_REG_ESP, X86_REG_SP, X86_REG_SPL },
	};

	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
		for (size_t j = 0; j < 5 && fam[i][j]; j++)
			if (fam[i][j] == r)
				return fam[i][0];
	return X86_REG_INVALID;
}

static const x86_reg arg_regs[] = { X86_REG_RDI, X86_REG_RSI, X86_REG_RDX,
				    X86_REG_RCX, X86_REG_R8, X86_REG_R9 };

enum vt_site_class vt_site_classify(const uint8_t *b, size_t size)
{
	if (size == 5 && b[0] == 0x0f && b[1] == 0x1f)
		return VT_SITE_NOP5;
	if (size == 1 && (b[0] == 0x90 || (b[0] >= 0x50 && b[0] <= 0x57)))
		return VT_SITE_EMULATED;
	if (size == 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57)
		return VT_SITE_EMULATED;
	if (b[0] == 0xeb || b[0] == 0xe9 || b[0] == 0xe8 ||
	    (b[0] >= 0x70 && b[0] <= 0x7f) ||
	    (size == 6 && b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f))
		return VT_SITE_EMULATED;
	return VT_SITE_STEPPED;
}

static enum vt_site_class insn_class(const cs_insn *in)
{
	return vt_site_classify(in->bytes, in->size);
}

static bool is_branch(csh h, const cs_insn *in)
{
	return cs_insn_group(h, in, X86_GRP_JUMP) ||
	       cs_insn_group(h, in, X86_GRP_CALL) ||
	       cs_insn_group(h, in, X86_GRP_RET) ||
	       cs_insn_group(h, in, X86_GRP_INT) ||
	       cs_insn_group(h, in, X86_GRP_IRET);
}

/* Plain data instructions: nothing else is ever skipped. */
static bool is_plain(unsigned id)
{
	switch (id) {
	case X86_INS_ENDBR64: case X86_INS_NOP: case X86_INS_MOV:
	case X86_INS_MOVABS: case X86_INS_MOVZX: case X86_INS_MOVSX:
	case X86_INS_MOVSXD: case X86_INS_LEA: case X86_INS_ADD:
	case X86_INS_SUB: case X86_INS_AND: case X86_INS_OR:
	case X86_INS_XOR: case X86_INS_TEST: case X86_INS_CMP:
	case X86_INS_SHL: case X86_INS_SHR: case X86_INS_SAR:
	case X86_INS_NOT: case X86_INS_NEG: case X86_INS_INC:
	case X86_INS_DEC:
		return true;
	default:
		return false;
	}
}

/* True when running `in` before the probe changes nothing it reads. */
static bool skippable(csh h, const cs_insn *in, struct vt_site_need need)
{
	const cs_x86 *x = &in->detail->x86;
	cs_regs rd, wr;
	uint8_t nrd, nwr;

	if (is_branch(h, in) || !is_plain(in->id) ||
	    x->prefix[0] == X86_PREFIX_LOCK ||
	    cs_regs_access(h, in, rd, &nrd, wr, &nwr) != CS_ERR_OK)
		return false;
	for (uint8_t i = 0; i < nwr; i++) {
		x86_reg f = reg_family(wr[i]);

		if (f == X86_REG_RSP && need.entry_sp)
			return false;
		for (unsigned a = 0; a < 6; a++)
			if ((need.args >> a & 1) && f == arg_regs[a])
				return false;
	}
	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_MEM && (op->access & CS_AC_WRITE) &&
		    (need.entry_sp || reg_family(op->mem.base) != X86_REG_RSP ||
		     op->mem.index != X86_REG_INVALID))
			return false;
	}
	return true;
}

/* Direct branch targets inside the function, as offsets; *unknown when
 * the function has an indirect jump or bytes that do not decode (its
 * targets cannot be proven). Returns how many, at most cap. */
static size_t branch_targets(csh h, const uint8_t *code, size_t len,
			     uint64_t addr, uint64_t *tgt, size_t cap,
			     bool *unknown)
{
	cs_insn *in = cs_malloc(h);
	const uint8_t *p = code;
	size_t left = len, n = 0;
	uint64_t pc = addr;

	*unknown = false;
	if (!in)
		return *unknown = true, 0;
	while (left > 0) {
		const cs_x86 *x;

		if (!cs_disasm_iter(h, &p, &left, &pc, in)) {
			*unknown = true;
			break;
		}
		if (!cs_insn_group(h, in, X86_GRP_JUMP) &&
		    !cs_insn_group(h, in, X86_GRP_CALL))
			continue;
		x = &in->detail->x86;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM) {
			/* an indirect call returns to the next instruction */
			if (cs_insn_group(h, in, X86_GRP_JUMP))
				*unknown = true;
			continue;
		}
		uint64_t t = (uint64_t)x->operands[0].imm;
		if (t > addr && t < addr + len) {
			if (n == cap) {
				*unknown = true;
				break;
			}
			tgt[n++] = t - addr;
		}
	}
	cs_free(in, 1);
	return n;
}

static bool is_target(const uint64_t *tgt, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (tgt[i] == off)
			return true;
	return false;
}

/* Long operand strings are cut: the text is for people. */
static void describe(const cs_insn *in, char *out)
{
	int n = snprintf(out, VT_SITE_INSN_LEN, "%s%s%s", in->mnemonic,
			 in->op_str[0] ? " " : "", in->op_str);

	if (n >= VT_SITE_INSN_LEN)
		out[VT_SITE_INSN_LEN - 2] = '~';
}

/* Walks the entry block to the first site cheaper than a single step. */
static void place(csh h, const uint8_t *code, size_t len, uint64_t addr,
		  struct vt_site_need need, struct vt_site *out)
{
	uint64_t tgt[256];
	bool unknown;
	size_t ntgt = branch_targets(h, code, len, addr, tgt, 256, &unknown);
	cs_insn *in = cs_malloc(h);
	const uint8_t *p = code;
	size_t left = len;
	uint64_t pc = addr;

	for (unsigned i = 0; in && i < MAX_SKIP &&
	     cs_disasm_iter(h, &p, &left, &pc, in); i++) {
		uint64_t off = in->address - addr;
		enum vt_site_class c = insn_class(in);

		if (off > 0 && (unknown || is_target(tgt, ntgt, off)))
			break;
		if (c != VT_SITE_STEPPED) {
			out->offset = off;
			out->cls = c;
			out->skipped = i;
			describe(in, out->insn);
			break;
		}
		if (!skippable(h, in, need))
			break;
	}
	cs_free(in, 1);
}

int vt_site_place(const uint8_t *code, size_t len, uint64_t addr,
		  struct vt_site_need need, struct vt_site *out)
{
	const uint8_t *p = code;
	size_t left = len;
	uint64_t pc = addr;
	cs_insn *in;
	csh h;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -1;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	cs_option(h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	in = cs_malloc(h);
	if (in && cs_disasm_iter(h, &p, &left, &pc, in)) {
		/* the entry itself unless a cheaper site is proven */
		out->cls = insn_class(in);
		describe(in, out->insn);
		describe(in, out->entry);
		if (out->cls == VT_SITE_STEPPED)
			place(h, code, len, addr, need, out);
		rc = 0;
	}
	cs_free(in, 1);
	cs_close(&h);
	return rc;
}

int vt_site_find(const char *path, const char *func, struct vt_site_need need,
		 struct vt_site *out, char *err, size_t errlen)
{
	struct vt_target_func f;
	int rc;

	if (vt_target_func_code(path, func, &f)) {
		snprintf(err, errlen, "cannot read the code of %s in %s", func,
			 path);
		return -1;
	}
	rc = vt_site_place(f.code, f.len, f.addr, need, out);
	out->file_off = f.file_off + out->offset;
	free(f.code);
	if (rc)
		snprintf(err, errlen, "cannot decode the first instruction of "
			 "%s in %s", func, path);
	return rc;
}

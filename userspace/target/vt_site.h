/* vt_site: where a uprobe on a function of the target costs least.
 *
 * A uprobe traps on the instruction at its address, and what the kernel
 * then does depends on that instruction: a 5-byte nop it rewrites into a
 * call (cheapest), push/nop/jmp/call/jcc it emulates, anything else
 * (endbr64, mov, sub, test, cmp ...) it single-steps, ten times dearer.
 * vt_site decodes the function (capstone) and moves the probe past leading
 * instructions when that provably changes nothing: the skipped ones do not
 * branch, are not branched to, do not write the argument registers the
 * probe reads nor any memory but the stack, and — for a site shared with a
 * return probe, which must see the entry's stack pointer — leave the stack
 * pointer and the stack alone. */
#ifndef VT_SITE_H
#define VT_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vt_site_class {
	VT_SITE_NOP5,		/* 5-byte nop: the kernel calls instead of trapping */
	VT_SITE_EMULATED,	/* emulated after the trap */
	VT_SITE_STEPPED,	/* single-stepped out of line after the trap */
	VT_SITE_NCLASS,
};

#define VT_SITE_INSN_LEN 48

struct vt_site {
	uint64_t offset;	/* from the function's start */
	uint64_t file_off;	/* of the site in its file (vt_site_find) */
	enum vt_site_class cls;
	unsigned skipped;	/* instructions before the site */
	char insn[VT_SITE_INSN_LEN]; /* the probed instruction, AT&T syntax */
	char entry[VT_SITE_INSN_LEN]; /* the function's first instruction */
};

/* What a probe needs kept true up to its site. */
struct vt_site_need {
	unsigned args;		/* bit i: the probe reads integer argument i */
	bool entry_sp;		/* a return probe shares the site */
};

/* Places a probe on code (len bytes of one whole function at addr). 0, or
 * -1 when the first instruction cannot be decoded. */
int vt_site_place(const uint8_t *code, size_t len, uint64_t addr,
		  struct vt_site_need need, struct vt_site *out);

/* The same for a function of an ELF object; -1 with a one-line reason. */
int vt_site_find(const char *path, const char *func, struct vt_site_need need,
		 struct vt_site *out, char *err, size_t errlen);

/* What the kernel does with the instruction of those bytes (arch/x86/
 * kernel/uprobes.c: nop5 optimisation, branch and push emulation). Only
 * the plain encodings count: a prefixed branch is assumed stepped. */
enum vt_site_class vt_site_classify(const uint8_t *bytes, size_t size);

/* "nop5", "emulated", "stepped". */
const char *vt_site_class_name(enum vt_site_class c);

/* What a hit of the class is expected to cost the target, microseconds,
 * as measured on x86_64 with kernel 6.18 (README: Probe sites). */
double vt_site_cost_us(enum vt_site_class c);

#endif /* VT_SITE_H */

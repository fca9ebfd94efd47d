/* vt_cas on hand-assembled slab operations (each commented with its
 * disassembly; the slab is the first argument, numFree at +0x18, peakUsed
 * at +0x20, the head at +0x30) and on the stand-in's builds: which code
 * proves the jump after the head CAS, and what a probe there reads. */
#include <stdlib.h>
#include <string.h>

#include "target/vt_cas.h"
#include "vt_test.h"

#define ADDR 0x401000

static int place(const uint8_t *code, size_t len, bool pop,
		 struct vt_cas_site *out)
{
	struct vt_cas_need need = { pop, 0x18, 0x20 };

	return vt_cas_place(code, len, ADDR, need, out);
}

#define PLACE(code, pop, out) place(code, sizeof(code), pop, out)

static void test_pop(void)
{
	/* 0: mov 0x30(%rdi),%rax
	 * 4: mov %eax,%ecx
	 * 6: lea 0x1(%rax),%rdx
	 * a: lock cmpxchg %rdx,0x30(%rdi)
	 * 10: jne 4
	 * 12: mov %rdi,%rax; ret */
	static const uint8_t pop[] = {
		0x48, 0x8b, 0x47, 0x30, 0x89, 0xc1, 0x48, 0x8d, 0x50, 0x01,
		0xf0, 0x48, 0x0f, 0xb1, 0x57, 0x30, 0x75, 0xf2, 0x48, 0x89,
		0xf8, 0xc3 };
	struct vt_cas_site c;

	CHECK(PLACE(pop, true, &c) == 0);
	CHECK_EQ_U64(c.site.offset, 0x10);
	CHECK_EQ_U64(c.site.cls, VT_SITE_EMULATED);
	CHECK_STR(c.site.insn, "jne 0x401004");
	CHECK_EQ_U64(c.regs.slab_reg, VT_R_DI);
	CHECK_EQ_U64(c.regs.slab_add, 0);
	CHECK_EQ_U64(c.regs.tag_reg, VT_R_AX);	/* the old head */
	CHECK_EQ_U64(c.regs.zf_ok, 1);
}

static void test_push(void)
{
	/* 0: lea 0x30(%rdi),%r8
	 * 4: mov (%r8),%rax
	 * 7: mov %rsi,%rcx
	 * a: lock cmpxchg %rcx,(%r8)
	 * f: mov %rax,%rbp
	 * 12: jne 7
	 * 14: ret */
	static const uint8_t push[] = {
		0x4c, 0x8d, 0x47, 0x30, 0x49, 0x8b, 0x00, 0x48, 0x89, 0xf1,
		0xf0, 0x49, 0x0f, 0xb1, 0x08, 0x48, 0x89, 0xc5, 0x75, 0xf3,
		0xc3 };
	struct vt_cas_site c;

	CHECK(PLACE(push, false, &c) == 0);
	CHECK_EQ_U64(c.site.offset, 0x12);
	CHECK_EQ_U64(c.regs.tag_reg, VT_R_CX);	/* the new head */
	/* rdi and r8 both hold the slab; either is right */
	CHECK(c.regs.slab_reg == VT_R_DI ||
	      (c.regs.slab_reg == VT_R_8 && c.regs.slab_add == -0x30));
	CHECK_EQ_U64(c.regs.zf_ok, 1);
}

/* The outcome kept as a boolean: sete, then test, then a jump taken on
 * failure, and the old head copied before sete overwrote %al. */
static void test_sete(void)
{
	/* 0: lea 0x30(%rdi),%rsi
	 * 4: mov (%rsi),%rax
	 * 7: lea 0x1(%rax),%rcx
	 * b: lock cmpxchg %rcx,(%rsi)
	 * 10: mov %rax,%rdx
	 * 13: sete %al
	 * 16: test %al,%al
	 * 18: je 4
	 * 1a: ret */
	static const uint8_t sete[] = {
		0x48, 0x8d, 0x77, 0x30, 0x48, 0x8b, 0x06, 0x48, 0x8d, 0x48,
		0x01, 0xf0, 0x48, 0x0f, 0xb1, 0x0e, 0x48, 0x89, 0xc2, 0x0f,
		0x94, 0xc0, 0x84, 0xc0, 0x74, 0xea, 0xc3 };
	struct vt_cas_site c;

	CHECK(PLACE(sete, true, &c) == 0);
	CHECK_EQ_U64(c.site.offset, 0x18);
	CHECK_EQ_U64(c.regs.tag_reg, VT_R_DX);
	CHECK_EQ_U64(c.regs.zf_ok, 0);	/* ZF set: %al was 0, the CAS failed */
}

/* -O0: the slab kept in the frame, at -0x18(%rbp). Each case is
 * frame_pro, its own instructions, then frame_tail. */
static const uint8_t frame_pro[] = {
	0x55,				/* push %rbp */
	0x48, 0x89, 0xe5,		/* mov %rsp,%rbp */
	0x48, 0x83, 0xec, 0x20,		/* sub $0x20,%rsp */
	0x48, 0x89, 0x7d, 0xe8,		/* mov %rdi,-0x18(%rbp) */
};
static const uint8_t frame_tail[] = {
	0x48, 0x8b, 0x45, 0xe8,		/* mov -0x18(%rbp),%rax */
	0x48, 0x8d, 0x70, 0x30,		/* lea 0x30(%rax),%rsi */
	0x48, 0x8b, 0x06,		/* mov (%rsi),%rax */
	0xf0, 0x48, 0x0f, 0xb1, 0x0e,	/* b: lock cmpxchg %rcx,(%rsi) */
	0x48, 0x89, 0xc1,		/* mov %rax,%rcx */
	0x0f, 0x94, 0xc0,		/* sete %al */
	0x84, 0xc0,			/* test %al,%al */
	0x74, 0xf1,			/* 18: je b */
	0xc9,				/* leave */
	0xc3,				/* ret */
};
#define FRAME_JUMP 0x18		/* the je, from the tail's start */

static int place_frame(const uint8_t *mid, size_t len,
		       struct vt_cas_site *out)
{
	uint8_t code[128];
	size_t n = 0;

	memcpy(code, frame_pro, sizeof(frame_pro));
	n += sizeof(frame_pro);
	memcpy(code + n, mid, len);
	n += len;
	memcpy(code + n, frame_tail, sizeof(frame_tail));
	n += sizeof(frame_tail);
	return place(code, n, true, out);
}

#define PLACE_FRAME(mid, out) place_frame(mid, sizeof(mid), out)

/* What the frame proves: a frame address above the slab's escapes to a
 * callee and is stored through; a leaf keeps the slab in the red zone. */
static void test_frame(void)
{
	static const uint8_t escaped_above[] = {
		0x48, 0x8d, 0x55, 0xf0,		/* lea -0x10(%rbp),%rdx */
		0x48, 0x89, 0xd7,		/* mov %rdx,%rdi */
		0xe8, 0x00, 0x00, 0x00, 0x00,	/* call (the next) */
		0x48, 0x89, 0x0a,		/* mov %rcx,(%rdx) */
	};
	/* push %rbp; mov %rsp,%rbp; mov %rdi,-0x8(%rbp)
	 * mov -0x8(%rbp),%rax; lea 0x30(%rax),%rsi; mov (%rsi),%rax
	 * 13: lock cmpxchg %rcx,(%rsi); 18: jne 13; leave; ret */
	static const uint8_t red_zone[] = {
		0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0x7d, 0xf8, 0x48, 0x8b,
		0x45, 0xf8, 0x48, 0x8d, 0x70, 0x30, 0x48, 0x8b, 0x06, 0xf0,
		0x48, 0x0f, 0xb1, 0x0e, 0x75, 0xf9, 0xc9, 0xc3,
	};
	struct vt_cas_site c;

	CHECK(PLACE_FRAME(escaped_above, &c) == 0);
	CHECK_EQ_U64(c.site.offset,
		     sizeof(frame_pro) + sizeof(escaped_above) + FRAME_JUMP);
	CHECK_EQ_U64(c.site.cls, VT_SITE_EMULATED);
	CHECK_EQ_U64(c.regs.slab_reg, VT_R_SI);
	CHECK(c.regs.slab_add == -0x30);
	CHECK_EQ_U64(c.regs.tag_reg, VT_R_CX);
	CHECK_EQ_U64(c.regs.zf_ok, 0);	/* ZF set: %al was 0, the CAS failed */
	CHECK(PLACE(red_zone, true, &c) == 0);
	CHECK_EQ_U64(c.site.offset, 0x18);
	CHECK_EQ_U64(c.regs.tag_reg, VT_R_AX);
	CHECK_EQ_U64(c.regs.zf_ok, 1);
}

/* What may change the slab's slot between its store and its load. */
static void test_frame_unproven(void)
{
	static const uint8_t escaped_slot[] = {
		0x48, 0x8d, 0x55, 0xe8,		/* lea -0x18(%rbp),%rdx */
		0x48, 0x89, 0xd7,		/* mov %rdx,%rdi */
		0xe8, 0x00, 0x00, 0x00, 0x00,	/* call (the next) */
	};
	static const uint8_t overwritten[] = {
		0x48, 0x89, 0x75, 0xe8,		/* mov %rsi,-0x18(%rbp) */
	};
	static const uint8_t stored_through[] = {
		0x48, 0x8d, 0x55, 0xe0,		/* lea -0x20(%rbp),%rdx */
		0x48, 0x89, 0x4a, 0x08,		/* mov %rcx,0x8(%rdx) */
	};
	static const uint8_t rbp_moved[] = {
		0x48, 0x89, 0xf5,		/* mov %rsi,%rbp */
	};
	static const uint8_t rbp_copied[] = {
		0x48, 0x89, 0xea,		/* mov %rbp,%rdx */
		0x48, 0x89, 0x4a, 0xe8,		/* mov %rcx,-0x18(%rdx) */
	};
	/* push %rbp; mov %rsp,%rbp; mov %rdi,-0x8(%rbp); call (the next)
	 * mov -0x8(%rbp),%rax; lea 0x30(%rax),%rsi; mov (%rsi),%rax
	 * 18: lock cmpxchg %rcx,(%rsi); jne 18; leave; ret: a call clobbers
	 * the red zone */
	static const uint8_t red_zone_call[] = {
		0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0x7d, 0xf8, 0xe8, 0x00,
		0x00, 0x00, 0x00, 0x48, 0x8b, 0x45, 0xf8, 0x48, 0x8d, 0x70,
		0x30, 0x48, 0x8b, 0x06, 0xf0, 0x48, 0x0f, 0xb1, 0x0e, 0x75,
		0xf9, 0xc9, 0xc3,
	};
	struct vt_cas_site c;

	CHECK(PLACE_FRAME(escaped_slot, &c) == -1);
	CHECK(PLACE_FRAME(overwritten, &c) == -1);
	CHECK(PLACE_FRAME(stored_through, &c) == -1);
	CHECK(PLACE_FRAME(rbp_moved, &c) == -1);
	CHECK(PLACE_FRAME(rbp_copied, &c) == -1);
	CHECK(PLACE(red_zone_call, true, &c) == -1);
}

static void test_unproven(void)
{
	/* the zero flag overwritten before the jump
	 * mov 0x30(%rdi),%rax
	 * 4: lock cmpxchg %rdx,0x30(%rdi); add $0x1,%r9; jne 4; ret */
	static const uint8_t flags[] = {
		0x48, 0x8b, 0x47, 0x30, 0xf0, 0x48, 0x0f, 0xb1, 0x57, 0x30,
		0x49, 0x83, 0xc1, 0x01, 0x75, 0xf4, 0xc3 };
	/* a CAS on numFree only
	 * mov 0x18(%rdi),%rax
	 * 4: lock cmpxchg %rdx,0x18(%rdi); jne 4; ret */
	static const uint8_t reserve[] = {
		0x48, 0x8b, 0x47, 0x18, 0xf0, 0x48, 0x0f, 0xb1, 0x57, 0x18,
		0x75, 0xf8, 0xc3 };
	static const uint8_t junk[] = { 0x0f, 0x0b, 0xff, 0xff };
	struct vt_cas_site c;

	CHECK(PLACE(flags, true, &c) == -1);
	CHECK(PLACE(reserve, true, &c) == -1);
	CHECK(PLACE(junk, true, &c) == -1);
	CHECK(place(junk, 0, true, &c) == -1);
}

/* Optimised builds prove both operations (release_ptr where it is not a
 * jump to release); the -O0 build its acquire, from the frame (its
 * release overwrites the new head with the old before the jump). */
static void test_fixture(const char *build)
{
	static const char *const opt[] = { "valk-sim-static",
					   "cet/libvalkyria.so",
					   "nop5/libvalkyria.so" };
	struct vt_cas_need pop = { true, 0x18, 0x20 }, push = { false, 0x18, 0x20 };
	char lib[4096];
	struct vt_cas_site c;

	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		snprintf(lib, sizeof(lib), "%s/fixture/%s", build, opt[i]);
		CHECK(vt_cas_find(lib, "valk_slab_aquire", pop, &c) == 0);
		CHECK_EQ_U64(c.site.cls, VT_SITE_EMULATED);
		CHECK(c.site.file_off > c.site.offset);
		CHECK_EQ_U64(c.regs.tag_reg, VT_R_AX);
		CHECK(vt_cas_find(lib, "valk_slab_release", push, &c) == 0);
		CHECK_EQ_U64(c.site.cls, VT_SITE_EMULATED);
	}
	snprintf(lib, sizeof(lib), "%s/fixture/libvalkyria.so", build);
	CHECK(vt_cas_find(lib, "valk_slab_aquire", pop, &c) == 0);
	CHECK_EQ_U64(c.site.cls, VT_SITE_EMULATED);
	CHECK_EQ_U64(c.regs.tag_reg, VT_R_CX);	/* copied before sete */
	CHECK(vt_cas_find(lib, "valk_slab_release", push, &c) == -1);
	CHECK(vt_cas_find(lib, "no_such_function", pop, &c) == -1);
}

int main(void)
{
	const char *build = getenv("VT_BUILD");

	test_pop();
	test_push();
	test_sete();
	test_frame();
	test_frame_unproven();
	test_unproven();
	test_fixture(build ? build : "build");
	return vt_test_done("test_cas");
}

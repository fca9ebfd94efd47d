/* vt_site on hand-assembled function bodies (each commented with its
 * disassembly) and on the stand-in's builds: the class of each entry
 * instruction and how far a probe may move past it. */
#include <stdlib.h>
#include <string.h>

#include "target/vt_site.h"
#include "vt_test.h"

#define ADDR 0x401000
#define ENDBR 0xf3, 0x0f, 0x1e, 0xfa

static struct vt_site site(const uint8_t *code, size_t len, unsigned args,
			   bool entry_sp)
{
	struct vt_site s;
	struct vt_site_need need = { args, entry_sp };

	CHECK(vt_site_place(code, len, ADDR, need, &s) == 0);
	return s;
}

#define SITE(code, args, sp) site(code, sizeof(code), args, sp)

static void test_classes(void)
{
	/* nopl 0x8(%rax,%rax,1); mov 0x18(%rdi),%rax; ret */
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x08,
					0x48, 0x8b, 0x47, 0x18, 0xc3 };
	/* push %rbp; mov %rsp,%rbp; pop %rbp; ret */
	static const uint8_t push[] = { 0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3 };
	/* mov (%rsi),%rcx; ret */
	static const uint8_t mov[] = { 0x48, 0x8b, 0x0e, 0xc3 };
	struct vt_site s = SITE(nop5, 1, true);

	CHECK_EQ_U64(s.offset, 0);
	CHECK_EQ_U64(s.cls, VT_SITE_NOP5);
	CHECK_STR(s.insn, "nopl 8(%rax, %rax)");
	s = SITE(push, 1, true);
	CHECK_EQ_U64(s.offset, 0);
	CHECK_EQ_U64(s.cls, VT_SITE_EMULATED);
	CHECK_STR(s.insn, "pushq %rbp");
	/* the mov writes rcx, not rsi, but a ret follows: nowhere to go */
	s = SITE(mov, 2, false);
	CHECK_EQ_U64(s.offset, 0);
	CHECK_EQ_U64(s.cls, VT_SITE_STEPPED);
	CHECK_STR(vt_site_class_name(VT_SITE_STEPPED), "stepped");
	CHECK(vt_site_cost_us(VT_SITE_NOP5) < vt_site_cost_us(VT_SITE_EMULATED));
	CHECK(vt_site_cost_us(VT_SITE_EMULATED) < vt_site_cost_us(VT_SITE_STEPPED));
}

static void test_past_endbr(void)
{
	/* endbr64; push %r13; lea 0x18(%rdi),%rdx; pop %r13; ret */
	static const uint8_t acquire[] = { ENDBR, 0x41, 0x55, 0x48, 0x8d, 0x57,
					   0x18, 0x41, 0x5d, 0xc3 };
	/* endbr64; mov %rdi,%rdx; mov %rsi,%rdi; push %rbx; pop %rbx; ret */
	static const uint8_t moves[] = { ENDBR, 0x48, 0x89, 0xfa, 0x48, 0x89,
					 0xf7, 0x53, 0x5b, 0xc3 };
	struct vt_site s = SITE(acquire, 1, true);

	CHECK_EQ_U64(s.offset, 4);
	CHECK_EQ_U64(s.cls, VT_SITE_EMULATED);
	CHECK_EQ_U64(s.skipped, 1);
	CHECK_STR(s.insn, "pushq %r13");
	CHECK_STR(s.entry, "endbr64");
	/* reads rdi, which the second mov overwrites: stay at the entry */
	s = SITE(moves, 3, false);
	CHECK_EQ_U64(s.offset, 0);
	CHECK_EQ_U64(s.cls, VT_SITE_STEPPED);
	/* reads only rsi, which neither mov writes */
	s = SITE(moves, 2, false);
	CHECK_EQ_U64(s.offset, 10);
	CHECK_EQ_U64(s.skipped, 3);
}

static void test_stack(void)
{
	/* endbr64; sub $8,%rsp; push %rbx; pop %rbx; add $8,%rsp; ret */
	static const uint8_t frame[] = { ENDBR, 0x48, 0x83, 0xec, 0x08, 0x53,
					 0x5b, 0x48, 0x83, 0xc4, 0x08, 0xc3 };
	/* endbr64; mov %rbx,8(%rsp); push %rbx; pop %rbx; ret */
	static const uint8_t spill[] = { ENDBR, 0x48, 0x89, 0x5c, 0x24, 0x08,
					 0x53, 0x5b, 0xc3 };
	/* endbr64; mov %rax,(%rdx); push %rbx; pop %rbx; ret */
	static const uint8_t store[] = { ENDBR, 0x48, 0x89, 0x02, 0x53, 0x5b,
					 0xc3 };

	/* an entry-only probe may follow the frame; a return probe may not */
	CHECK_EQ_U64(SITE(frame, 1, false).offset, 8);
	CHECK_EQ_U64(SITE(frame, 1, true).offset, 0);
	CHECK_EQ_U64(SITE(spill, 1, false).offset, 9);
	CHECK_EQ_U64(SITE(spill, 1, true).offset, 0);
	/* a store through a register may alias what the probe reads */
	CHECK_EQ_U64(SITE(store, 1, false).offset, 0);
}

static void test_branches(void)
{
	/* 0: endbr64; 4: test %rdi,%rdi; 7: je 10; 9: ret; 10: push %rbp;
	 * 11: pop %rbp; 12: ret */
	static const uint8_t cond[] = { ENDBR, 0x48, 0x85, 0xff, 0x74, 0x01,
					0xc3, 0x55, 0x5d, 0xc3 };
	/* 0: endbr64; 4: mov 0x130(%rdi),%eax; 10: push %rbx; 11: pop %rbx;
	 * 12: jmp 4 */
	static const uint8_t loop[] = { ENDBR, 0x8b, 0x87, 0x30, 0x01, 0x00,
					0x00, 0x53, 0x5b, 0xeb, 0xf6 };
	/* 0: endbr64; 4: mov 0x130(%rdi),%eax; 10: push %rbx; 11: pop %rbx;
	 * 12: jmp *%rax */
	static const uint8_t table[] = { ENDBR, 0x8b, 0x87, 0x30, 0x01, 0x00,
					 0x00, 0x53, 0x5b, 0xff, 0xe0 };
	/* 0: endbr64; 4: jmp 0x401100 (a tail call out of the function) */
	static const uint8_t tail[] = { ENDBR, 0xe9, 0xf7, 0x00, 0x00, 0x00 };
	struct vt_site s = SITE(cond, 1, true);

	/* the jcc itself is emulated and reached once per call */
	CHECK_EQ_U64(s.offset, 7);
	CHECK_EQ_U64(s.cls, VT_SITE_EMULATED);
	/* a jump back into the skipped range would hit the site twice */
	CHECK_EQ_U64(SITE(loop, 1, true).offset, 0);
	/* an indirect jump's targets are unknown */
	CHECK_EQ_U64(SITE(table, 1, true).offset, 0);
	s = SITE(tail, 1, true);
	CHECK_EQ_U64(s.offset, 4);
	CHECK_STR(s.insn, "jmp 0x401100");
}

static void test_bad_code(void)
{
	static const uint8_t bad[] = { 0x06 };	/* push %es: not in 64-bit mode */
	struct vt_site s;
	struct vt_site_need need = { 1, false };

	CHECK(vt_site_place(bad, sizeof(bad), ADDR, need, &s) == -1);
	CHECK(vt_site_place(bad, 0, ADDR, need, &s) == -1);
	/* endbr64 cut short */
	CHECK(vt_site_place((const uint8_t[]){ 0xf3, 0x0f }, 2, ADDR, need,
			    &s) == -1);
}

/* The stand-in's builds place their entry probes where their compilers
 * leave room: a 5-byte nop (clang), past endbr64 (gcc -fcf-protection). */
static void test_fixture(const char *build)
{
	char lib[4096], err[256];
	struct vt_site s;
	struct vt_site_need need = { 1, true };

	snprintf(lib, sizeof(lib), "%s/fixture/nop5/libvalkyria.so", build);
	CHECK(vt_site_find(lib, "valk_slab_aquire", need, &s, err,
			   sizeof(err)) == 0);
	CHECK_EQ_U64(s.cls, VT_SITE_NOP5);
	CHECK_EQ_U64(s.offset, 0);
	snprintf(lib, sizeof(lib), "%s/fixture/cet/libvalkyria.so", build);
	CHECK(vt_site_find(lib, "valk_slab_aquire", need, &s, err,
			   sizeof(err)) == 0);
	CHECK_STR(s.entry, "endbr64");
	CHECK_EQ_U64(s.cls, VT_SITE_EMULATED);
	CHECK(s.offset >= 4);
	CHECK(vt_site_find(lib, "no_such_function", need, &s, err,
			   sizeof(err)) == -1);
	CHECK(strstr(err, "no_such_function") != NULL);
}

int main(void)
{
	const char *build = getenv("VT_BUILD");

	test_classes();
	test_past_endbr();
	test_stack();
	test_branches();
	test_bad_code();
	test_fixture(build ? build : "build");
	return vt_test_done("test_site");
}

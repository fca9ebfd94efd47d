#include "target/vt_sym.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>

#define PC_SLOTS 16384		/* return addresses symbolized, kept */
#define POOL_MAX 32768		/* their frames, kept */

/* A return address's frames: pool[first, first + n). */
struct pc_frames {
	uint64_t pc;		/* 0: an empty slot */
	uint32_t first, n;
};

struct vt_sym {
	Dwfl *dwfl;
	int pid;
	bool attached;			/* the unwinder's callbacks are set */
	const struct vt_ustack *u;	/* the stack being unwound */
	struct vt_sym_reach reach;	/* its reads so far (end: the last) */
	/* Stacks share most of their addresses, and symbolizing one (the
	 * DWARF scopes of its CU) costs far more than copying its frames. */
	struct pc_frames *pcs;		/* open addressing, PC_SLOTS */
	size_t npcs;
	struct vt_rep_frame *pool;
	size_t npool;
};

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

struct vt_sym *vt_sym_open(int pid, const struct vt_mem *mem)
{
	struct vt_sym *s = calloc(1, sizeof(*s));
	FILE *f = vt_mem_maps(mem);
	int rc;

	if (!f || !s || !(s->dwfl = dwfl_begin(&callbacks)))
		goto fail;
	s->pid = pid;
	dwfl_report_begin(s->dwfl);
	rc = dwfl_linux_proc_maps_report(s->dwfl, f);
	fclose(f);
	f = NULL;
	if (rc || dwfl_report_end(s->dwfl, NULL, NULL))
		goto fail;
	return s;
fail:
	if (f)
		fclose(f);
	vt_sym_close(s);
	return NULL;
}

void vt_sym_close(struct vt_sym *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s->pcs);
	free(s->pool);
	free(s);
}

static const char *base(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "";
}

/* The name of a subprogram or of what an inlined call inlines. */
static const char *die_name(Dwarf_Die *d)
{
	Dwarf_Attribute a;
	Dwarf_Die origin;
	const char *n = dwarf_diename(d);

	if (!n && dwarf_attr_integrate(d, DW_AT_abstract_origin, &a) &&
	    dwarf_formref_die(&a, &origin))
		n = dwarf_diename(&origin);
	return n ? n : "??";
}

struct frames {
	struct vt_rep_frame *out;
	size_t n, max;
	bool truncated;
};

static struct vt_rep_frame *next(struct frames *f, uint64_t pc,
				 const char *module)
{
	struct vt_rep_frame *x;

	if (f->n == f->max) {
		f->truncated = true;
		return NULL;
	}
	x = &f->out[f->n++];
	memset(x, 0, sizeof(*x));
	x->pc = pc;
	snprintf(x->module, sizeof(x->module), "%s", base(module));
	return x;
}

/* The inlined chain at addr, innermost first, as eu-addr2line -i finds
 * it: the scopes that contain the innermost one (dwarf_getscopes gives an
 * inlined function's abstract scopes, not its callers'). Each frame's
 * line is where the pc is, or where its callee was inlined. */
static bool dwarf_frames(struct frames *f, Dwfl_Module *mod, uint64_t pc,
			 uint64_t addr, const char *module)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias), *scopes = NULL;
	Dwarf_Die *chain = NULL;
	Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
	const char *file = line ? dwfl_lineinfo(line, NULL, NULL, NULL, NULL,
						NULL) : NULL;
	int lineno = 0, n;
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	bool any = false;

	if (!cu || dwarf_getscopes(cu, addr - bias, &scopes) <= 0)
		return false;
	n = dwarf_getscopes_die(&scopes[0], &chain);
	free(scopes);
	if (n <= 0)
		return false;
	if (line)
		dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	dwarf_getsrcfiles(cu, &files, &nfiles);
	for (int i = 0; i < n; i++) {
		int tag = dwarf_tag(&chain[i]);
		struct vt_rep_frame *x;
		Dwarf_Word cf = 0, cl = 0;
		Dwarf_Attribute a;

		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		if (!(x = next(f, pc, module)))
			break;
		any = true;
		x->symbolized = true;
		x->inlined = tag == DW_TAG_inlined_subroutine;
		snprintf(x->func, sizeof(x->func), "%s", die_name(&chain[i]));
		snprintf(x->file, sizeof(x->file), "%s", base(file));
		x->line = file ? lineno : 0;
		if (tag == DW_TAG_subprogram)
			break;
		/* the caller's line: where this call was inlined */
		if (dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_file, &a),
				    &cf) == 0 &&
		    dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_line, &a),
				    &cl) == 0 && files && cf < nfiles) {
			file = dwarf_filesrc(files, cf, NULL, NULL);
			lineno = (int)cl;
		}
	}
	free(chain);
	return any;
}

/* The frames of one return address, innermost first, into f. */
static void pc_frames(struct vt_sym *s, struct frames *f, uint64_t pc)
{
	/* a return address: the call is the instruction before it */
	uint64_t addr = pc ? pc - 1 : 0;
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	const char *module = NULL, *name;
	struct vt_rep_frame *x;

	if (mod)
		module = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL,
					  NULL, NULL);
	if ((mod && dwarf_frames(f, mod, pc, addr, module)) ||
	    !(x = next(f, pc, module)))
		return;
	name = mod ? dwfl_module_addrname(mod, addr) : NULL;
	if (name) {
		x->symbolized = true;
		snprintf(x->func, sizeof(x->func), "%s", name);
	}
}

/* pc's slot in the cache: its own, or the empty one it would take; NULL
 * when the cache is full or cannot be had. */
static struct pc_frames *pc_slot(struct vt_sym *s, uint64_t pc)
{
	size_t i = (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 50) % PC_SLOTS;

	if (!s->pcs && !(s->pcs = calloc(PC_SLOTS, sizeof(*s->pcs))))
		return NULL;
	for (size_t k = 0; k < PC_SLOTS; k++, i = (i + 1) % PC_SLOTS)
		if (!s->pcs[i].pc || s->pcs[i].pc == pc)
			return s->pcs[i].pc || s->npcs < PC_SLOTS / 2
				       ? &s->pcs[i] : NULL;
	return NULL;
}

/* pc's frames from the cache, symbolized and kept at the first use (when
 * there is room; else symbolized each time): how many, in *out. One more
 * than a report keeps says the chain went deeper. */
static size_t cached(struct vt_sym *s, uint64_t pc,
		     const struct vt_rep_frame **out,
		     struct vt_rep_frame *scratch)
{
	struct pc_frames *c = pc ? pc_slot(s, pc) : NULL;
	struct frames f = { scratch, 0, VT_REP_MAX_FRAMES + 1, false };

	if (c && c->pc) {
		*out = s->pool + c->first;
		return c->n;
	}
	pc_frames(s, &f, pc);
	*out = scratch;
	if (!c || s->npool + f.n > POOL_MAX)
		return f.n;
	if (!s->pool && !(s->pool = malloc(POOL_MAX * sizeof(*s->pool))))
		return f.n;
	memcpy(s->pool + s->npool, scratch, f.n * sizeof(*scratch));
	*c = (struct pc_frames){ pc, (uint32_t)s->npool, (uint32_t)f.n };
	s->npool += f.n;
	s->npcs++;
	return f.n;
}

size_t vt_sym_frames(struct vt_sym *s, const uint64_t *pcs, size_t n,
		     struct vt_rep_frame *out, size_t max, bool *truncated)
{
	struct vt_rep_frame scratch[VT_REP_MAX_FRAMES + 1];
	size_t got = 0;

	*truncated = false;
	for (size_t i = 0; i < n && !*truncated; i++) {
		const struct vt_rep_frame *fr;
		size_t k = cached(s, pcs[i], &fr, scratch), take;

		take = k < max - got ? k : max - got;
		memcpy(out + got, fr, take * sizeof(*fr));
		got += take;
		*truncated = take < k;
	}
	return got;
}

/* ---- DWARF unwinding of a copied stack ----------------------------------- */

/* One thread: the copy's. */
static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread)
{
	struct vt_sym *s = arg;

	(void)dwfl;
	if (*thread)
		return 0;
	*thread = s;
	return s->pid;
}

/* Memory is the copy; what lies outside it cannot be read. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *out,
			void *arg)
{
	struct vt_sym *s = arg;
	const struct vt_ustack *u = s->u;
	uint64_t sp = u->regs[VT_UR_RSP];
	size_t len = u->len < VT_USTACK_BYTES ? u->len : VT_USTACK_BYTES;

	(void)dwfl;
	if (addr < sp)
		return false;
	if (addr - sp > len || len - (addr - sp) < sizeof(*out)) {
		s->reach.past = addr - sp < VT_USTACK_BYTES;
		return false;
	}
	memcpy(out, u->data + (addr - sp), sizeof(*out));
	if (addr + sizeof(*out) > s->reach.end)
		s->reach.end = addr + sizeof(*out);
	return true;
}

/* x86-64 DWARF numbering: rbx 3, rbp 6, rsp 7, r12-r15 12-15, rip 16. */
static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct vt_ustack *u = ((struct vt_sym *)arg)->u;
	Dwarf_Word r[17] = { 0 };

	r[3] = u->regs[VT_UR_RBX];
	r[6] = u->regs[VT_UR_RBP];
	r[7] = u->regs[VT_UR_RSP];
	r[12] = u->regs[VT_UR_R12];
	r[13] = u->regs[VT_UR_R13];
	r[14] = u->regs[VT_UR_R14];
	r[15] = u->regs[VT_UR_R15];
	r[16] = u->regs[VT_UR_RIP];
	return dwfl_thread_state_registers(thread, 0, 17, r);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

struct unwound {
	uint64_t *pcs;
	size_t n, max;
};

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct unwound *w = arg;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(frame, &pc, NULL) || !pc)
		return DWARF_CB_ABORT;
	w->pcs[w->n++] = pc;
	return w->n < w->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

size_t vt_sym_unwind(struct vt_sym *s, const struct vt_ustack *u,
		     uint64_t *pcs, size_t max, bool *stopped,
		     struct vt_sym_reach *reach)
{
	struct unwound w = { pcs, 0, max };
	int rc;

	*stopped = true;
	*reach = (struct vt_sym_reach){ 0 };
	if (!max)
		return 0;
	if (!s->attached) {
		if (!dwfl_attach_state(s->dwfl, NULL, s->pid, &thread_callbacks,
				       s))
			return 0;
		s->attached = true;
	}
	s->u = u;
	s->reach = (struct vt_sym_reach){ 0 };
	rc = dwfl_getthread_frames(s->dwfl, s->pid, on_frame, &w);
	/* 0: the outermost frame was reached */
	/* libdw takes a return address it cannot read for the outermost
	 * frame's: one past the copy's end means the copy was too short */
	*stopped = (rc != 0 && w.n < max) || w.n == max || s->reach.past;
	*reach = s->reach;
	if (*stopped)
		reach->end = 0;
	return w.n;
}

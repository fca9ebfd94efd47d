/* vt_report: the end-of-run report of one traced process — peaks, final
 * use, rates, connections, arenas, losses and leaks — built from the state
 * model alone, so a live session and a replayed recording report alike.
 *
 * The builder is fed the state after every tick (vt_report_observe), told
 * each event before the model applies it (vt_report_event), and closed once
 * (vt_report_finish). The result is plain data (struct vt_rep_proc), the
 * same whether built here or parsed back from a report file, so verdicts,
 * diffs and every writer work on either. */
#ifndef VT_REPORT_H
#define VT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/vt_state.h"

#define VT_REP_MAX_SLABS 64
#define VT_REP_MAX_ARENAS 32	/* rows after grouping by system and class */
#define VT_REP_MAX_LEAKS 10000	/* slots listed; the count is always exact */
#define VT_REP_MAX_FRAMES 32
#define VT_REP_MAX_GROUPS 1000	/* leak stacks kept, the largest */
#define VT_REP_OWNERS (VT_MAX_OWNERS + 1)	/* + "none" for no owner */
#define VT_REP_CONN_STATES 4			/* N A I C */

/* --ignore: slab names and handle kinds excluded from leaks. */
enum {
	VT_REP_IGN_LISTENER = VT_SLAB_KINDS,	/* 'T': always ignored */
	VT_REP_IGN_TASK,			/* 'K' */
	VT_REP_IGN_TIMER,			/* 'M' */
	VT_REP_IGN_CONNECTION,			/* N A I C */
	VT_REP_IGN_OBJECT,			/* 'U' */
	VT_REP_IGN_COUNT,
};

#define VT_REP_MAX_SUPPRESS 16
#define VT_REP_FUNC_LEN 96	/* a function name, NUL included */

struct vt_report_opts {
	uint64_t warmup_ms;	/* slots acquired earlier are not leaks */
	uint32_t ignore;	/* bit per VT_SLAB_* / VT_REP_IGN_* */
	/* --suppress: leaks acquired through these functions are counted
	 * apart; the built-in list too unless no_default_suppress */
	size_t nsuppress;
	char suppress[VT_REP_MAX_SUPPRESS][VT_REP_FUNC_LEN];
	bool no_default_suppress;
};

/* Parses one --ignore word (a slab name or listener, task, timer,
 * connection, object) into its bit; -1 for an unknown word. */
int vt_report_ignore_bit(const char *word);
/* Adds one --suppress function; -1 for an empty or overlong name or a
 * full list. */
int vt_report_suppress_add(struct vt_report_opts *o, const char *func);

struct vt_rep_conns {
	size_t nowners;
	char owner[VT_REP_OWNERS][32];
	uint32_t n[VT_REP_OWNERS][VT_REP_CONN_STATES];
};

struct vt_rep_slab {
	int system;
	char name[32];
	uint64_t total, peak, final_used, acquires, releases, overflow;
	double peak_at_s;	/* since the start; -1: the peak predates it */
	uint64_t max_acquires_per_s;
	bool destroyed;		/* freed by the runtime before the end */
	bool has_conns;		/* handles: connections below are meaningful */
	struct vt_rep_conns conns_peak, conns_end;
};

struct vt_rep_arena {
	int system;
	char name[48];		/* "scratch", "stream_arenas" */
	uint64_t capacity, peak, overflow, overflow_bytes;
};

/* A frame of an acquire's call stack; `symbolized` false: only the address
 * is known (the frame is shown as such). */
struct vt_rep_frame {
	uint64_t pc;
	bool symbolized, inlined;
	char func[VT_REP_FUNC_LEN];
	char file[128];		/* base name of the source file */
	int line;
	char module[64];	/* base name of the object */
};

struct vt_rep_leak {
	int system;
	char slab[32];
	uint64_t slot, age_ms;
	double acquired_at_s;	/* since the start; -1: before it */
	char state;		/* handles: state letter, else 0 */
	char owner[32];		/* "" when none */
	uint32_t stack;		/* index into the groups, UINT32_MAX none */
	bool at_destroy;	/* still in use when its slab was destroyed */
	bool suppressed;	/* its group is: not in the count */
};

/* Leaks grouped by the call stack of their acquire, largest first. */
struct vt_rep_group {
	uint32_t stack_id;	/* the probe's stack id, 0: none captured */
	uint64_t count;
	char slab[32];		/* the slab most of them are in */
	size_t nframes;
	struct vt_rep_frame frames[VT_REP_MAX_FRAMES];
	bool truncated;		/* the stack went deeper than it shows */
	char suppressed_by[VT_REP_FUNC_LEN];	/* its suppressed frame, "" */
};

struct vt_rep_proc {
	int pid;
	char argv[512];		/* the command line, words joined by spaces */
	char object[4096];	/* the runtime object traced */
	char build_id[65];
	char mode[16];
	char unwinder[16];	/* "frame-pointer", "dwarf" or "none" */
	double duration_s;
	int exit_code;		/* -1: not known (attach), else its status */
	int exit_signal;	/* 0, or the signal that killed it */
	uint64_t lost_events;
	size_t nslabs;
	struct vt_rep_slab slabs[VT_REP_MAX_SLABS];
	size_t narenas;
	struct vt_rep_arena arenas[VT_REP_MAX_ARENAS];
	uint64_t nleaks;	/* exact, suppressed ones apart */
	uint64_t nsuppressed;	/* leaks of suppressed groups */
	size_t nlisted;		/* <= VT_REP_MAX_LEAKS */
	struct vt_rep_leak *leaks;
	size_t ngroups;
	struct vt_rep_group *groups;
};

void vt_rep_proc_free(struct vt_rep_proc *p);
/* Two leak groups of one stack: the same slab and frames (functions and
 * lines; an unsymbolized frame by its object, as addresses move). */
bool vt_rep_group_same(const struct vt_rep_group *a,
		       const struct vt_rep_group *b);
/* Once the groups' frames are known: groups of the same stack become one
 * (their stack ids differed only in frames no symbol names), largest
 * first again. */
void vt_rep_groups_merge(struct vt_rep_proc *p);
/* Then: each group with a frame in a function o suppresses leaves the
 * leak count for nsuppressed (its listed slots marked), counted groups
 * first. */
void vt_rep_suppress(struct vt_rep_proc *p, const struct vt_report_opts *o);
/* The slab row of (system, name), or NULL. */
const struct vt_rep_slab *vt_rep_slab_find(const struct vt_rep_proc *p,
					   int system, const char *name);

struct vt_report;

struct vt_report *vt_report_new(const struct vt_report_opts *o,
				uint64_t start_ms);
void vt_report_free(struct vt_report *r);
/* After every tick: peaks, rates, connections, arenas. */
void vt_report_observe(struct vt_report *r, const struct vt_state *s,
		       uint64_t now_ms);
/* Before s applies ev: a slab it frees is closed while s still holds it,
 * its used slots leaks. Every event goes through here, so a live session
 * and a replay report a free alike. */
void vt_report_event(struct vt_report *r, const struct vt_state *s,
		     const struct vt_event *ev);
/* Closes the report into out (identity fields left for the caller):
 * slots still in use are leaks. Returns 0, or -1 out of memory. */
int vt_report_finish(struct vt_report *r, const struct vt_state *s,
		     uint64_t now_ms, struct vt_rep_proc *out);

#endif /* VT_REPORT_H */

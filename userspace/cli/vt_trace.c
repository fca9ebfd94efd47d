#include "cli/vt_trace.h"
#include "cli/vt_result.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <linux/capability.h>


#include "cli/vt_file.h"
#include "cli/vt_trace_follow.h"
#include "cli/vt_trace_int.h"
#include "cli/vt_trace_rec.h"
#include "cli/vt_priv.h"
#include "cli/vt_budget.h"
#include "cli/vt_signals.h"
#include "cli/vt_sites.h"
#include "cli/vt_stacks.h"
#include "target/vt_figures.h"
#include "target/vt_layout.h"
#include "probe/vt_probe.h"
#include "target/vt_proc.h"
#include "serve/vt_routes.h"
#include "target/vt_snap.h"
#include "model/vt_state.h"
#include "target/vt_target.h"
#include "wire/vt_wire.h"

#define RECONCILE_MS 1000
#define FULL_RECONCILE_MS 10000	/* hybrid: every slab read whole */
#define MAX_ARENAS 4096
#define PENDING_BATCH 1024	/* slots read in one batch, on the stack */
#define LOSS_UNHEALTHY_MS 5000	/* /healthz: 503 this long after a loss */


static const char *const mode_names[] = {
	[VT_MODE_HYBRID] = "hybrid",
	[VT_MODE_EVENTS] = "events",
	[VT_MODE_SAMPLE] = "sample",
};

int vt_mode_parse(const char *s, enum vt_mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(*mode_names); i++)
		if (!strcmp(s, mode_names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

const char *vt_mode_name(enum vt_mode m)
{
	return mode_names[m];
}

void vt_trace_say(int quiet, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	fputs("valk-trace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}


/* ---- attach-time checks ------------------------------------------------ */

/* Uprobes need CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN. */
static bool can_bpf(void)
{
	return vt_proc_has_cap(CAP_SYS_ADMIN) ||
	       (vt_proc_has_cap(CAP_BPF) && vt_proc_has_cap(CAP_PERFMON));
}

int vt_trace_check_env(enum vt_mode mode, char *err, size_t errlen)
{
	if (mode == VT_MODE_SAMPLE)
		return 0;
	if (!can_bpf()) {
		snprintf(err, errlen, geteuid()
			 ? "uprobes need root or CAP_BPF+CAP_PERFMON; run as "
			   "root, or use --mode sample (memory reads only)"
			 : "uprobes need CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN, "
			   "which this root lacks (a container or the bounding "
			   "set dropped them); grant them, or use --mode sample");
		return -1;
	}
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK)) {
		snprintf(err, errlen, "this kernel has no uprobe support "
			 "(CONFIG_UPROBE_EVENTS); use --mode sample");
		return -1;
	}
	return 0;
}

static int check_env(struct vt_trace *t)
{
	return vt_trace_check_env(t->o->mode, t->err, sizeof(t->err));
}

/* The layout from the target's DWARF, or the --layout file read by
 * prepare() if it is for the target's build. */
static int load_layout(struct vt_trace *t, const char *obj)
{
	char build_id[65] = "";

	if (!t->o->layout_path)
		return vt_layout_from_elf(obj, &t->layout, t->err,
					  sizeof(t->err));
	vt_target_build_id(obj, build_id);
	return vt_layout_check_build_id(&t->layout, build_id, t->err,
					sizeof(t->err));
}

/* The memory readers, once the runtime's place in memory is known: its
 * memory opened now, while the right to read it is checked. */
int vt_trace_open_snap(struct vt_trace *t)
{
	char why[400];

	if (vt_mem_open(&t->mem, t->o->pid)) {
		if (errno == EPERM || errno == EACCES)
			vt_proc_eperm_reason(t->o->pid, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", strerror(errno));
		snprintf(t->err, sizeof(t->err), "cannot read the memory of "
			 "pid %d: %s", t->o->pid, why);
		return -1;
	}
	t->snap = vt_snap_new(&t->mem, &t->layout, t->target.bias,
			      vt_target_addr(&t->target, "valk_sys",
					     t->layout.sym[VT_LS_VALK_SYS]));
	t->figures = vt_figures_reader_new(&t->target, &t->mem, &t->layout);
	if (t->snap && t->figures)
		return 0;
	vt_snap_free(t->snap);
	vt_figures_reader_free(t->figures);
	vt_mem_close(&t->mem);
	t->snap = NULL;
	t->figures = NULL;
	snprintf(t->err, sizeof(t->err), "out of memory");
	return -1;
}


/* ---- memory reads ------------------------------------------------------ */

/* Whether what the model was just fed changed it, for a recording: replay
 * needs what changed the state, not every read that did not. */
static bool changed(const struct vt_trace *t, uint64_t gen)
{
	return t->rec.rec && vt_state_generation(t->state) != gen;
}

enum load_how { LOAD_BOOT, LOAD_RECONCILE, LOAD_SAMPLE, LOAD_CHECK };

/* A problem with the target's memory: on stderr once, and in the stream;
 * the slab at `slab` (0: none) is marked invalid with the same words (the
 * dashboard shows them on it). */
static void vwarn(struct vt_trace *t, uint64_t slab, const char *fmt,
		  va_list ap)
{
	char msg[VT_WARNING_LEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(t->err, sizeof(t->err), "%s", msg);	/* for attach */
	if (vt_state_warn(t->state, msg) && t->start_ms)
		say(t, "warning: %s", msg);
	if (slab)
		vt_state_slab_invalid(t->state, slab, msg);
}

static void warn(struct vt_trace *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct vt_trace *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(t, 0, fmt, ap);
	va_end(ap);
}

/* An implausible slab: warned of, and marked invalid. */
static void slab_invalid(struct vt_trace *t, uint64_t addr, const char *fmt,
			 ...) __attribute__((format(printf, 3, 4)));

static void slab_invalid(struct vt_trace *t, uint64_t addr, const char *fmt,
			 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(t, addr, fmt, ap);
	va_end(ap);
}

/* Why a read of the target failed: the implausible structure, or errno. */
static const char *why(const struct vt_trace *t)
{
	return errno == EPROTO ? vt_snap_problem(t->snap) : strerror(errno);
}

/* What becomes of a slab that failed a read: the model keeps what it had
 * (at attach there is none). */
static const char *kept(const struct vt_trace *t, uint64_t addr)
{
	return vt_state_slab_find(t->state, addr) ? "its last good state is kept"
						  : "it is not traced";
}

/* An unreadable slab keeps its last good state, if it had one, marked
 * invalid; the other slabs go on being traced. */
static int slab_failed(struct vt_trace *t, uint64_t addr, int system,
		       enum vt_slab_kind kind)
{
	int e = errno;

	if (e == EPROTO)
		slab_invalid(t, addr, "system %d %s %s; %s", system,
			     vt_slab_kind_name(kind), vt_snap_problem(t->snap),
			     kept(t, addr));
	else	/* /proc/PID/mem: EIO where nothing is mapped */
		slab_invalid(t, addr, "system %d points its %s slab at %#llx, "
			     "%s; %s", system, vt_slab_kind_name(kind),
			     (unsigned long long)addr,
			     e == EIO || e == EFAULT ? "which is not mapped memory"
						     : strerror(e), kept(t, addr));
	return -1;
}

/* The model's slots in all, with this image's slab, bounded before the
 * model allocates any: beyond the bound the slab is implausible. */
static int slots_fit(struct vt_trace *t, const struct vt_slab_image *img)
{
	uint64_t n = vt_state_slots_with(t->state, img->addr, img->total);

	if (n <= VT_MAX_TOTAL_SLOTS)
		return 0;
	slab_invalid(t, img->addr, "system %d %s slab %#llx: valk_slab_t.numItems "
		     "= %llu makes %llu slots in all slabs, above %llu; %s",
		     img->system, vt_slab_kind_name(img->kind),
		     (unsigned long long)img->addr,
		     (unsigned long long)img->total, (unsigned long long)n,
		     VT_MAX_TOTAL_SLOTS, kept(t, img->addr));
	return -1;
}

/* The runtime never resizes a live slab nor moves its bitmap: a header
 * that does, with no free event for the slab, is reported and the slab
 * marked invalid (reconciliation then reloads it from memory). */
static bool geometry_changed(struct vt_trace *t, const struct vt_slab *sl,
			     const struct vt_slab_image *img)
{
	if (sl->total == img->total && sl->item_size == img->item_size &&
	    sl->bitmap_addr == img->bitmap_addr)
		return false;
	slab_invalid(t, sl->addr, "system %d %s slab %#llx changed without "
		     "being freed: numItems %llu -> %llu, itemSize %llu -> "
		     "%llu, usage_bitmap %#llx -> %#llx", sl->system,
		     vt_slab_kind_name(sl->kind), (unsigned long long)sl->addr,
		     (unsigned long long)sl->total,
		     (unsigned long long)img->total,
		     (unsigned long long)sl->item_size,
		     (unsigned long long)img->item_size,
		     (unsigned long long)sl->bitmap_addr,
		     (unsigned long long)img->bitmap_addr);
	return true;
}

/* An acquire probed at its CAS never sees one that fails. */
static bool fails_unprobed(const struct vt_trace *t)
{
	return t->sites.wanted[VT_P_ACQUIRE_POP];
}

/* An overflow count below the model's is reported (it only grows: the one
 * read before was corrupt, or this one is); the image's count is then the
 * one the model takes, as any other. */
static void overflow_fell(struct vt_trace *t, const struct vt_slab *sl,
			  const struct vt_slab_image *img)
{
	if (img->overflow < sl->overflow)
		warn(t, "system %d %s slab %#llx: valk_slab_t.overflowCount = "
		     "%llu, below the %llu read before (it only grows)",
		     sl->system, vt_slab_kind_name(sl->kind),
		     (unsigned long long)sl->addr,
		     (unsigned long long)img->overflow,
		     (unsigned long long)sl->overflow);
}

/* Events mode reads no slab but checks each header once per reconcile
 * interval (each tick where acquires are probed at their CAS: no probe
 * sees a failed one), and takes its high-water mark and overflow count:
 * true when that settled it. An invalid slab, or one whose image was read
 * while its memory moved, is read in full until a settled image replaces
 * its state. */
static bool check_only(struct vt_trace *t, const struct vt_slab *sl)
{
	struct vt_slab_image img;

	if (sl->invalid || sl->unsettled)
		return false;
	if (vt_snap_slab_header(t->snap, sl->addr, sl->system, sl->kind, &img)) {
		slab_failed(t, sl->addr, sl->system, sl->kind);
		return true;
	}
	if (geometry_changed(t, sl, &img))
		return false;
	overflow_fell(t, sl, &img);
	if (vt_state_slab_maxima(t->state, &img, fails_unprobed(t)) &&
	    t->rec.rec)
		vt_record_slab(t->rec.rec, sl);
	return true;
}

static int load_slab(struct vt_trace *t, uint64_t addr, int system,
		     enum vt_slab_kind kind, enum load_how how)
{
	const struct vt_slab *sl = vt_state_slab_find(t->state, addr);
	uint64_t gen = vt_state_generation(t->state);
	struct vt_slab_image img;
	int rc = 0;

	/* a slab the runtime freed keeps its pointer in the system */
	if ((how == LOAD_RECONCILE || how == LOAD_CHECK) && !sl)
		return 0;
	if (how == LOAD_CHECK && check_only(t, sl))
		return 0;
	if (vt_snap_slab(t->snap, addr, system, kind, &img))
		return slab_failed(t, addr, system, kind);
	if (slots_fit(t, &img))
		return -1;
	if (sl && !sl->invalid)
		geometry_changed(t, sl, &img);
	if (sl && how != LOAD_BOOT)
		overflow_fell(t, sl, &img);
	switch (how) {
	case LOAD_BOOT:
		rc = vt_state_slab_load(t->state, &img, vt_proc_now_ms());
		break;
	case LOAD_RECONCILE:
	case LOAD_CHECK:
		vt_state_slab_maxima(t->state, &img, fails_unprobed(t));
		/* no drain since the tick's: events the read raced are still
		 * in the ring, told apart by version once a repair adopts it */
		vt_state_slab_reconcile(t->state, &img, vt_proc_now_ms());
		break;
	case LOAD_SAMPLE:
		rc = vt_state_slab_sample(t->state, &img, vt_proc_now_ms());
		break;
	}
	if (changed(t, gen))	/* a read changed it: the result is recorded */
		vt_record_slab(t->rec.rec, vt_state_slab_find(t->state, addr));
	return rc;
}

/* Where acquires are probed at their CAS, the headers' overflow counts
 * and high-water marks are read each tick (one small read a slab), so
 * both are exact at every tick. */
static void read_maxima(struct vt_trace *t)
{
	for (size_t i = 0; i < vt_state_nslabs(t->state); i++)
		check_only(t, vt_state_slab(t->state, i));
}

/* The model's slab of that system and kind, if it has one. */
static const struct vt_slab *slab_of(const struct vt_trace *t, int system,
				     enum vt_slab_kind kind)
{
	for (size_t j = 0; j < vt_state_nslabs(t->state); j++) {
		const struct vt_slab *s = vt_state_slab(t->state, j);

		if (s->system == system && s->kind == kind)
			return s;
	}
	return NULL;
}

/* A system points at its slabs for their whole life: another pointer while
 * the model's slab was never freed is reported, that slab marked invalid. */
static void check_pointer(struct vt_trace *t, int system,
			  enum vt_slab_kind kind, uint64_t addr)
{
	const struct vt_slab *sl = slab_of(t, system, kind);

	if (!sl || sl->addr == addr)
		return;
	slab_invalid(t, sl->addr, "system %d points its %s slab at %#llx, "
		     "but slab %#llx was never freed", system,
		     vt_slab_kind_name(kind), (unsigned long long)addr,
		     (unsigned long long)sl->addr);
}

static int64_t drain_early(void *ctx);

/* Every slab and the owner registry of a system; -1 when the system itself
 * cannot be read or a slab failed at boot. Reading a big slab takes
 * milliseconds: the ring is drained (into the queue) after each. */
static int load_system(struct vt_trace *t, int idx, enum load_how how)
{
	uint64_t slabs[VT_SLAB_KINDS];
	char names[VT_MAX_OWNERS][32];
	int n, rc = 0;

	if (vt_snap_system_slabs(t->snap, t->systems[idx], slabs)) {
		warn(t, "AIO system %d at %#llx cannot be read: %s", idx,
		     (unsigned long long)t->systems[idx], strerror(errno));
		return -1;
	}
	for (int k = 0; k < VT_SLAB_KINDS; k++) {
		if (how == LOAD_RECONCILE || how == LOAD_CHECK)
			check_pointer(t, idx, k, slabs[k]);
		if (slabs[k] && load_slab(t, slabs[k], idx, k, how))
			rc = -1;
		drain_early(t);
	}
	n = vt_snap_owners(t->snap, t->systems[idx], names, VT_MAX_OWNERS);
	if (n < 0)
		warn(t, "system %d owner registry: %s", idx, why(t));
	for (int i = 0; i < n; i++) {
		uint64_t gen = vt_state_generation(t->state);

		vt_state_owner_set(t->state, idx, i, names[i]);
		if (changed(t, gen))
			vt_record_owner(t->rec.rec, idx, i, names[i]);
	}
	return rc;
}

/* A subsystem entry whose context cannot be read is no AIO system to
 * trace: reported, and never given an index (nor a place in the stream). */
static bool system_readable(struct vt_trace *t, uint64_t sys)
{
	uint64_t slabs[VT_SLAB_KINDS];
	int e;

	if (!vt_snap_system_slabs(t->snap, sys, slabs))
		return true;
	e = errno;
	warn(t, "valk_system_t.subsystems names an AIO system at %#llx, %s; "
	     "it is not traced", (unsigned long long)sys,
	     e == EIO || e == EFAULT ? "which is not mapped memory"
				     : strerror(e));
	return false;
}

/* New AIO systems since the last scan are bootstrapped from memory; a
 * system keeps its index for the whole session. */
static int scan_systems(struct vt_trace *t)
{
	uint64_t found[VT_SNAP_MAX_SYSTEMS];
	int n = vt_snap_systems(t->snap, found, VT_SNAP_MAX_SYSTEMS);

	for (int i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < t->nsystems; j++)
			if (t->systems[j] == found[i])
				break;
		if (j < t->nsystems || t->nsystems == VT_SNAP_MAX_SYSTEMS ||
		    !system_readable(t, found[i]))
			continue;
		t->systems[t->nsystems] = found[i];
		vt_state_system_set(t->state, t->nsystems, found[i]);
		if (t->rec.rec)
			vt_record_system(t->rec.rec, t->nsystems, found[i]);
		if (load_system(t, t->nsystems, LOAD_BOOT))
			return -1;
		t->nsystems++;
	}
	if (n < 0)
		warn(t, "valk_sys and its subsystems: %s", why(t));
	return n < 0 ? -1 : 0;
}

/* A system that cannot be read (stopped and freed) leaves the others be. */
static void refresh_all(struct vt_trace *t, enum load_how how)
{
	for (size_t i = 0; i < t->nsystems; i++)
		load_system(t, i, how);
}

/* The runtime writes a new handle's kind (and a connecting connection's
 * owner) with inline code no probe sees, and flips a connection between
 * active and idle the same way: read those slots (with conns, every
 * connection) each tick, in batches. */
static void read_slots(struct vt_trace *t, bool conns)
{
	uint64_t slab[PENDING_BATCH], slot[PENDING_BATCH];
	const struct vt_slab *sl[PENDING_BATCH];
	uint32_t kind[PENDING_BATCH], diag[PENDING_BATCH];
	uint16_t owner[PENDING_BATCH];
	struct vt_rec_typed typed[PENDING_BATCH];
	struct vt_state_cursor cur = { 0, 0 };
	size_t n;

	while ((n = vt_state_reads_due(t->state, conns, &cur, slab, slot,
				       PENDING_BATCH)) > 0) {
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			sl[i] = vt_state_slab_find(t->state, slab[i]);
		if (vt_snap_handles(t->snap, sl, slot, n, kind, diag, owner))
			return;
		for (size_t i = 0; i < n; i++)
			if (vt_state_slot_typed(t->state, slab[i], slot[i],
						kind[i], diag[i], owner[i]))
				typed[m++] = (struct vt_rec_typed){
					slab[i], slot[i], kind[i], diag[i],
					owner[i] };
		if (t->rec.rec && m)
			vt_record_typed(t->rec.rec, typed, m);
	}
}

/* Arena bump pointers and GC counters change on every allocation: far too
 * hot to probe, so they are read each tick in every mode. */
static void read_arenas_gc(struct vt_trace *t)
{
	size_t n = 0;
	struct vt_gc gc;
	uint64_t gen;

	for (size_t i = 0; i < t->nsystems; i++) {
		const struct vt_slab *arenas = slab_of(t, i, VT_SLAB_STREAM_ARENAS);
		int got;

		got = vt_snap_arenas(t->snap, i, t->systems[i], arenas,
				     t->arenas, n, MAX_ARENAS);
		if (got > 0)
			n = got;
	}
	gen = vt_state_generation(t->state);
	vt_state_arenas_set(t->state, t->arenas, n);
	if (changed(t, gen))
		vt_record_arenas(t->rec.rec, t->arenas, n);
	gen = vt_state_generation(t->state);
	switch (vt_snap_gc(t->snap, &gc)) {
	case 0:
		vt_state_gc_set(t->state, &gc);
		break;
	case -1:
		warn(t, "GC heap (valk_system_t.heap) cannot be read: %s",
		     strerror(errno));
		break;
	}
	if (changed(t, gen))
		vt_record_gc(t->rec.rec, &gc);
}

/* The registry's counters and the GC and library figures move with every
 * request: read each tick in every mode, like the arenas. */
static void read_figures(struct vt_trace *t)
{
	struct vt_figures *f = vt_figures_read(t->figures, t->nsystems
								  ? t->systems[0]
								  : 0);

	if (f)
		vt_state_figures_set(t->state, f);
}

/* ---- events ------------------------------------------------------------ */

static void apply_event(void *ctx, const struct vt_event *ev)
{
	struct vt_trace *t = ctx;
	struct vt_event e;

	/* an acquire whose stack was copied: its unwound stack's id (the copy
	 * went into its ring first; drained again if read since) */
	if (t->stacks && ev->type == VT_EV_ACQUIRE && ev->acquire.ustack) {
		uint32_t id = vt_stacks_of_copy(t->stacks, ev->acquire.ustack);

		if (!id && vt_probe_drain_ustacks(t->probe) > 0)
			id = vt_stacks_of_copy(t->stacks, ev->acquire.ustack);
		e = *ev;
		e.acquire.stack = id ? id : e.acquire.stack;
		ev = &e;
	}
	vt_trace_rec_event(&t->rec, ev);
	if (t->report) {
		/* held at the free (run), the slab's memory is still there */
		if (ev->type == VT_EV_SLAB_FREE)
			read_slots(t, false);
		vt_report_event(t->report, t->state, ev);
	}
	if (vt_state_apply(t->state, ev) == VT_STATE_READ_SYSTEMS)
		t->rescan = true;
}

/* Drained between ticks, an event waits for the next tick: the model
 * changes in ticks only. */
static void on_event(void *ctx, const struct vt_event *ev)
{
	struct vt_trace *t = ctx;

	t->ring_events++;
	if (t->early)
		vt_drain_keep(&t->drain, ev);
	else
		apply_event(t, ev);
}

/* The events drained since the last tick, then what the ring holds. */
static void drain_all(struct vt_trace *t)
{
	vt_drain_flush(&t->drain, apply_event, t);
	vt_probe_drain(t->probe);
}

/* Between ticks (vt_drain): the ring into the queue, while it has room.
 * Not before the session runs (the bootstrap applies what it drains), nor
 * with stack copies: their ring is drained with it and the unwound stacks
 * wait for their events in bounded queues. */
static int64_t drain_early(void *ctx)
{
	struct vt_trace *t = ctx;

	if (!vt_drain_running(&t->drain) || !t->probe || !t->mapped ||
	    t->stopping || t->ustacks)
		return -1;
	if (vt_drain_room(&t->drain)) {
		t->early = true;
		vt_probe_drain(t->probe);
		t->early = false;
	}
	return (int64_t)t->ring_events;
}

/* Events a ring of `bytes` holds: each record has an 8-byte header and
 * is 8-byte aligned. */
static size_t ring_capacity(size_t bytes)
{
	return bytes / ((sizeof(struct vt_event) + 8 + 7) & ~(size_t)7);
}

/* ---- output ------------------------------------------------------------ */

/* The clocks and process sizes of this tick: every document of a tick,
 * and its recording, tell the same instant. */
static void update_meta(struct vt_trace *t)
{
	struct vt_proc_info pi = { 0 };

	vt_proc_info(t->o->pid, &pi);
	t->meta = (struct vt_wire_meta){
		.pid = t->o->pid,
		.binary = t->target.object,
		.build_id = t->target.build_id,
		.mode = vt_mode_name(t->o->mode),
		.now_ms = vt_proc_now_ms(),
		.wall_ms = vt_proc_wall_ms(),
		.leak_age_ms = t->o->leak_age_ms,
		.uptime_s = pi.uptime_s,
		.rss = pi.rss,
		.vms = pi.vms,
		.system_total = pi.system_total,
		.sites = t->probe ? t->wsites : NULL,
		.overhead = t->budgeted ? &t->overhead : NULL,
	};
}

static void fill_meta(void *ctx, struct vt_wire_meta *m)
{
	*m = ((struct vt_trace *)ctx)->meta;
}

static char *json_doc(struct vt_trace *t)
{
	struct vt_wire_meta m;

	fill_meta(t, &m);
	return vt_wire_memory(t->state, &m, ++t->seq);
}

static int write_json(struct vt_trace *t, FILE *f)
{
	char *doc = json_doc(t);
	int rc;

	if (!doc)
		return -1;
	rc = fputs(doc, f) != EOF && fputc('\n', f) != EOF ? 0 : -1;
	free(doc);
	return rc;
}

/* `-` is standard output; a file is replaced whole (vt_file), so a reader
 * never sees half a document. */
static int write_json_file(struct vt_trace *t, const char *path)
{
	char *doc, err[512];
	size_t n;
	int rc;

	if (!strcmp(path, "-"))
		return write_json(t, stdout);
	doc = json_doc(t);
	if (!doc)
		return -1;
	n = strlen(doc);
	doc[n] = '\n';	/* over the terminator: written by length */
	rc = vt_file_write(t->o->files, path, doc, n + 1, err, sizeof(err));
	free(doc);
	if (rc)
		say(t, "%s", err);
	return rc;
}

/* ---- recording ---------------------------------------------------------- */

/* How the report's stacks were unwound. */
static const char *unwinder(const struct vt_trace *t)
{
	return !t->stacks ? "none" : t->ustacks ? "dwarf" : "frame-pointer";
}

static struct vt_trace_rec_src rec_src(const struct vt_trace *t)
{
	return (struct vt_trace_rec_src){
		.o = t->o, .target = &t->target, .layout = &t->layout,
		.sites = t->probe ? t->wsites : NULL, .state = t->state,
		.meta = &t->meta, .report_start_ms = t->report_start_ms,
		.routes = t->routes, .stacks = t->stacks, .probe = t->probe,
		.unwinder = unwinder(t),
	};
}

void vt_trace_record_stop(struct vt_trace *t)
{
	struct vt_trace_rec_src s = rec_src(t);

	vt_trace_rec_stop(&t->rec, &s);
}

/* ---- the session ------------------------------------------------------- */

static void stop(struct vt_trace *t, int code)
{
	if (t->stopping)
		return;
	t->stopping = true;
	t->exit_code = code;
	if (t->o->json_path && write_json_file(t, t->o->json_path))
		t->exit_code = VT_EXIT_FAIL;
	if (t->o->snapshot && write_json(t, stdout))
		t->exit_code = VT_EXIT_FAIL;
	vt_trace_record_stop(t);
	uv_timer_stop(&t->tick);
	vt_drain_stop(&t->drain);
	if (t->on_stop)
		t->on_stop(t);
}

/* Lost events leave the state short of what the target did until the next
 * reconciliation repairs it (never, in events mode): /healthz says so. */
static void update_health(struct vt_trace *t, uint64_t lost, uint64_t now)
{
	char why[160];

	if (lost > t->lost)
		t->lost_ms = now;
	t->lost = lost;
	if (!t->routes)
		return;
	if (!lost || now - t->lost_ms >= LOSS_UNHEALTHY_MS) {
		vt_routes_set_unhealthy(t->routes, NULL);
		return;
	}
	snprintf(why, sizeof(why), "the ring buffer lost events (%llu so "
		 "far, the last %llu ms ago); raise --ringbuf-size",
		 (unsigned long long)lost,
		 (unsigned long long)(now - t->lost_ms));
	vt_routes_set_unhealthy(t->routes, why);
}

static void update_counters(struct vt_trace *t, uint64_t now)
{
	uint64_t hits[VT_P_COUNT], lost;

	if (!t->probe)
		return;
	lost = vt_probe_lost(t->probe) + t->drain.dropped;
	vt_probe_hits(t->probe, hits);
	vt_state_tracer_update(t->state, lost, hits);
	update_health(t, lost, now);
}

void vt_trace_say_attached(struct vt_trace *t)
{
	say(t, "attached to pid %d (%s, build-id %s), mode %s, %zu AIO "
	       "system(s)", t->o->pid, t->target.object,
	    *t->target.build_id ? t->target.build_id : "none",
	    vt_mode_name(t->o->mode), t->nsystems);
}

/* Target gone or exec'd: end with the last state we have, or, following
 * a name, wait for the next process of that name. */
static bool target_ended(struct vt_trace *t)
{
	int rc = vt_target_check(&t->target, &t->mem);

	if (rc == 0)
		return false;
	if (t->o->follow) {
		say(t, "target %d %s; waiting for the next valk process named "
		       "%s", t->o->pid, rc == VT_TARGET_EEXEC
		       ? "exec'd another program" : "exited", t->o->follow);
		vt_trace_follow_detach(t);
		return false;
	}
	say(t, "target %d %s; final state kept", t->o->pid,
	    rc == VT_TARGET_EEXEC ? "exec'd another program" : "exited");
	return true;
}

/* Calibrates what a hit costs here and prices every probe by its site.
 * Hybrid sessions with a budget only: events mode is the measure of the
 * event pipeline and never drops a probe, a snapshot lasts one tick. */
static void budget_start(struct vt_trace *t)
{
	double cls[VT_PROBE_CLASSES], hit_us[VT_P_COUNT];

	if (t->o->mode != VT_MODE_HYBRID || t->o->snapshot ||
	    t->o->max_overhead_pct <= 0 || vt_probe_calibrate(t->probe, cls))
		return;
	for (int i = 0; i < VT_P_COUNT; i++)
		hit_us[i] = vt_sites_cost_us(&t->sites, i, cls);
	vt_budget_init(&t->budget, t->o->max_overhead_pct, hit_us);
	t->overhead.max_pct = t->o->max_overhead_pct;
	memcpy(t->overhead.hit_us, cls, sizeof(cls));
	t->budgeted = true;
}

static void slab_totals(const struct vt_state *s, uint64_t *acq, uint64_t *rel)
{
	*acq = *rel = 0;
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		*acq += vt_state_slab(s, i)->acquires;
		*rel += vt_state_slab(s, i)->releases;
	}
}

/* Once a window: over budget the slab probes come off and the slabs are
 * read every tick; back within it they go on again and every slab is
 * bootstrapped as at attach (the events since buffered and classified by
 * the version they read). */
static void budget_tick(struct vt_trace *t, uint64_t now)
{
	uint64_t hits[VT_P_COUNT], acq, rel;
	enum vt_budget_act act;

	if (!t->budgeted)
		return;
	vt_probe_hits(t->probe, hits);
	slab_totals(t->state, &acq, &rel);
	act = vt_budget_tick(&t->budget, hits, acq, rel,
			     vt_proc_cpu_ns(t->o->pid), now);
	t->overhead.estimate_pct = t->budget.estimate_pct;
	t->overhead.projected_pct = t->budget.projected_pct;
	if (act == VT_BUDGET_DETACH) {
		vt_probe_detach(t->probe, VT_BUDGET_SLAB_PROBES);
		say(t, "probes cost the target %.1f%% of its CPU, over the "
		       "%.0f%% budget: slab operations are read, not probed",
		    t->budget.estimate_pct, t->budget.max_pct);
	} else if (act == VT_BUDGET_ATTACH) {
		if (vt_probe_attach(t->probe, VT_BUDGET_SLAB_PROBES, t->err,
				    sizeof(t->err))) {
			say(t, "%s; slabs stay read", t->err);
			return;
		}
		refresh_all(t, LOAD_BOOT);
		t->full_ms = 0;	/* the next reconcile checks that boot whole */
		say(t, "slab probes would cost %.1f%%, within the %.0f%% "
		       "budget: probing slab operations again",
		    t->budget.projected_pct, t->budget.max_pct);
	}
	if (act != VT_BUDGET_KEEP)
		vt_budget_done(&t->budget, act);
	t->overhead.slabs_read = t->budget.slabs_read;
}

/* What a hybrid reconcile reads. Events keep the model exact unless one
 * was lost or did not fit it, so slabs are read whole only then, while a
 * slab's drift waits to be confirmed, and every FULL_RECONCILE_MS as a
 * safety net; otherwise only their headers, as in events mode (geometry,
 * high-water mark, overflows). Reading every slot of a big slab each
 * second costs the target too: its caches, the memory it shares. */
static enum load_how reconcile_how(struct vt_trace *t, uint64_t now)
{
	uint64_t ignored = vt_state_counters(t->state)->ignored;
	bool full = now - t->full_ms >= FULL_RECONCILE_MS ||
		    t->lost != t->full_lost || ignored != t->full_ignored;

	for (size_t i = 0; !full && i < vt_state_nslabs(t->state); i++)
		full = vt_state_slab(t->state, i)->suspect;
	if (!full)
		return LOAD_CHECK;
	t->full_ms = now;
	t->full_lost = t->lost;
	t->full_ignored = ignored;
	return LOAD_RECONCILE;
}

/* One tick's work: events, memory reads, counters, the report. */
void vt_trace_refresh(struct vt_trace *t, uint64_t now)
{
	bool due = now - t->last_reconcile_ms >= RECONCILE_MS;
	struct vt_trace_rec_src rs;

	if (vt_trace_follow_mapped(t))
		return;
	if (vt_trace_rec_late_due(&t->rec, t->o)) {
		update_meta(t);
		rs = rec_src(t);
		vt_trace_rec_late(&t->rec, &rs);
	}
	if (t->probe)
		drain_all(t);
	/* the subsystem list is checked each reconcile interval too */
	if (t->rescan || due || t->o->mode == VT_MODE_SAMPLE) {
		t->rescan = false;
		scan_systems(t);
	}
	/* slabs read instead of probed still get connection events, whose
	 * owners are typed as without a budget */
	if (t->o->mode == VT_MODE_SAMPLE || t->budget.slabs_read)
		refresh_all(t, LOAD_SAMPLE);
	if (t->o->mode != VT_MODE_SAMPLE)
		read_slots(t, !t->budget.slabs_read);
	if (t->o->mode != VT_MODE_SAMPLE && !t->budget.slabs_read && !due &&
	    fails_unprobed(t))
		read_maxima(t);
	drain_early(t);
	if (t->o->mode != VT_MODE_SAMPLE && !t->budget.slabs_read && due) {
		t->last_reconcile_ms = now;
		refresh_all(t, t->o->mode == VT_MODE_HYBRID
				       ? reconcile_how(t, now) : LOAD_CHECK);
	}
	read_arenas_gc(t);
	read_figures(t);
	drain_early(t);
	update_counters(t, now);
	budget_tick(t, now);
	update_meta(t);
	rs = rec_src(t);
	vt_trace_rec_tick(&t->rec, &rs);
	if (t->report)	/* the tick's instant, as its documents say it */
		vt_report_observe(t->report, t->state, t->meta.now_ms);
}

static bool duration_over(const struct vt_trace *t, uint64_t now)
{
	return t->o->duration_s > 0 &&
	       now - t->start_ms >= t->o->duration_s * 1000;
}

static void on_tick(uv_timer_t *h)
{
	struct vt_trace *t = h->data;
	uint64_t now = vt_proc_now_ms();

	if (t->mapped && target_ended(t)) {
		stop(t, VT_EXIT_TARGET_GONE);
		return;
	}
	if (t->o->follow && !t->attached)
		vt_trace_follow_try(t);
	if (t->o->follow && !t->attached) {
		if (t->routes)
			vt_routes_tick(t->routes, now);
		if (duration_over(t, now)) {
			say(t, "--duration over while waiting for a valk "
			       "process named %s", t->o->follow);
			stop(t, VT_EXIT_OK);
		}
		return;
	}
	vt_trace_refresh(t, now);
	if (t->routes)
		vt_routes_tick(t->routes, now);
	if (t->o->snapshot || duration_over(t, now))
		stop(t, VT_EXIT_OK);
}

int vt_trace_check_output(const struct vt_files *k, const char *what,
			  const char *path, char *err, size_t errlen)
{
	char why[480];

	if (!strcmp(path, "-") || !vt_file_check(k, path, why, sizeof(why)))
		return 0;
	snprintf(err, errlen, "cannot write %s: %s", what, why);
	return -1;
}

static bool loopback(const char *listen)
{
	return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]:", 6) ||
	       !strncmp(listen, "localhost:", 10);
}

/* Beyond loopback every request needs a token: the one given, or one made
 * up here (printed once the server listens). */
static int server_opts(const struct vt_trace_serve *s,
		       char made[VT_TRACE_TOKEN_LEN], struct vt_server_opts *so,
		       char *err, size_t errlen)
{
	uint8_t r[(VT_TRACE_TOKEN_LEN - 1) / 2];

	*so = (struct vt_server_opts){ .allow_hosts = s->allow_hosts,
				       .token = s->token,
				       .tls_cert = s->tls_cert,
				       .tls_key = s->tls_key };
	*made = '\0';
	if (so->token || loopback(s->listen))
		return 0;
	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		snprintf(err, errlen, "cannot make a token: %s; give one with "
			 "--token", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(made + 2 * i, 3, "%02x", r[i]);
	so->token = made;
	return 0;
}

int vt_trace_serve(uv_loop_t *loop, const struct vt_trace_serve *s,
		   char made[VT_TRACE_TOKEN_LEN], const struct vt_state *st,
		   vt_routes_meta_fn meta, void *ctx, struct vt_routes **out,
		   char *err, size_t errlen)
{
	struct vt_server_opts so;

	if (server_opts(s, made, &so, err, errlen) ||
	    vt_routes_start(loop, s->listen, &so, st, meta, ctx, out, err,
			    errlen))
		return -1;
	if (*made)
		fprintf(stderr, "valk-trace: %s is beyond loopback: every "
			"request needs the token %s (Authorization: Bearer %s, "
			"or ?token=%s once in a browser)\n", s->listen, made,
			made, made);
	return 0;
}

struct layout_file {
	FILE *f;
	const char *path;
};

static int parse_layout(void *ctx, void *out, char *err, size_t errlen)
{
	struct layout_file *lf = ctx;

	return vt_layout_parse_json(lf->f, lf->path, out, err, errlen);
}

/* --layout: opened while root, parsed by a child that gave root up, and
 * what it says checked again here. */
static int read_layout(struct vt_trace *t)
{
	struct layout_file lf = { vt_layout_open(t->o->layout_path, t->err,
						 sizeof(t->err)),
				  t->o->layout_path };
	int rc;

	if (!lf.f)
		return -1;
	rc = vt_priv_confined(t->o->no_drop || geteuid() != 0, parse_layout,
			      &lf, &t->layout, sizeof(t->layout), t->err,
			      sizeof(t->err)) ||
	     vt_layout_valid(&t->layout, t->err, sizeof(t->err));
	fclose(lf.f);
	return rc ? -1 : 0;
}

/* What can be refused without the target — the --json and --record
 * paths, the --layout file, the --listen address and its port, the TLS
 * certificate and key — is
 * checked before the target
 * is touched: a typo costs no attach, and no trace is lost at the end. */
static int prepare(struct vt_trace *t, uv_loop_t *loop)
{
	const struct vt_trace_opts *o = t->o;

	if (o->json_path && vt_trace_check_output(o->files, "--json", o->json_path,
						  t->err, sizeof(t->err)))
		return -1;
	if (o->record_path && o->follow) {
		snprintf(t->err, sizeof(t->err), "--record follows one process: "
			 "record each one by its pid instead of --follow");
		return -1;
	}
	if (o->record_path && vt_trace_check_output(o->files, "--record",
						    o->record_path, t->err,
						    sizeof(t->err)))
		return -1;
	if (o->layout_path && read_layout(t))
		return -1;
	t->state = vt_state_new(vt_proc_now_ms());
	if (!t->state) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return -1;
	}
	if (!o->serve.listen)
		return 0;
	return vt_trace_serve(loop, &o->serve, t->token, t->state, fill_meta,
			      t, &t->routes, t->err, sizeof(t->err));
}

static void on_ustack(void *ctx, const struct vt_ustack *u)
{
	struct vt_trace *t = ctx;
	uint64_t top;

	if (vt_stacks_copied(t->stacks, u, &top))
		vt_probe_stack_top(t->probe, u->tid, top);
}

/* Code built with frame pointers starts its functions with push %rbp
 * (after endbr64): there the kernel's walk is the stack; elsewhere the
 * stack is copied and unwound with the DWARF CFI. */
static bool frame_pointers(const char *obj)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	struct vt_target_func f;
	bool fp;

	if (vt_target_func_code(obj, "valk_slab_aquire", &f))
		return true;
	fp = (f.len > 0 && f.code[0] == 0x55) ||
	     (f.len > 4 && !memcmp(f.code, endbr64, 4) && f.code[4] == 0x55);
	free(f.code);
	return fp;
}

/* The acquires' call stacks are captured when the report or the
 * recording (for the report replay makes of it) shows them. */
static int attach_probes(struct vt_trace *t, const char *obj, const char *uv)
{
	const struct vt_trace_opts *o = t->o;
	struct vt_probe_opts po = {
		.pid = o->pid,
		.obj_path = obj,
		.uv_path = uv,
		.off = vt_sites_offsets(&t->layout),
		.release_inlined = !t->layout.release_ptr_calls_release,
		.ringbuf_bytes = o->ringbuf_bytes,
		.hold = o->runtime_path != NULL,
		.stacks = o->stacks,
		.ustacks = o->stacks && !frame_pointers(obj),
	};

	if (vt_sites_plan(&po, &t->sites, t->err, sizeof(t->err)) ||
	    vt_probe_open(&po, on_event, t, &t->probe, t->err,
			  sizeof(t->err)))
		return -1;
	vt_sites_wire(&t->sites, t->wsites);
	t->ustacks = po.ustacks;
	if (o->stacks && !(t->stacks = vt_stacks_new(o->pid, &t->mem))) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return -1;
	}
	vt_probe_on_ustack(t->probe, on_ustack);
	budget_start(t);
	return 0;
}

/* Probes first, so nothing between the read and the first event is lost
 * (the model drops events the image holds); a process held before its
 * exec is read once it has mapped its runtime. */
int vt_trace_attach(struct vt_trace *t)
{
	const struct vt_trace_opts *o = t->o;
	const char *obj = o->runtime_path, *uv = o->uv_path;
	struct vt_trace_rec_src rs;

	if (!obj) {
		if (vt_target_open(o->pid, &t->target, t->err, sizeof(t->err)))
			return -1;
		obj = t->target.open_path;
		uv = t->target.uv_path;
	}
	if (check_env(t) || load_layout(t, obj))
		return -1;
	t->arenas = calloc(MAX_ARENAS, sizeof(*t->arenas));
	t->report_start_ms = vt_proc_now_ms();
	if (o->report)
		t->report = vt_report_new(&o->report_opts, t->report_start_ms);
	if (!t->arenas || (o->report && !t->report)) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		return -1;
	}
	if (o->mode != VT_MODE_SAMPLE && attach_probes(t, obj, uv))
		return -1;
	if (o->runtime_path) {
		t->attached = true;
		return 0;
	}
	if (vt_trace_open_snap(t))
		return -1;
	t->mapped = true;
	if (scan_systems(t)) {
		char why[400];

		if (errno == EPERM || errno == EACCES)
			vt_proc_eperm_reason(o->pid, why, sizeof(why));
		else	/* the structure that was implausible or unreadable */
			snprintf(why, sizeof(why), "%.300s (is its memory corrupt, "
				 "or the layout of another build?)", t->err);
		snprintf(t->err, sizeof(t->err),
			 "cannot read the memory of pid %d: %s", o->pid, why);
		return -1;
	}
	read_arenas_gc(t);
	read_figures(t);
	update_meta(t);
	rs = rec_src(t);
	if (vt_trace_rec_start(&t->rec, &rs, t->err, sizeof(t->err)))
		return -1;
	t->attached = true;
	return 0;
}

static void session_free(struct vt_trace *t)
{
	vt_trace_record_stop(t);
	vt_probe_close(t->probe);
	vt_snap_free(t->snap);
	vt_figures_reader_free(t->figures);
	vt_mem_close(&t->mem);
	vt_state_free(t->state);
	vt_report_free(t->report);
	vt_stacks_free(t->stacks);
	free(t->arenas);
	free(t);
}

static void on_routes_closed(void *arg)
{
	struct vt_trace *t = arg;

	if (--t->closing == 0)
		session_free(t);
}

static void on_closed(uv_handle_t *h)
{
	on_routes_closed(h->data);
}

int vt_trace_open(uv_loop_t *loop, struct vt_trace_opts *o,
		  struct vt_trace **out, char *err, size_t errlen)
{
	struct vt_trace *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->o = o;
	t->mem.fd = t->mem.maps = -1;
	t->exit_code = VT_EXIT_OK;
	rc = prepare(t, loop);
	if (!rc && o->launch && (o->pid = o->launch(o->launch_ctx)) <= 0) {
		rc = 1;
		t->err[0] = '\0';	/* launch said why */
	} else if (!rc && !o->follow) {
		rc = vt_trace_attach(t);
	}
	if (rc) {
		snprintf(err, errlen, "%s", t->err);
		t->closing = 1;
		if (t->routes) {	/* the server frees itself on the loop */
			vt_routes_close(t->routes, on_routes_closed, t);
			t->routes = NULL;
		} else
			session_free(t);
		return -1;
	}
	t->start_ms = t->last_reconcile_ms = vt_proc_now_ms();
	uv_timer_init(loop, &t->tick);
	t->tick.data = t;
	uv_timer_start(&t->tick, on_tick, o->interval_ms, o->interval_ms);
	vt_drain_start(loop, &t->drain, ring_capacity(o->ringbuf_bytes),
		       o->interval_ms, drain_early, t);
	*out = t;
	return 0;
}

/* Who ran, for the report: its words joined by spaces. */
static void report_identity(struct vt_trace *t, struct vt_rep_proc *rep)
{
	size_t n = vt_proc_cmdline(t->o->pid, rep->argv, sizeof(rep->argv) - 1);

	while (n && !rep->argv[n - 1])
		n--;
	for (size_t i = 0; i < n; i++)
		rep->argv[i] = rep->argv[i] ? rep->argv[i] : ' ';
	rep->argv[n] = '\0';
	rep->pid = t->o->pid;
	snprintf(rep->object, sizeof(rep->object), "%s",
		 t->mapped ? t->target.object : t->o->runtime_path);
	snprintf(rep->build_id, sizeof(rep->build_id), "%s",
		 t->mapped ? t->target.build_id : "");
	snprintf(rep->mode, sizeof(rep->mode), "%s", vt_mode_name(t->o->mode));
	snprintf(rep->unwinder, sizeof(rep->unwinder), "%s", unwinder(t));
}

/* Each leak group's acquire stack, symbolized while the process exists;
 * then what is suppressed leaves the count. */
static void symbolize(struct vt_trace *t, struct vt_rep_proc *rep)
{
	if (!t->stacks || !rep->ngroups)
		return;
	for (size_t i = 0; i < rep->ngroups; i++) {
		struct vt_rep_group *g = &rep->groups[i];

		g->nframes = vt_stacks_frames(t->stacks, t->probe, g->stack_id,
					      g->frames, VT_REP_MAX_FRAMES,
					      &g->truncated);
	}
	vt_rep_groups_merge(rep);
	vt_rep_suppress(rep, &t->o->report_opts);
}

int vt_trace_end(struct vt_trace *t, struct vt_rep_proc *rep)
{
	int rc = 0;

	if (!t->stopping) {
		vt_trace_refresh(t, vt_proc_now_ms());
		t->stopping = true;
	}
	if (rep && t->report) {
		rc = vt_report_finish(t->report, t->state, t->meta.now_ms, rep);
		report_identity(t, rep);
		if (!rc)
			symbolize(t, rep);
	}
	t->closing = 2 + (t->routes != NULL);
	uv_close((uv_handle_t *)&t->tick, on_closed);
	vt_drain_close(&t->drain, on_routes_closed, t);
	if (t->routes)	/* freed on the loop: not to be used after this */
		vt_routes_close(t->routes, on_routes_closed, t);
	t->routes = NULL;
	return rc;
}

/* ---- attach and snapshot ------------------------------------------------ */

struct attach_run {
	struct vt_trace *t;
	const struct vt_result *res;
	struct vt_signals sig;
	int exit_code;
};

static void on_signal(uv_signal_t *h, int sig)
{
	struct attach_run *a = h->data;
	const char *how = sig == SIGINT ? "interrupted" : "terminated";

	if (a->t->o->follow && !a->t->attached)	/* nothing to detach from */
		say(a->t, "%s while waiting for a valk process named %s", how,
		    a->t->o->follow);
	else
		say(a->t, "%s: detaching%s", how, a->t->o->launch
		    ? "" : "; the target is left as it was");
	stop(a->t, VT_EXIT_OK);
}

/* The session ended: a report, when asked for, is judged; its verdict is
 * the exit code unless writing failed. */
static void attach_stopped(struct vt_trace *t)
{
	struct attach_run *a = t->on_stop_ctx;
	struct vt_rep_doc doc = { .exit_status = -1, .nprocs = 1 };
	struct vt_rep_proc rep;
	int code;

	a->exit_code = t->exit_code;
	vt_signals_close(&a->sig, NULL);
	if (!t->o->report) {
		vt_trace_end(t, NULL);
		return;
	}
	if (vt_trace_end(t, &rep)) {
		vt_rep_proc_free(&rep);
		a->exit_code = VT_EXIT_FAIL;
		return;
	}
	doc.procs = &rep;
	code = vt_result_emit(a->res, &doc, NULL, -1);
	vt_rep_proc_free(&rep);
	free(doc.judged);
	if (code && a->exit_code != VT_EXIT_FAIL)
		a->exit_code = code;
}

/* What the session still does once attached, for vt_priv_drop. */
static unsigned priv_needs(const struct vt_trace *t)
{
	unsigned n = t->o->priv_needs;

	if (t->o->mode != VT_MODE_SAMPLE)
		n |= VT_PRIV_PROBES;
	if (t->budgeted)
		n |= VT_PRIV_REATTACH | (vt_probe_perf_events(t->probe)
					 ? VT_PRIV_PERF_EVENTS : 0);
	if (t->o->follow)
		n |= VT_PRIV_TARGETS | (t->o->mode != VT_MODE_SAMPLE
					? VT_PRIV_REATTACH : 0);
	return n;
}

/* The files named, made by a keeper once this process is no longer root;
 * then root is given up as soon as the probes are on and the memory open,
 * before the first request is parsed. */
static int start_keeper(struct vt_trace_opts *o, struct vt_result *res,
			struct vt_files *files, char *err, size_t errlen)
{
	const char *paths[] = { o->json_path, o->record_path, res->json_path,
				res->junit_path, res->md_path };

	files->sock = -1;
	if (o->no_drop ||
	    vt_files_keep(files, paths, sizeof(paths) / sizeof(*paths), err,
			  errlen))
		return o->no_drop ? 0 : -1;
	o->files = res->files = files;
	return 0;
}

int vt_trace_run(struct vt_trace_opts *o, const struct vt_result *res_in)
{
	struct vt_result res = res_in ? *res_in : (struct vt_result){ 0 };
	struct attach_run a = { .res = &res };
	struct vt_files files;
	uv_loop_t loop;
	char err[512];
	int rc;

	uv_loop_init(&loop);
	rc = start_keeper(o, &res, &files, err, sizeof(err));
	if (rc || vt_trace_open(&loop, o, &a.t, err, sizeof(err)) ||
	    (!o->no_drop && (rc = vt_priv_drop(priv_needs(a.t), err,
					       sizeof(err))))) {
		if (*err)
			fprintf(stderr, "valk-trace: %s\n", err);
		if (rc && a.t)
			vt_trace_end(a.t, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);	/* let the server free itself */
		uv_loop_close(&loop);
		if (files.sock >= 0)
			close(files.sock);
		return VT_EXIT_USAGE;
	}
	if (o->follow)
		vt_trace_follow_start(a.t);
	else
		vt_trace_say_attached(a.t);
	if (o->record_path)
		say(a.t, "recording to %s", o->record_path);
	if (a.t->routes)
		fprintf(stderr, "valk-trace: serving %s\n",
			vt_routes_url(a.t->routes));
	a.t->on_stop = attach_stopped;
	a.t->on_stop_ctx = &a;
	vt_signals_run(&loop, &a.sig, on_signal, &a);
	if (files.sock >= 0)
		close(files.sock);
	return a.exit_code;
}

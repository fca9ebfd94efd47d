/* vt_sites: place every wanted probe on its function's shared site. */
#include <stdio.h>
#include <string.h>

#include "cli/vt_sites.h"
#include "target/vt_cas.h"

/* The calibration measures the classes in vt_site's order. */
_Static_assert(VT_SITE_NCLASS == VT_PROBE_CLASSES, "site classes");

/* Extra cost of a return probe's trampoline, per call (kernel 6.18). */
#define RET_COST_US 0.45

/* What every probe on the function needs, together. */
static struct vt_site_need function_need(const char *func,
					 const struct vt_probe_opts *o)
{
	struct vt_site_need n = { 0, false };

	for (int i = 0; i < VT_P_COUNT; i++) {
		const struct vt_probe_spec *s = vt_probe_spec(i);

		if (!vt_probe_wanted(i, o) || strcmp(s->func, func))
			continue;
		n.args |= s->args;
		n.entry_sp |= s->ret;
	}
	return n;
}

struct vt_bpf_offsets vt_sites_offsets(const struct vt_layout *l)
{
	return (struct vt_bpf_offsets){
		.item_handle = l->off[VT_L_ITEM_HANDLE],
		.item_data = l->off[VT_L_ITEM_DATA],
		.slab_peak = l->off[VT_L_SLAB_PEAK],
		.slab_version = l->off[VT_L_SLAB_VERSION],
		.slab_num_free = l->off[VT_L_SLAB_NUM_FREE],
		.handle_kind = l->off[VT_L_HANDLE_KIND],
		.diag_state = l->off[VT_L_HANDLE_DIAG_STATE],
		.diag_owner = l->off[VT_L_HANDLE_DIAG_OWNER],
		.uv_data = 0,	/* uv_handle_t starts with `void *data` */
	};
}

/* The CAS sites of the slab operations that have one and where it costs
 * no more than the entry's probes (a 5-byte nop at the entry is cheaper
 * for a release); a tie goes to the CAS site, one trap instead of two. */
static void plan_cas(struct vt_probe_opts *o, struct vt_site site[])
{
	static const enum vt_probe_id ops[VT_CAS_SITES] = {
		VT_P_ACQUIRE_ENTRY, VT_P_RELEASE, VT_P_RELEASE_PTR,
	};

	for (int k = 0; k < VT_CAS_SITES; k++) {
		const char *func = vt_probe_spec(ops[k])->func;
		struct vt_cas_need need = { k == 0, o->off.slab_num_free,
					    o->off.slab_peak };
		struct vt_site_need at_entry = { vt_probe_spec(ops[k])->args,
						 k == 0 };
		struct vt_cas_site c;
		struct vt_site e;
		char err[256];

		o->at_cas[k] = false;
		if (o->stacks || vt_cas_find(o->obj_path, func, need, &c))
			continue;
		if (!vt_site_find(o->obj_path, func, at_entry, &e, err,
				  sizeof(err)) &&
		    vt_site_cost_us(e.cls) + (k == 0 ? RET_COST_US : 0) <
			    vt_site_cost_us(c.site.cls))
			continue;
		o->at_cas[k] = true;
		o->cas[k] = c.regs;
		site[k] = c.site;
	}
}

int vt_sites_plan(struct vt_probe_opts *o, struct vt_sites *out, char *err,
		  size_t errlen)
{
	struct vt_site cas[VT_CAS_SITES];

	memset(out, 0, sizeof(*out));
	plan_cas(o, cas);
	for (int i = 0; i < VT_P_COUNT; i++) {
		const struct vt_probe_spec *s = vt_probe_spec(i);
		const char *path = s->need == VT_NEED_UV ? o->uv_path
							 : o->obj_path;

		if (!vt_probe_wanted(i, o))
			continue;
		if (s->at_cas)
			out->site[i] = cas[s->cas];
		else if (vt_site_find(path, s->func, function_need(s->func, o),
				      &out->site[i], err, errlen))
			return -1;
		out->wanted[i] = true;
		o->offsets[i] = out->site[i].file_off;
	}
	return 0;
}

/* An entry probe on the same function pays the shared trap already. */
static bool entry_shares(const struct vt_sites *s, enum vt_probe_id id)
{
	for (int i = 0; i < VT_P_COUNT; i++)
		if (s->wanted[i] && !vt_probe_spec(i)->ret &&
		    !strcmp(vt_probe_spec(i)->func, vt_probe_spec(id)->func))
			return true;
	return false;
}

double vt_sites_cost_us(const struct vt_sites *s, enum vt_probe_id id,
			const double class_us[VT_SITE_NCLASS])
{
	double trap;

	if ((unsigned)id >= VT_P_COUNT || !s->wanted[id])
		return 0;
	trap = class_us ? class_us[s->site[id].cls]
			: vt_site_cost_us(s->site[id].cls);
	if (!vt_probe_spec(id)->ret)
		return trap;
	return RET_COST_US + (entry_shares(s, id) ? 0 : trap);
}

void vt_sites_wire(const struct vt_sites *s,
		   struct vt_wire_site out[VT_P_COUNT])
{
	for (int i = 0; i < VT_P_COUNT; i++) {
		const struct vt_site *v = &s->site[i];

		out[i] = (struct vt_wire_site){
			.attached = s->wanted[i],
			.function = vt_probe_spec(i)->func,
			.offset = v->offset,
			.file_offset = v->file_off,
			.insn = v->insn,
			.entry = v->entry,
			.cls = vt_site_class_name(v->cls),
			.cost_us = vt_sites_cost_us(s, i, NULL),
		};
	}
}

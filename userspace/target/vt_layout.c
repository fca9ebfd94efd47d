/* vt_layout: offsets, array lengths and symbols of the target runtime, read
 * from the DWARF of its own object (libdw) or from a JSON file made earlier
 * from an unstripped copy of the same build. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>

#include "target/vt_layout.h"
#include "target/vt_target.h"

const struct vt_layout_spec vt_layout_fields[VT_L_COUNT] = {
#define X(id, type, path) { type, path },
	VT_LAYOUT_FIELDS(X)
	VT_LAYOUT_FIGURE_FIELDS(X)
#undef X
};

const struct vt_layout_spec vt_layout_counts[VT_LC_COUNT] = {
#define X(id, type, path) { type, path },
	VT_LAYOUT_COUNTS(X)
	VT_LAYOUT_FIGURE_COUNTS(X)
#undef X
};

const char *const vt_layout_symbols[VT_LS_COUNT] = {
#define X(id, name) name,
	VT_LAYOUT_SYMBOLS(X)
	VT_LAYOUT_FIGURE_SYMBOLS(X)
#undef X
};

#define UNSUPPORTED "is this a valk runtime of a supported version?"

/* ---- DWARF ------------------------------------------------------------ */

/* One type the layout needs, found at most once over all units. */
struct type_slot {
	const char *name;
	bool found;
	Dwarf_Die die;
	/* A typedef whose struct is only declared where we saw it: the
	 * definition is looked up by this tag afterwards. */
	const char *decl_tag;
};

struct scan {
	struct type_slot types[VT_L_COUNT + VT_LC_COUNT];
	size_t ntypes;
	bool release_inlined;
};

static bool is_type_wrapper(int tag)
{
	return tag == DW_TAG_typedef || tag == DW_TAG_const_type ||
	       tag == DW_TAG_volatile_type || tag == DW_TAG_atomic_type ||
	       tag == DW_TAG_restrict_type;
}

/* Follows typedefs and qualifiers (_Atomic included) to the real type. */
static int strip_type(Dwarf_Die *die)
{
	Dwarf_Attribute a;

	while (is_type_wrapper(dwarf_tag(die)))
		if (!dwarf_formref_die(dwarf_attr_integrate(die, DW_AT_type, &a),
				       die))
			return -1;
	return 0;
}

static bool is_aggregate(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

static bool is_complete(Dwarf_Die *die)
{
	Dwarf_Die t = *die;

	return !strip_type(&t) && !dwarf_hasattr(&t, DW_AT_declaration);
}

static struct type_slot *slot_named(struct scan *s, const char *name)
{
	size_t i;

	for (i = 0; name && i < s->ntypes; i++)
		if (!strcmp(s->types[i].name, name))
			return &s->types[i];
	return NULL;
}

static void add_type(struct scan *s, const char *name)
{
	if (!slot_named(s, name))
		s->types[s->ntypes++] = (struct type_slot){ .name = name };
}

static bool has_inlined(Dwarf_Die *die, const char *callee)
{
	Dwarf_Die c;

	if (dwarf_child(die, &c))
		return false;
	do {
		const char *n = dwarf_diename(&c);

		if (dwarf_tag(&c) == DW_TAG_inlined_subroutine && n &&
		    !strcmp(n, callee))
			return true;
		if (has_inlined(&c, callee))
			return true;
	} while (!dwarf_siblingof(&c, &c));
	return false;
}

/* Remembers a wanted type (first complete definition wins) and whether
 * valk_slab_release was inlined into valk_slab_release_ptr. */
static void visit(struct scan *s, Dwarf_Die *die)
{
	int tag = dwarf_tag(die);
	const char *name = dwarf_diename(die);
	struct type_slot *slot;

	if (tag == DW_TAG_subprogram) {
		if (name && !strcmp(name, "valk_slab_release_ptr") &&
		    has_inlined(die, "valk_slab_release"))
			s->release_inlined = true;
		return;
	}
	if (tag != DW_TAG_typedef && !is_aggregate(die))
		return;
	slot = slot_named(s, name);
	if (!slot || slot->found)
		return;
	if (is_complete(die)) {
		slot->found = true;
		slot->die = *die;
	} else if (tag == DW_TAG_typedef && !slot->decl_tag) {
		Dwarf_Die t = *die;

		if (!strip_type(&t) && is_aggregate(&t))
			slot->decl_tag = dwarf_diename(&t);
	}
}

/* Calls fn on the top-level DIEs of every unit (type units included). */
static int walk_units(Dwarf *dw, struct scan *s,
		      void (*fn)(struct scan *, Dwarf_Die *))
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, die;
	uint8_t unit_type;
	Dwarf_Half version;
	int r;

	while ((r = dwarf_get_units(dw, cu, &cu, &version, &unit_type, &cudie,
				    NULL)) == 0) {
		if (dwarf_child(&cudie, &die))
			continue;
		do
			fn(s, &die);
		while (!dwarf_siblingof(&die, &die));
	}
	return r < 0 ? -1 : 0;
}

/* Second pass, only for typedefs seen solely as declarations: the complete
 * struct may sit in a unit that never names the typedef. */
static void visit_tag(struct scan *s, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);
	size_t i;

	if (!name || !is_aggregate(die) || dwarf_hasattr(die, DW_AT_declaration))
		return;
	for (i = 0; i < s->ntypes; i++) {
		struct type_slot *t = &s->types[i];

		if (!t->found && t->decl_tag && !strcmp(t->decl_tag, name)) {
			t->found = true;
			t->die = *die;
		}
	}
}

static int member_location(Dwarf_Die *m, uint64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Op *ops;
	size_t nops;

	*off = 0;
	if (!dwarf_attr(m, DW_AT_data_member_location, &a))
		return 0; /* union members */
	if (!dwarf_formudata(&a, &w)) {
		*off = w;
		return 0;
	}
	/* Older producers: a DW_OP_plus_uconst expression. */
	if (dwarf_getlocation(&a, &ops, &nops) || nops != 1 ||
	    ops[0].atom != DW_OP_plus_uconst)
		return -1;
	*off = ops[0].number;
	return 0;
}

/* Finds member name[0..len) in aggregate agg, looking through anonymous
 * struct/union members; *type gets the member's type. */
static int find_member(Dwarf_Die *agg, const char *name, size_t len,
		       uint64_t *off, Dwarf_Die *type)
{
	Dwarf_Attribute a;
	Dwarf_Die m;

	if (dwarf_child(agg, &m))
		return -1;
	do {
		const char *n = dwarf_diename(&m);
		uint64_t here, inner;

		if (dwarf_tag(&m) != DW_TAG_member || member_location(&m, &here) ||
		    !dwarf_formref_die(dwarf_attr_integrate(&m, DW_AT_type, &a),
				       type))
			continue;
		if (n && strlen(n) == len && !memcmp(n, name, len)) {
			*off = here;
			return 0;
		}
		if (!n && !strip_type(type) && is_aggregate(type) &&
		    !find_member(type, name, len, &inner, type)) {
			*off = here + inner;
			return 0;
		}
	} while (!dwarf_siblingof(&m, &m));
	return -1;
}

/* Offset of a dotted member path in type t; *type gets the last member's
 * type (t itself for an empty path). */
static int member_path(Dwarf_Die t, const char *path, uint64_t *off,
		       Dwarf_Die *type)
{
	*off = 0;
	*type = t;
	while (*path) {
		size_t len = strcspn(path, ".");
		uint64_t o;

		if (strip_type(type) || !is_aggregate(type) ||
		    find_member(type, path, len, &o, type))
			return -1;
		*off += o;
		path += len + (path[len] == '.');
	}
	return 0;
}

static int array_count(Dwarf_Die *type, uint64_t *count)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Die sub;

	if (strip_type(type) || dwarf_tag(type) != DW_TAG_array_type ||
	    dwarf_child(type, &sub) || dwarf_tag(&sub) != DW_TAG_subrange_type)
		return -1;
	if (dwarf_attr(&sub, DW_AT_count, &a) && !dwarf_formudata(&a, &w)) {
		*count = w;
		return 0;
	}
	if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && !dwarf_formudata(&a, &w)) {
		*count = w + 1;
		return 0;
	}
	return -1; /* flexible array */
}

static void spec_name(const struct vt_layout_spec *sp, char *buf, size_t len)
{
	if (*sp->path)
		snprintf(buf, len, "%s.%s", sp->type, sp->path);
	else
		snprintf(buf, len, "sizeof(%s)", sp->type);
}

const char *vt_layout_field_name(enum vt_layout_id id, char *buf, size_t len)
{
	spec_name(&vt_layout_fields[id], buf, len);
	return buf;
}

/* Offset (or size, or array length with want_count) of one spec. */
static int resolve_spec(struct scan *s, const struct vt_layout_spec *sp, bool want_count,
			uint64_t *out, const char *path, char *err, size_t errlen)
{
	struct type_slot *slot = slot_named(s, sp->type);
	char name[128];
	Dwarf_Die type;
	Dwarf_Word size;
	uint64_t off;

	if (!slot->found) {
		snprintf(err, errlen, "type %s not found in DWARF of %s: %s",
			 sp->type, path, UNSUPPORTED);
		return -1;
	}
	spec_name(sp, name, sizeof(name));
	if (member_path(slot->die, sp->path, &off, &type))
		goto missing;
	if (want_count) {
		if (array_count(&type, out))
			goto missing;
	} else if (*sp->path) {
		*out = off;
	} else {
		if (strip_type(&type) || dwarf_aggregate_size(&type, &size))
			goto missing;
		*out = size;
	}
	return 0;
missing:
	snprintf(err, errlen, "%s%s not found in DWARF of %s: %s", name,
		 want_count ? " (array length)" : "", path, UNSUPPORTED);
	return -1;
}

/* Index i of a table whose first `required` entries must resolve: marks
 * an optional entry absent (true), or tells that it was required. */
static bool optional(size_t i, size_t required, uint64_t *v)
{
	if (i < required)
		return false;
	*v = VT_LAYOUT_ABSENT;
	return true;
}

static int resolve_all(Dwarf *dw, struct vt_layout *out, const char *path,
		       char *err, size_t errlen)
{
	struct scan s = { .ntypes = 0 };
	size_t i;

	for (i = 0; i < VT_L_COUNT; i++)
		add_type(&s, vt_layout_fields[i].type);
	for (i = 0; i < VT_LC_COUNT; i++)
		add_type(&s, vt_layout_counts[i].type);
	if (walk_units(dw, &s, visit)) {
		snprintf(err, errlen, "cannot read the DWARF of %s: %s", path,
			 dwarf_errmsg(-1));
		return -1;
	}
	for (i = 0; i < s.ntypes; i++)
		if (!s.types[i].found && s.types[i].decl_tag)
			break;
	if (i < s.ntypes && walk_units(dw, &s, visit_tag)) {
		snprintf(err, errlen, "cannot read the DWARF of %s: %s", path,
			 dwarf_errmsg(-1));
		return -1;
	}
	for (i = 0; i < VT_L_COUNT; i++)
		if (resolve_spec(&s, &vt_layout_fields[i], false, &out->off[i], path,
				 err, errlen) && !optional(i, VT_L_REQUIRED, &out->off[i]))
			return -1;
	for (i = 0; i < VT_LC_COUNT; i++)
		if (resolve_spec(&s, &vt_layout_counts[i], true, &out->count[i],
				 path, err, errlen) &&
		    !optional(i, VT_LC_REQUIRED, &out->count[i]))
			return -1;
	out->release_ptr_calls_release = !s.release_inlined;
	return 0;
}

static int resolve_symbols(Elf *elf, struct vt_layout *out, const char *path,
			   char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < VT_LS_COUNT; i++) {
		if (!vt_target_elf_symbol(elf, vt_layout_symbols[i], &out->sym[i]) ||
		    optional(i, VT_LS_REQUIRED, &out->sym[i]))
			continue;
		snprintf(err, errlen, "symbol %s not found in %s: %s",
			 vt_layout_symbols[i], path, UNSUPPORTED);
		return -1;
	}
	return 0;
}

/* ---- checks ----------------------------------------------------------- */

#define MAX_OFF (1u << 20)	/* far above any struct the tracer reads */
#define MAX_COUNT 65536
#define HDR_MAX 512		/* vt_snap reads slab headers on the stack */

/* An offset, size or count of the layout, 0 when the runtime lacks it. */
static uint64_t off_or_0(const struct vt_layout *l, enum vt_layout_id id)
{
	return l->off[id] == VT_LAYOUT_ABSENT ? 0 : l->off[id];
}

static uint64_t count_or_0(const struct vt_layout *l,
			   enum vt_layout_count_id id)
{
	return l->count[id] == VT_LAYOUT_ABSENT ? 0 : l->count[id];
}

/* A label set as vt_figures reads it: its labels array and its count. */
static uint64_t labelset_width(const struct vt_layout *l)
{
	uint64_t labels = off_or_0(l, VT_L_LABELSET_LABELS) +
			  count_or_0(l, VT_LC_N_LABELS) *
				  off_or_0(l, VT_L_LABEL_SIZEOF);
	uint64_t count = off_or_0(l, VT_L_LABELSET_COUNT) + 1;

	return labels > count ? labels : count;
}

/* Bytes vt_figures reads at an optional field: the whole member, arrays
 * by the layout's own counts; 8 unless listed. */
static uint64_t figure_width(const struct vt_layout *l, enum vt_layout_id id)
{
	switch (id) {
	case VT_L_REG_COUNTERS:
		return count_or_0(l, VT_LC_N_COUNTERS) *
		       off_or_0(l, VT_L_COUNTER_SIZEOF);
	case VT_L_REG_GAUGES:
		return count_or_0(l, VT_LC_N_GAUGES) *
		       off_or_0(l, VT_L_GAUGE_SIZEOF);
	case VT_L_REG_HISTOGRAMS:
		return count_or_0(l, VT_LC_N_HISTOGRAMS) *
		       off_or_0(l, VT_L_HIST_SIZEOF);
	case VT_L_REG_SUMMARIES:
		return count_or_0(l, VT_LC_N_SUMMARIES) *
		       off_or_0(l, VT_L_SUMMARY_SIZEOF);
	case VT_L_REG_COUNTER_NEXT:
		return 4 * count_or_0(l, VT_LC_N_COUNTERS);
	case VT_L_REG_GAUGE_NEXT:
		return 4 * count_or_0(l, VT_LC_N_GAUGES);
	case VT_L_REG_HISTOGRAM_NEXT:
		return 4 * count_or_0(l, VT_LC_N_HISTOGRAMS);
	case VT_L_REG_SUMMARY_NEXT:
		return 4 * count_or_0(l, VT_LC_N_SUMMARIES);
	case VT_L_REG_COUNTER_FREE:
	case VT_L_REG_GAUGE_FREE:
	case VT_L_REG_HISTOGRAM_FREE:
	case VT_L_REG_SUMMARY_FREE:
	case VT_L_EVAL_STACK_MAX:
		return 4;
	case VT_L_COUNTER_ACTIVE:
	case VT_L_GAUGE_ACTIVE:
	case VT_L_HIST_ACTIVE:
	case VT_L_SUMMARY_ACTIVE:
	case VT_L_HIST_NBOUNDS:
	case VT_L_LABELSET_COUNT:
		return 1;
	case VT_L_COUNTER_LABELS:
	case VT_L_GAUGE_LABELS:
	case VT_L_HIST_LABELS:
		return labelset_width(l);
	case VT_L_LABELSET_LABELS:
		return count_or_0(l, VT_LC_N_LABELS) *
		       off_or_0(l, VT_L_LABEL_SIZEOF);
	case VT_L_HIST_BOUNDS:
		return 8 * count_or_0(l, VT_LC_N_HIST_BOUNDS);
	case VT_L_HIST_BUCKETS:
		return 8 * (count_or_0(l, VT_LC_N_HIST_BOUNDS) + 1);
	default:
		return *vt_layout_fields[id].path ? 8 : 0;
	}
}

/* Bytes the tracer reads at a field: 8 unless listed; 0 for a size or a
 * flexible array. */
static uint64_t field_width(const struct vt_layout *l, enum vt_layout_id id)
{
	if ((int)id >= (int)VT_L_REQUIRED)
		return figure_width(l, id);
	switch (id) {
	case VT_L_HANDLE_KIND:
	case VT_L_HANDLE_DIAG_STATE:
	case VT_L_VSYS_SUBSYSTEM_COUNT:
		return 4;
	case VT_L_HANDLE_DIAG_OWNER:
	case VT_L_OWNERS_COUNT:
	case VT_L_PAGELIST_SLOT_SIZE:
		return 2;
	case VT_L_OWNER_NAME:
		return l->count[VT_LC_OWNER_NAME_LEN];
	case VT_L_SLAB_HEAP:
	case VT_L_ITEM_DATA:
		return 0;
	default:
		return *vt_layout_fields[id].path ? 8 : 0;
	}
}

/* The sizeof entry of a field's struct, or VT_L_COUNT if none is known. */
static enum vt_layout_id size_of(enum vt_layout_id id)
{
	for (int i = 0; i < VT_L_COUNT; i++)
		if (!*vt_layout_fields[i].path &&
		    !strcmp(vt_layout_fields[i].type, vt_layout_fields[id].type))
			return i;
	return VT_L_COUNT;
}

static int bad_field(const struct vt_layout *l, enum vt_layout_id id,
		     const char *why, uint64_t limit, char *err, size_t errlen)
{
	char name[128];

	snprintf(err, errlen, "layout of %s: %s at %llu (+%llu bytes) %s %llu: "
		 "regenerate it with `valk-trace layout`", l->object,
		 vt_layout_field_name(id, name, sizeof(name)),
		 (unsigned long long)l->off[id],
		 (unsigned long long)field_width(l, id), why,
		 (unsigned long long)limit);
	return -1;
}

static int bad_count(const struct vt_layout *l, char *err, size_t errlen)
{
	char name[128];

	for (int i = 0; i < VT_LC_COUNT; i++) {
		if ((l->count[i] <= MAX_COUNT || l->count[i] == VT_LAYOUT_ABSENT) &&
		    (i != VT_LC_OWNER_NAME_LEN || l->count[i] > 0))
			continue;
		spec_name(&vt_layout_counts[i], name, sizeof(name));
		snprintf(err, errlen, "layout of %s: %s has %llu elements, not "
			 "within %d..%d: regenerate it with `valk-trace layout`",
			 l->object, name, (unsigned long long)l->count[i],
			 i == VT_LC_OWNER_NAME_LEN, MAX_COUNT);
		return -1;
	}
	return 0;
}

/* Array lengths bounded and name lengths not zero; then every offset
 * bounded, and only then (widths are offsets times lengths) every offset
 * plus all the bytes read there within its struct (the slab header's
 * fields within the header before the items); sizes not zero. */
static int layout_check(const struct vt_layout *l, char *err, size_t errlen)
{
	if (bad_count(l, err, errlen))
		return -1;
	for (int i = 0; i < VT_L_COUNT; i++)
		if (l->off[i] != VT_LAYOUT_ABSENT && l->off[i] > MAX_OFF)
			return bad_field(l, i, "is above", MAX_OFF, err, errlen);
	for (int i = 0; i < VT_L_COUNT; i++) {
		enum vt_layout_id sz = size_of(i);
		uint64_t end = l->off[i] + field_width(l, i);

		if (l->off[i] == VT_LAYOUT_ABSENT)	/* optional, not there */
			continue;
		if (end > MAX_OFF)
			return bad_field(l, i, "is above", MAX_OFF, err, errlen);
		if (sz != VT_L_COUNT && (int)sz != i &&
		    l->off[sz] != VT_LAYOUT_ABSENT && end > l->off[sz])
			return bad_field(l, i, "ends past the struct's size",
					 l->off[sz], err, errlen);
		if (!strcmp(vt_layout_fields[i].type, "valk_slab_t") &&
		    i != VT_L_SLAB_HEAP && i != VT_L_SLAB_SIZEOF &&
		    end > l->off[VT_L_SLAB_HEAP])
			return bad_field(l, i, "ends past the items at",
					 l->off[VT_L_SLAB_HEAP], err, errlen);
		if (!*vt_layout_fields[i].path && l->off[i] == 0)
			return bad_field(l, i, "is a size of", 0, err, errlen);
	}
	if (l->off[VT_L_SLAB_HEAP] > HDR_MAX || l->off[VT_L_PAGELIST_SIZEOF] > HDR_MAX)
		return bad_field(l, l->off[VT_L_SLAB_HEAP] > HDR_MAX ?
				 VT_L_SLAB_HEAP : VT_L_PAGELIST_SIZEOF,
				 "is above", HDR_MAX, err, errlen);
	return 0;
}

static bool truncated(int fd, Elf *elf)
{
	GElf_Ehdr eh;
	struct stat st;

	return !gelf_getehdr(elf, &eh) || fstat(fd, &st) ||
	       eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize >
		       (uint64_t)st.st_size;
}

int vt_layout_from_elf(const char *path, struct vt_layout *out, char *err,
		       size_t errlen)
{
	Dwarf *dw = NULL;
	Elf *elf = NULL;
	int fd, r = -1;

	memset(out, 0, sizeof(*out));
	snprintf(out->object, sizeof(out->object), "%s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return -1;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(err, errlen, "%s is not an ELF object", path);
		goto out;
	}
	if (truncated(fd, elf)) {
		snprintf(err, errlen,
			 "%s is truncated (its section headers lie past the "
			 "end of the file): copy the object again", path);
		goto out;
	}
	if (vt_target_elf_build_id(elf, out->build_id) ||
	    resolve_symbols(elf, out, path, err, errlen))
		goto out;
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw) {
		snprintf(err, errlen,
			 "%s has no DWARF (stripped?): run `valk-trace layout` "
			 "on an unstripped copy of the same build and pass "
			 "its output with --layout FILE", path);
		goto out;
	}
	r = resolve_all(dw, out, path, err, errlen);
	if (r == 0)
		r = layout_check(out, err, errlen);
out:
	dwarf_end(dw);
	elf_end(elf);
	close(fd);
	return r;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *json_value(uint64_t v)
{
	return v == VT_LAYOUT_ABSENT ? json_null() : json_integer((json_int_t)v);
}

static json_t *spec_object(const struct vt_layout_spec *specs, const uint64_t *v,
			   size_t n)
{
	json_t *o = json_object();
	char name[128];
	size_t i;

	for (i = 0; i < n; i++) {
		spec_name(&specs[i], name, sizeof(name));
		json_object_set_new(o, name, json_value(v[i]));
	}
	return o;
}

int vt_layout_write_json(const struct vt_layout *l, FILE *f)
{
	json_t *root = json_object(), *syms = json_object();
	size_t i;
	int r;

	for (i = 0; i < VT_LS_COUNT; i++)
		json_object_set_new(syms, vt_layout_symbols[i],
				    json_value(l->sym[i]));
	json_object_set_new(root, "object", json_string(l->object));
	json_object_set_new(root, "build_id", json_string(l->build_id));
	json_object_set_new(root, "release_ptr_calls_release",
			    json_boolean(l->release_ptr_calls_release));
	json_object_set_new(root, "fields",
			    spec_object(vt_layout_fields, l->off, VT_L_COUNT));
	json_object_set_new(root, "counts",
			    spec_object(vt_layout_counts, l->count, VT_LC_COUNT));
	json_object_set_new(root, "symbols", syms);
	r = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!r)
		r = fputc('\n', f) == EOF ? -1 : 0;
	json_decref(root);
	return r;
}

/* Reads integer member `key` of o (one of "fields", "counts", "symbols");
 * an optional one may be null or missing (absent). */
static int read_u64(const json_t *o, const char *section, const char *key,
		    bool opt, uint64_t *v, const char *path, char *err,
		    size_t errlen)
{
	const json_t *j = json_object_get(o, key);

	if (opt && (!j || json_is_null(j))) {
		*v = VT_LAYOUT_ABSENT;
		return 0;
	}
	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		snprintf(err, errlen,
			 "%s: \"%s\" lacks a non-negative integer \"%s\": "
			 "regenerate the file with `valk-trace layout`",
			 path, section, key);
		return -1;
	}
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int read_specs(const json_t *root, const char *section,
		      const struct vt_layout_spec *specs, uint64_t *v, size_t n,
		      size_t required, const char *path, char *err,
		      size_t errlen)
{
	const json_t *o = json_object_get(root, section);
	char name[128];
	size_t i;

	for (i = 0; i < n; i++) {
		spec_name(&specs[i], name, sizeof(name));
		if (read_u64(o, section, name, i >= required, &v[i], path, err,
			     errlen))
			return -1;
	}
	return 0;
}

static int read_header(const json_t *root, struct vt_layout *out,
		       const char *path, char *err, size_t errlen)
{
	const json_t *id = json_object_get(root, "build_id");
	const json_t *obj = json_object_get(root, "object");
	const json_t *rel = json_object_get(root, "release_ptr_calls_release");
	const char *s = json_string_value(id);

	if (!s || strlen(s) >= sizeof(out->build_id) ||
	    strspn(s, "0123456789abcdef") != strlen(s)) {
		snprintf(err, errlen,
			 "%s: \"build_id\" must be a lower-case hex string: "
			 "regenerate the file with `valk-trace layout`", path);
		return -1;
	}
	if (!json_is_boolean(rel)) {
		snprintf(err, errlen,
			 "%s: \"release_ptr_calls_release\" must be true or "
			 "false: regenerate the file with `valk-trace layout`",
			 path);
		return -1;
	}
	strcpy(out->build_id, s);
	snprintf(out->object, sizeof(out->object), "%s",
		 json_is_string(obj) ? json_string_value(obj) : path);
	out->release_ptr_calls_release = json_is_true(rel);
	return 0;
}

/* jansson's message quotes the bytes near the error, which may be control
 * characters from the file: an error stays one printable line. */
static const char *printable(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

FILE *vt_layout_open(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (!f)
		snprintf(err, errlen, "cannot read layout file %s: %s; make one "
			 "with `valk-trace layout BINARY`", path,
			 strerror(errno));
	return f;
}

int vt_layout_read_json(const char *path, struct vt_layout *out, char *err,
			size_t errlen)
{
	FILE *f = vt_layout_open(path, err, errlen);
	int r;

	memset(out, 0, sizeof(*out));
	if (!f)
		return -1;
	r = vt_layout_parse_json(f, path, out, err, errlen);
	fclose(f);
	return r;
}

int vt_layout_valid(const struct vt_layout *l, char *err, size_t errlen)
{
	size_t id = strnlen(l->build_id, sizeof(l->build_id));

	if (id == sizeof(l->build_id) ||
	    strspn(l->build_id, "0123456789abcdef") != id ||
	    strnlen(l->object, sizeof(l->object)) == sizeof(l->object) ||
	    (l->release_ptr_calls_release & ~1)) {
		snprintf(err, errlen, "the layout's build-id, object or "
			 "release_ptr_calls_release is malformed: regenerate "
			 "the file with `valk-trace layout`");
		return -1;
	}
	return layout_check(l, err, errlen);
}

int vt_layout_parse_json(FILE *f, const char *path, struct vt_layout *out,
			 char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	const json_t *syms;
	size_t i;
	int r = -1;

	memset(out, 0, sizeof(*out));
	root = json_loadf(f, 0, &jerr);
	if (!root && jerr.line > 0) {
		snprintf(err, errlen, "%s:%d: not a layout file: %s", path,
			 jerr.line, printable(jerr.text));
		return -1;
	}
	if (!root) {
		snprintf(err, errlen, "%s: not a layout file: %s", path,
			 printable(jerr.text));
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen,
			 "%s: not a layout file (expected a JSON object as "
			 "written by `valk-trace layout`)", path);
		goto out;
	}
	syms = json_object_get(root, "symbols");
	if (read_header(root, out, path, err, errlen) ||
	    read_specs(root, "fields", vt_layout_fields, out->off, VT_L_COUNT,
		       VT_L_REQUIRED, path, err, errlen) ||
	    read_specs(root, "counts", vt_layout_counts, out->count, VT_LC_COUNT,
		       VT_LC_REQUIRED, path, err, errlen))
		goto out;
	for (i = 0; i < VT_LS_COUNT; i++)
		if (read_u64(syms, "symbols", vt_layout_symbols[i],
			     i >= VT_LS_REQUIRED, &out->sym[i], path, err,
			     errlen))
			goto out;
	r = vt_layout_valid(out, err, errlen);
out:
	json_decref(root);
	return r;
}

int vt_layout_check_build_id(const struct vt_layout *l, const char *build_id,
			     char *err, size_t errlen)
{
	if (!strcmp(l->build_id, build_id))
		return 0;
	snprintf(err, errlen,
		 "layout of %s is for build-id %s but the target's runtime "
		 "has build-id %s: make the layout from an unstripped copy "
		 "of the running build", l->object,
		 *l->build_id ? l->build_id : "(none)",
		 *build_id ? build_id : "(none)");
	return -1;
}

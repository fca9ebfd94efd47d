/* vt_layout against the stand-in runtime, with gdb as the independent DWARF
 * reader: every offset, size, array length and symbol must match what gdb
 * computes from the same object. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "target/vt_layout.h"
#include "vt_test.h"

static char tmpdir[] = "/tmp/vt-layout-XXXXXX";

/* What gdb says, keyed like the layout: F<i>, C<i>, S<i>. */
struct truth {
	uint64_t off[VT_L_COUNT], count[VT_LC_COUNT], sym[VT_LS_COUNT];
	bool off_ok[VT_L_COUNT], count_ok[VT_LC_COUNT], sym_ok[VT_LS_COUNT];
};

static void add_expr(char *cmd, size_t len, char key, size_t i,
		     const char *expr)
{
	size_t n = strlen(cmd);

	snprintf(cmd + n, len - n, " -ex 'printf \"%c%zu %%lu\\n\", %s'", key,
		 i, expr);
}

/* One gdb run over the object for every field, count and symbol. */
static int gdb_truth(const char *obj, struct truth *t)
{
	static char cmd[65536];
	char expr[512], line[256];
	size_t i;
	FILE *p;

	memset(t, 0, sizeof(*t));
	snprintf(cmd, sizeof(cmd), "gdb -batch -nx");
	for (i = 0; i < VT_L_COUNT; i++) {
		const struct vt_layout_spec *s = &vt_layout_fields[i];

		if (*s->path)
			snprintf(expr, sizeof(expr),
				 "(unsigned long)&((%s *)0)->%s", s->type,
				 s->path);
		else
			snprintf(expr, sizeof(expr), "sizeof(%s)", s->type);
		add_expr(cmd, sizeof(cmd), 'F', i, expr);
	}
	for (i = 0; i < VT_LC_COUNT; i++) {
		const struct vt_layout_spec *c = &vt_layout_counts[i];

		snprintf(expr, sizeof(expr),
			 "sizeof(((%s *)0)->%s) / sizeof(((%s *)0)->%s[0])",
			 c->type, c->path, c->type, c->path);
		add_expr(cmd, sizeof(cmd), 'C', i, expr);
	}
	for (i = 0; i < VT_LS_COUNT; i++) {
		snprintf(expr, sizeof(expr), "(unsigned long)&%s", vt_layout_symbols[i]);
		add_expr(cmd, sizeof(cmd), 'S', i, expr);
	}
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
		 " '%s' 2>/dev/null", obj);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long v;
		size_t idx;
		char key;

		if (sscanf(line, "%c%zu %llu", &key, &idx, &v) != 3)
			continue;
		if (key == 'F' && idx < VT_L_COUNT)
			t->off[idx] = v, t->off_ok[idx] = true;
		else if (key == 'C' && idx < VT_LC_COUNT)
			t->count[idx] = v, t->count_ok[idx] = true;
		else if (key == 'S' && idx < VT_LS_COUNT)
			t->sym[idx] = v, t->sym_ok[idx] = true;
	}
	return pclose(p) == 0 ? 0 : -1;
}

static void compare_with_gdb(const char *obj, const struct vt_layout *l)
{
	struct truth t;
	char name[128];
	size_t i;

	CHECK(gdb_truth(obj, &t) == 0);
	for (i = 0; i < VT_L_COUNT; i++) {
		vt_layout_field_name(i, name, sizeof(name));
		if (!t.off_ok[i] || t.off[i] != l->off[i]) {
			fprintf(stderr, "%s: %s = %llu, gdb says %s%llu\n", obj,
				name, (unsigned long long)l->off[i],
				t.off_ok[i] ? "" : "nothing ",
				(unsigned long long)t.off[i]);
		}
		CHECK(t.off_ok[i] && t.off[i] == l->off[i]);
	}
	for (i = 0; i < VT_LC_COUNT; i++) {
		CHECK(t.count_ok[i]);
		CHECK_EQ_U64(l->count[i], t.count[i]);
	}
	for (i = 0; i < VT_LS_COUNT; i++) {
		CHECK(t.sym_ok[i]);
		CHECK_EQ_U64(l->sym[i], t.sym[i]);
	}
}

static void build_id_of(const char *obj, char out[128])
{
	char cmd[4200], line[512];
	FILE *p;

	*out = '\0';
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null", obj);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		if (sscanf(line, " Build ID: %127s", out) == 1)
			break;
	if (p)
		pclose(p);
}

static void test_json_roundtrip(const struct vt_layout *l)
{
	char path[128], err[512];
	struct vt_layout back;
	FILE *f;

	snprintf(path, sizeof(path), "%s/layout.json", tmpdir);
	f = fopen(path, "w");
	CHECK(f && vt_layout_write_json(l, f) == 0);
	if (f)
		fclose(f);
	CHECK(vt_layout_read_json(path, &back, err, sizeof(err)) == 0);
	CHECK_STR(back.object, l->object);
	CHECK_STR(back.build_id, l->build_id);
	CHECK_EQ_U64(back.release_ptr_calls_release,
		     l->release_ptr_calls_release);
	CHECK(!memcmp(back.off, l->off, sizeof(l->off)));
	CHECK(!memcmp(back.count, l->count, sizeof(l->count)));
	CHECK(!memcmp(back.sym, l->sym, sizeof(l->sym)));
}

/* A field of layout.json, as written. */
static json_int_t layout_field(const char *key)
{
	char path[128];
	json_t *root;
	json_int_t v;

	snprintf(path, sizeof(path), "%s/layout.json", tmpdir);
	root = json_load_file(path, 0, NULL);
	v = json_integer_value(json_object_get(json_object_get(root, "fields"),
					       key));
	json_decref(root);
	CHECK(v > 2);
	return v;
}

/* Rewrites layout.json with one member of `section` removed or replaced,
 * and expects a one-line error naming `expect`. */
static void json_broken(const char *section, const char *key, json_t *value,
			const char *expect)
{
	char path[128], bad[128], err[512];
	struct vt_layout l;
	json_t *root, *obj;

	snprintf(path, sizeof(path), "%s/layout.json", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.json", tmpdir);
	root = json_load_file(path, 0, NULL);
	obj = section ? json_object_get(root, section) : root;
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	CHECK(json_dump_file(root, bad, 0) == 0);
	json_decref(root);
	err[0] = '\0';
	CHECK(vt_layout_read_json(bad, &l, err, sizeof(err)) == -1);
	CHECK(strstr(err, expect) != NULL);
	CHECK(!strchr(err, '\n'));
	fprintf(stderr, "expected error: %s\n", err);
}

/* The runtime's figures (optional fields) are read by their whole width,
 * arrays by the layout's own counts: a member that starts inside its
 * struct but runs past it is refused like a required one. */
static void figure_past(const struct vt_layout *l, const char *key,
			enum vt_layout_id id, enum vt_layout_id size,
			uint64_t width)
{
	char want[160];

	snprintf(want, sizeof(want), "%s at %llu (+%llu bytes) ends past the "
		 "struct's size %llu", key,
		 (unsigned long long)(l->off[size] - width + 1),
		 (unsigned long long)width, (unsigned long long)l->off[size]);
	CHECK(l->off[id] + width <= l->off[size]);	/* as resolved: fits */
	json_broken("fields", key,
		    json_integer((json_int_t)(l->off[size] - width + 1)), want);
}

static void test_figure_widths(const struct vt_layout *l)
{
	uint64_t nb = l->count[VT_LC_N_HIST_BOUNDS];
	uint64_t labels = l->off[VT_L_LABELSET_LABELS] +
			  l->count[VT_LC_N_LABELS] * l->off[VT_L_LABEL_SIZEOF];
	uint64_t count = l->off[VT_L_LABELSET_COUNT] + 1;

	figure_past(l, "valk_counter_v2_t.value", VT_L_COUNTER_VALUE,
		    VT_L_COUNTER_SIZEOF, 8);
	figure_past(l, "valk_counter_v2_t.labels", VT_L_COUNTER_LABELS,
		    VT_L_COUNTER_SIZEOF, labels > count ? labels : count);
	figure_past(l, "valk_histogram_v2_t.buckets", VT_L_HIST_BUCKETS,
		    VT_L_HIST_SIZEOF, 8 * (nb + 1));
	figure_past(l, "valk_histogram_v2_t.bucket_bounds", VT_L_HIST_BOUNDS,
		    VT_L_HIST_SIZEOF, 8 * nb);
	figure_past(l, "valk_eval_metrics_t.stack_depth_max",
		    VT_L_EVAL_STACK_MAX, VT_L_EVAL_SIZEOF, 4);
	figure_past(l, "valk_gc_heap_t.runtime_metrics.pause_16ms_plus",
		    VT_L_GC_PAUSE_16, VT_L_GCHEAP_SIZEOF, 8);
	figure_past(l, "valk_metrics_registry_t.counters", VT_L_REG_COUNTERS,
		    VT_L_REG_SIZEOF, l->count[VT_LC_N_COUNTERS] *
					     l->off[VT_L_COUNTER_SIZEOF]);
	figure_past(l, "valk_metrics_registry_t.counter_next_free",
		    VT_L_REG_COUNTER_NEXT, VT_L_REG_SIZEOF,
		    4 * l->count[VT_LC_N_COUNTERS]);
	figure_past(l, "valk_aio_metrics_state_t.system_stats_v2",
		    VT_L_MSTATE_STATS, VT_L_MSTATE_SIZEOF, 8);
	figure_past(l, "valk_aio_metrics_v2_t.connections_failed",
		    VT_L_AIOM_CONN_FAILED, VT_L_AIOM_SIZEOF, 8);
	figure_past(l, "valk_aio_system_stats_v2_t.queue_capacity",
		    VT_L_STATS_QUEUE_CAP, VT_L_STATS_SIZEOF, 8);
}

static void test_json_errors(const struct vt_layout *good)
{
	char bad[128], err[512];
	struct vt_layout l;
	FILE *f;

	json_broken("fields", "valk_slab_t.numFree", NULL,
		    "valk_slab_t.numFree");
	json_broken("counts", "valk_system_t.threads", json_string("64"),
		    "valk_system_t.threads");
	json_broken("symbols", "valk_sys", json_integer(-1), "valk_sys");
	json_broken(NULL, "build_id", json_string("XYZ"), "build_id");
	json_broken(NULL, "release_ptr_calls_release", json_integer(1),
		    "release_ptr_calls_release");
	json_broken(NULL, "fields", NULL, "fields");
	/* values that would index the tracer's own buffers out of bounds */
	json_broken("fields", "valk_slab_t.numItems", json_integer(100000),
		    "valk_slab_t.numItems at 100000");
	json_broken("fields", "valk_slab_t.usage_bitmap",
		    json_integer(1LL << 40), "valk_slab_t.usage_bitmap");
	json_broken("fields", "valk_slab_t.bitmap_version", json_integer(90),
		    "valk_slab_t.bitmap_version at 90 (+8 bytes) ends past");
	/* two bytes before the handle's end: its 4-byte kind ends past it */
	json_broken("fields", "valk_aio_handle_t.kind",
		    json_integer(layout_field("sizeof(valk_aio_handle_t)") - 2),
		    "ends past the struct's size");
	json_broken("fields", "sizeof(valk_subsystem_t)", json_integer(0),
		    "sizeof(valk_subsystem_t)");
	json_broken("fields", "valk_slab_t.heap", json_integer(4096),
		    "valk_slab_t.heap");
	json_broken("fields", "valk_slab_t.heap", json_integer(80),
		    "ends past the items at 80");
	json_broken("counts", "valk_owner_entry_t.name", json_integer(0),
		    "valk_owner_entry_t.name has 0 elements");
	json_broken("counts", "valk_system_t.subsystems",
		    json_integer(1LL << 31), "valk_system_t.subsystems");
	test_figure_widths(good);

	snprintf(bad, sizeof(bad), "%s/trunc.json", tmpdir);
	f = fopen(bad, "w");
	if (f) {
		fputs("{\"object\": \"x\",\n \"fields\": {", f);
		fclose(f);
	}
	CHECK(vt_layout_read_json(bad, &l, err, sizeof(err)) == -1);
	CHECK(strstr(err, "trunc.json:") != NULL);
	f = fopen(bad, "w");	/* jansson quotes the raw newline it stopped at */
	if (f) {
		fputs("{\"x\": \"\\\n\"}", f);
		fclose(f);
	}
	CHECK(vt_layout_read_json(bad, &l, err, sizeof(err)) == -1);
	CHECK(strstr(err, "invalid escape") != NULL);
	CHECK(strchr(err, '\n') == NULL);	/* an error is one line */
	CHECK(vt_layout_read_json("/nonexistent/layout.json", &l, err,
				  sizeof(err)) == -1);
}

static void test_build_id_check(const struct vt_layout *l)
{
	char err[512];

	CHECK(vt_layout_check_build_id(l, l->build_id, err, sizeof(err)) == 0);
	CHECK(vt_layout_check_build_id(l, "00112233", err, sizeof(err)) == -1);
	CHECK(strstr(err, l->build_id) && strstr(err, "00112233"));
}

static int run(const char *cmd)
{
	int r = system(cmd);

	if (r)
		fprintf(stderr, "command failed (%d): %s\n", r, cmd);
	return r;
}

static void expect_error(const char *obj, const char *a, const char *b)
{
	struct vt_layout l;
	char err[512] = "";

	CHECK(vt_layout_from_elf(obj, &l, err, sizeof(err)) == -1);
	CHECK(strstr(err, a) != NULL);
	CHECK(!b || strstr(err, b) != NULL);
	CHECK(!strchr(err, '\n'));
	fprintf(stderr, "expected error: %s\n", err);
}

/* Objects that are not a usable runtime: stripped, corrupt, truncated,
 * or a different version missing a type or a member. */
static void test_bad_objects(const char *lib)
{
	char cmd[8400], path[256];

	snprintf(path, sizeof(path), "%s/stripped.so", tmpdir);
	snprintf(cmd, sizeof(cmd), "objcopy --strip-debug '%s' '%s'", lib,
		 path);
	CHECK(run(cmd) == 0);
	expect_error(path, "no DWARF", "--layout");

	snprintf(path, sizeof(path), "%s/garbage.so", tmpdir);
	snprintf(cmd, sizeof(cmd), "echo 'not an object' > '%s'", path);
	CHECK(run(cmd) == 0);
	expect_error(path, "not an ELF object", NULL);

	snprintf(path, sizeof(path), "%s/truncated.so", tmpdir);
	snprintf(cmd, sizeof(cmd), "head -c 3000 '%s' > '%s'", lib, path);
	CHECK(run(cmd) == 0);
	expect_error(path, "truncated.so is truncated", NULL);

	expect_error("/nonexistent/libvalkyria.so", "cannot open", NULL);

	/* An older runtime: valk_slab_t without the member we need. */
	snprintf(path, sizeof(path), "%s/old.so", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "printf 'typedef struct { int type; } valk_slab_t;\\n"
		 "valk_slab_t slab; void *valk_sys; void valk_aio_stop(void) {}\\n'"
		 " | cc -g -shared -fPIC -x c - -o '%s'", path);
	CHECK(run(cmd) == 0);
	expect_error(path, "valk_slab_t.itemSize not found in DWARF",
		     "supported version");

	snprintf(cmd, sizeof(cmd),
		 "printf 'void *valk_sys; void valk_aio_stop(void) {}\\n'"
		 " | cc -g -shared -fPIC -x c - -o '%s'", path);
	CHECK(run(cmd) == 0);
	expect_error(path, "type valk_slab_t not found", NULL);

	/* The typedef only where the struct is incomplete, the struct only
	 * where the typedef is unused: valk_slab_t resolves in full, so the
	 * first thing missing is the next type. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && printf 'typedef struct slab valk_slab_t;\\n"
		 "valk_slab_t *p; void *valk_sys; void valk_aio_stop(void) {}\\n'"
		 " > a.c && printf 'typedef unsigned long sz; struct slab { int t;"
		 " sz itemSize, numItems, numFree, peakUsed, overflowCount, head,"
		 " mmap_size; _Atomic sz total_acquires, total_releases;"
		 " sz bitmap_version; char *usage_bitmap; char heap[]; } s;\\n'"
		 " > b.c && cc -g -shared -fPIC a.c b.c -o split.so", tmpdir);
	CHECK(run(cmd) == 0);
	snprintf(path, sizeof(path), "%s/split.so", tmpdir);
	expect_error(path, "type valk_slab_item_t not found", NULL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Resolves obj, checks it against gdb, readelf and the expected release
 * probe choice. */
static void test_object(const char *obj, int calls_release,
			struct vt_layout *l)
{
	char err[512] = "", id[128];
	double t0 = now_ms();

	CHECK(vt_layout_from_elf(obj, l, err, sizeof(err)) == 0);
	if (*err) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	printf("%s: resolved in %.1f ms\n", obj, now_ms() - t0);
	CHECK_STR(l->object, obj);
	build_id_of(obj, id);
	CHECK(*id != '\0');
	CHECK_STR(l->build_id, id);
	CHECK_EQ_U64(l->release_ptr_calls_release, calls_release);
	compare_with_gdb(obj, l);
}

int main(void)
{
	const char *build = getenv("VT_BUILD") ? getenv("VT_BUILD") : "build";
	char lib[4096], stat_exe[4096], cmd[8300];
	struct vt_layout l, ls;

	snprintf(lib, sizeof(lib), "%s/fixture/libvalkyria.so", build);
	snprintf(stat_exe, sizeof(stat_exe), "%s/fixture/valk-sim-static",
		 build);
	if (access(lib, R_OK) || access(stat_exe, R_OK)) {
		printf("fixture not built (%s): run `make fixture`\n", lib);
		return 77;
	}
	if (system("gdb --version >/dev/null 2>&1")) {
		printf("gdb not installed: needed as the reference DWARF "
		       "reader\n");
		return 77;
	}
	if (!mkdtemp(tmpdir))
		return 1;
	test_object(lib, 1, &l);
	test_object(stat_exe, 0, &ls);
	test_json_roundtrip(&l);
	test_json_errors(&l);
	test_build_id_check(&l);
	test_bad_objects(lib);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	run(cmd);
	return vt_test_done("test_layout");
}

/* valk-trace probes <pid>: where each probe goes in the target, what the
 * kernel does with the instruction there, and what a hit is expected to
 * cost — without attaching anything. */
#include "cli/vt_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/vt_sites.h"
#include "target/vt_layout.h"
#include "target/vt_target.h"
#include "wire/vt_wire.h"

struct args {
	int pid;
	bool json;
};

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "print the sites as JSON (tracer.probes)", 0 },
	{ 0 }
};

static error_t parse(int key, char *arg, struct argp_state *st)
{
	struct args *a = st->input;

	switch (key) {
	case 'j':
		a->json = true;
		break;
	case ARGP_KEY_ARG:
	case ARGP_KEY_END:
		return vt_cmd_pid(st, key, arg, &a->pid);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void print_table(const struct vt_wire_site *w)
{
	size_t n[3] = { 0 };

	printf("%-56s %-7s %-24s %-9s %s\n", "PROBE", "OFFSET", "INSTRUCTION",
	       "CLASS", "US/CALL");
	for (int i = 0; i < VT_P_COUNT; i++) {
		if (!w[i].attached)
			continue;
		printf("%-56s +0x%-5llx %-24.24s %-9s %.2f\n",
		       vt_wire_probe_name(i), (unsigned long long)w[i].offset,
		       w[i].insn, w[i].cls, w[i].cost_us);
		n[!strcmp(w[i].cls, "nop5") ? 0
		  : !strcmp(w[i].cls, "emulated") ? 1 : 2]++;
	}
	printf("probes: %zu on a 5-byte nop, %zu on emulated, %zu on stepped "
	       "instructions\n", n[0], n[1],
	       n[2]);
}

int vt_cmd_probes(int argc, char **argv)
{
	struct argp argp = { options, parse, "<pid>",
			     "Print where each probe would go in <pid>: "
			     "function, offset, instruction, how the kernel "
			     "handles it (nop5, emulated, stepped) and the "
			     "expected cost per call. Attaches nothing.",
			     NULL, NULL, NULL };
	struct args a = { 0, false };
	struct vt_target t;
	struct vt_layout l;
	struct vt_sites s;
	struct vt_wire_site w[VT_P_COUNT];
	char err[512];

	argv[0] = "valk-trace probes";
	if (vt_cmd_parse(&argp, argc, argv, &a))
		return VT_EXIT_USAGE;
	if (vt_target_open(a.pid, &t, err, sizeof(err)) ||
	    vt_layout_from_elf(t.open_path, &l, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	struct vt_probe_opts po = {
		.pid = a.pid,
		.obj_path = t.open_path,
		.uv_path = t.uv_path,
		.off = vt_sites_offsets(&l),
		.release_inlined = !l.release_ptr_calls_release,
	};
	if (vt_sites_plan(&po, &s, err, sizeof(err))) {
		fprintf(stderr, "valk-trace: %s\n", err);
		return VT_EXIT_USAGE;
	}
	vt_sites_wire(&s, w);
	if (!a.json) {
		print_table(w);
		return VT_EXIT_OK;
	}
	char *doc = vt_wire_probes(w, NULL);
	int rc = doc && puts(doc) != EOF ? VT_EXIT_OK : VT_EXIT_FAIL;

	free(doc);
	return rc;
}

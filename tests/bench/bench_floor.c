/* bench_floor: an empty BPF program (bench_floor.bpf.c) on the sites
 * valk-trace would probe in a process, the trap floor of those sites.
 *
 *   bench_floor PID < SITES
 *
 * SITES has one line per probe, "uprobe|uretprobe FILE FILE_OFFSET" (from
 * `valk-trace probes PID --json`). Prints "attached N" once every probe
 * is on, then waits for SIGINT or SIGTERM and detaches. Needs root. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include "bench_floor.skel.h"

#define MAX_SITES 64

static int die(const char *what)
{
	fprintf(stderr, "bench_floor: %s\n", what);
	return 1;
}

static int attach_sites(struct bench_floor *k, int pid,
			struct bpf_link **links, int *n)
{
	char kind[16], file[4096];
	unsigned long off;

	while (*n < MAX_SITES &&
	       scanf("%15s %4095s %lu", kind, file, &off) == 3) {
		LIBBPF_OPTS(bpf_uprobe_opts, o,
			    .retprobe = !strcmp(kind, "uretprobe"));

		links[*n] = bpf_program__attach_uprobe_opts(
			k->progs.floor_empty, pid, file, off, &o);
		if (!links[*n]) {
			fprintf(stderr, "bench_floor: cannot attach %s %s+%lu\n",
				kind, file, off);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_SITES];
	struct bench_floor *k;
	sigset_t set;
	int n = 0, sig, rc;

	if (argc != 2)
		return die("usage: bench_floor PID < SITES");
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (!(k = bench_floor__open_and_load()))
		return die("cannot load the program (root?)");
	rc = attach_sites(k, atoi(argv[1]), links, &n);
	if (!rc && n == 0)
		rc = die("no site on stdin");
	if (!rc) {
		printf("attached %d\n", n);
		fflush(stdout);
		sigwait(&set, &sig);
	}
	while (n > 0)
		bpf_link__destroy(links[--n]);
	bench_floor__destroy(k);
	return rc ? 1 : 0;
}

/* bench_ring: feeds a running valk-trace's own event ring from a BPF
 * program (bench_ring.bpf.c) at a paced rate: the whole pipeline a probe
 * hit goes through from the ring on (the collector's drain, its event
 * handler, the model) with a producer that costs the target nothing.
 *
 *   bench_ring TRACER_PID TARGET_PID RATE SECONDS
 *
 * TARGET_PID's handle slab is found the way the tracer finds it (its
 * layout from the DWARF, its AIO system from memory), and the events
 * acquire and release the slots of its upper half, which valk-sim leaves
 * free. The tracer's events ring is found among its file descriptors
 * (a BPF ring buffer map named "events") and opened by id. Every
 * millisecond the program makes RATE/1000 events; the line printed is
 *   ring offered N lost L seconds S rate R
 * (L: reservations that found the ring full). Needs root. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "model/vt_state.h"
#include "target/vt_layout.h"
#include "target/vt_mem.h"
#include "target/vt_snap.h"
#include "target/vt_target.h"
#include "bench_ring.skel.h"

struct gen_args {
	__u64 slab, first, slots, seq;
	__u32 count, lost;
};

static int die(const char *what)
{
	fprintf(stderr, "bench_ring: %s\n", what);
	return 1;
}

/* The fd of pid's ring buffer map named "events", opened by its id. */
static int find_ring(int pid)
{
	char path[64], line[128];
	struct dirent *e;
	DIR *d;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	if (!(d = opendir(path)))
		return -1;
	while (found < 0 && (e = readdir(d))) {
		unsigned type = 0, id = 0;
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		FILE *f;
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%.20s", pid,
			 e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "map_type: %u", &type);
			sscanf(line, "map_id: %u", &id);
		}
		fclose(f);
		if (type != BPF_MAP_TYPE_RINGBUF || !id ||
		    (fd = bpf_map_get_fd_by_id(id)) < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strcmp(info.name, "events"))
			found = fd;
		else
			close(fd);
	}
	closedir(d);
	return found;
}

/* The target's first AIO system's handle slab: address and slot count. */
static int find_handles(int pid, uint64_t *addr, uint64_t *total)
{
	static struct vt_target t;
	static struct vt_layout l;
	struct vt_slab_image img;
	uint64_t sys, slabs[VT_SLAB_KINDS];
	struct vt_snap *s;
	struct vt_mem mem;
	char err[512];
	int rc = -1;

	if (vt_target_open(pid, &t, err, sizeof(err)) ||
	    vt_layout_from_elf(t.open_path, &l, err, sizeof(err))) {
		fprintf(stderr, "bench_ring: %s\n", err);
		return -1;
	}
	if (vt_mem_open(&mem, pid)) {
		fprintf(stderr, "bench_ring: pid %d: memory: %s\n", pid,
			strerror(errno));
		return -1;
	}
	s = vt_snap_new(&mem, &l, t.bias,
			vt_target_addr(&t, "valk_sys", l.sym[VT_LS_VALK_SYS]));
	if (s && vt_snap_systems(s, &sys, 1) == 1 &&
	    !vt_snap_system_slabs(s, sys, slabs) &&
	    !vt_snap_slab_header(s, slabs[VT_SLAB_HANDLES], 0, VT_SLAB_HANDLES,
				 &img)) {
		*addr = slabs[VT_SLAB_HANDLES];
		*total = img.total;
		rc = 0;
	}
	vt_snap_free(s);
	vt_mem_close(&mem);
	return rc;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bench_ring *skel;
	struct gen_args a = { 0 };
	struct timespec next;
	uint64_t addr = 0, total = 0, lost = 0;
	unsigned long rate, seconds;
	double t0, t1;
	int ring, prog;

	if (argc != 5 || !(rate = strtoul(argv[3], NULL, 10)) ||
	    !(seconds = strtoul(argv[4], NULL, 10)) || rate > 100000000)
		return die("usage: bench_ring TRACER_PID TARGET_PID RATE SECONDS");
	/* a tracer just attached, a target just started: a second to settle */
	for (int i = 0; i < 20 && (ring = find_ring(atoi(argv[1]))) < 0; i++)
		usleep(100000);
	if (ring < 0)
		return die("no ring buffer map named events in the tracer");
	for (int i = 0; i < 20 && (find_handles(atoi(argv[2]), &addr, &total) ||
				   total < 4); i++)
		usleep(100000);
	if (total < 4)
		return die("cannot find the target's handle slab");
	if (!(skel = bench_ring__open()) ||
	    bpf_map__reuse_fd(skel->maps.events, ring) ||
	    bench_ring__load(skel))
		return die("cannot load the producer program");
	prog = bpf_program__fd(skel->progs.gen);
	a.slab = addr;
	a.first = total / 2;
	a.slots = total - total / 2;
	clock_gettime(CLOCK_MONOTONIC, &next);
	t0 = now_s();
	for (unsigned long ms = 0; ms < seconds * 1000; ms++) {
		/* RATE/1000 events this millisecond, an even count */
		uint64_t due = (rate * (ms + 1) / 1000) & ~1ULL;
		LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a,
			    .ctx_size_in = sizeof(a));

		a.count = (__u32)(due - a.seq);
		a.lost = 0;
		if (a.count && bpf_prog_test_run_opts(prog, &o))
			return die(strerror(errno));
		a.seq = due;
		lost += a.lost;
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	t1 = now_s();
	printf("ring offered %llu lost %llu seconds %.3f rate %.0f\n",
	       (unsigned long long)a.seq, (unsigned long long)lost, t1 - t0,
	       (double)a.seq / (t1 - t0));
	bench_ring__destroy(skel);
	return 0;
}

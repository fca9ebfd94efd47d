/* valk-trace info FILE: what a recording holds — its header, duration,
 * ticks, events, keyframes, stacks, figures and gaps, and whether it is
 * complete. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/vt_cmd.h"
#include "cli/vt_file.h"
#include "cli/vt_recfile.h"
#include "wire/vt_rec.h"

static void print_header(const char *text)
{
	json_t *h = text ? json_loads(text, 0, NULL) : NULL;
	json_t *argv = json_object_get(h, "argv"), *w;
	size_t i;

	if (!json_is_object(h)) {
		puts("header:    missing or unreadable");
		return;
	}
	printf("target:    pid %lld, %s, build-id %s\n",
	       json_integer_value(json_object_get(h, "pid")),
	       json_string_value(json_object_get(h, "object")) ?: "?",
	       json_string_value(json_object_get(h, "build_id")) ?: "?");
	printf("command:  ");
	json_array_foreach(argv, i, w)
		printf(" %s", json_string_value(w) ?: "?");
	printf("\nmode:      %s, %lld ms ticks, keyframes every %lld ms, "
	       "leak age %lld ms\n",
	       json_string_value(json_object_get(h, "mode")) ?: "?",
	       json_integer_value(json_object_get(h, "interval_ms")),
	       json_integer_value(json_object_get(h, "keyframe_ms")),
	       json_integer_value(json_object_get(h, "leak_age_ms")));
	printf("recorded:  by valk-trace %s, started at %lld ms (Unix time)\n",
	       json_string_value(json_object_get(h, "valk_trace")) ?: "?",
	       json_integer_value(json_object_get(h, "start_wall_ms")));
	json_decref(h);
}

static void print_index(const struct vt_rec_index *ix, size_t len)
{
	uint64_t t0 = ix->nticks ? ix->ticks[0].now_ms : 0;
	uint64_t t1 = ix->nticks ? ix->ticks[ix->nticks - 1].now_ms : 0;

	printf("duration:  %.1f s, %zu ticks\n", (t1 - t0) / 1000.0,
	       ix->nticks);
	printf("events:    %llu", (unsigned long long)ix->events);
	if (ix->events)
		printf(" (%.1f bytes each)",
		       (double)ix->event_bytes / (double)ix->events);
	printf("\nkeyframes: %llu\n", (unsigned long long)ix->keyframes);
	if (ix->version >= 2)	/* version 1 kept stack ids only */
		printf("stacks:    %zu (acquire call stacks, symbolized)\n",
		       ix->nstacks);
	if (ix->version >= 3)	/* before, the runtime's were not kept */
		printf("figures:   %llu records (the runtime's own, when they "
		       "changed)\n", (unsigned long long)ix->figures);
	printf("gaps:      %zu\n", ix->ngaps);
	for (size_t i = 0; i < ix->ngaps; i++)
		printf("  at +%.1f s for %.1f s: %llu ticks, %llu bytes "
		       "dropped (the disk fell behind)\n",
		       (ix->gaps[i].from_ms - t0) / 1000.0,
		       (ix->gaps[i].to_ms - ix->gaps[i].from_ms) / 1000.0,
		       (unsigned long long)ix->gaps[i].records,
		       (unsigned long long)ix->gaps[i].bytes);
	if (*ix->err)
		printf("status:    cut short: %s\n", ix->err);
	else if (!ix->ended)
		printf("status:    cut short after its last record at byte %zu "
		       "(no end record: the tracer stopped without closing "
		       "it)\n", len);
	else
		puts("status:    complete");
}

int vt_cmd_info(int argc, char **argv)
{
	const uint8_t *p;
	const char *file;
	size_t len;
	struct vt_rec_index ix;
	struct vt_files files;
	char err[512];
	int fd;

	argv[0] = "valk-trace info";
	if (vt_cmd_one_arg(argc, argv, "FILE", "FILE: a recording",
			   "Print what a recording holds: header, duration, "
			   "events, keyframes, gaps.", &file))
		return VT_EXIT_USAGE;
	/* opened while root, root given up, then read */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && vt_cmd_drop(false, 0, &files, NULL, 0)) {
		close(fd);
		return VT_EXIT_USAGE;
	}
	if (vt_recfile_map(file, fd, &p, &len, err, sizeof(err)))
		goto fail;
	if (vt_rec_index_build(p, len, &ix, err, sizeof(err))) {
		vt_recfile_unmap(p, len);
		goto fail;
	}
	printf("recording: %s, %zu bytes, format %u\n", file, len,
	       (unsigned)(p[8] | p[9] << 8));
	print_header(ix.header);
	print_index(&ix, len);
	vt_rec_index_free(&ix);
	vt_recfile_unmap(p, len);
	return VT_EXIT_OK;
fail:
	fprintf(stderr, "valk-trace: %s: %s\n", file, err);
	return VT_EXIT_USAGE;
}

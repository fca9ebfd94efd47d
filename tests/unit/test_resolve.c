/* Finding the runtime a program will load, before it runs: the static
 * build is its own runtime, the shared launcher's libvalkyria.so comes
 * through its RUNPATH $ORIGIN, a copy of the launcher away from the library
 * finds it only through LD_LIBRARY_PATH, libuv through the default
 * directories, and a program without a runtime has none. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/vt_resolve.h"
#include "vt_test.h"

#define LONG (PATH_MAX + 64)

static char fixture[PATH_MAX];

static void path_of(char *out, const char *name)
{
	snprintf(out, LONG, "%s/%s", fixture, name);
}

/* Two paths name the same file. */
static int same(const char *a, const char *b)
{
	char x[PATH_MAX], y[PATH_MAX];

	return realpath(a, x) && realpath(b, y) && !strcmp(x, y);
}

int main(void)
{
	const char *build = getenv("VT_BUILD") ? getenv("VT_BUILD") : "build";
	char dir[LONG], sim[LONG], lib[LONG], stat_exe[LONG];
	char copy[LONG], cmd[3 * LONG], tmp[] = "/tmp/vt-resolve.XXXXXX";
	struct vt_resolved r;

	snprintf(dir, sizeof(dir), "%s/fixture", build);
	if (!realpath(dir, fixture)) {
		printf("fixture not built (%s): run `make fixture`\n", dir);
		return 77;
	}
	path_of(sim, "valk-sim");
	path_of(lib, "libvalkyria.so");
	path_of(stat_exe, "valk-sim-static");

	CHECK(vt_resolve(stat_exe, NULL, &r) == 0);
	CHECK(same(r.runtime, stat_exe));
	CHECK(same(r.uv, stat_exe));		/* libuv linked in */

	CHECK(vt_resolve(sim, NULL, &r) == 0);
	CHECK(same(r.runtime, lib));		/* RUNPATH $ORIGIN */
	CHECK(strstr(r.uv, "libuv.so") != NULL);	/* a default directory */

	/* away from its library: only LD_LIBRARY_PATH finds it */
	CHECK(mkdtemp(tmp) != NULL);
	snprintf(copy, sizeof(copy), "%s/valk-sim", tmp);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", sim, copy);
	CHECK(system(cmd) == 0);
	CHECK(vt_resolve(copy, NULL, &r) == 0);
	CHECK_STR(r.runtime, "");
	CHECK(vt_resolve(copy, "/nonexistent:;", &r) == 0);
	CHECK_STR(r.runtime, "");
	snprintf(dir, sizeof(dir), "/nonexistent:%s", fixture);
	CHECK(vt_resolve(copy, dir, &r) == 0);
	CHECK(same(r.runtime, lib));

	CHECK(vt_resolve("/bin/sh", NULL, &r) == 0);	/* no runtime */
	CHECK_STR(r.runtime, "");
	CHECK(vt_resolve("/etc/passwd", NULL, &r) == -1);	/* not ELF */
	CHECK(vt_resolve("/nonexistent", NULL, &r) == -1);

	unlink(copy);
	rmdir(tmp);
	return vt_test_done("test_resolve");
}

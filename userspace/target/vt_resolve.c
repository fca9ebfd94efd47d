#include "target/vt_resolve.h"

#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gelf.h>

#include "target/vt_target.h"

#define MAX_OBJECTS 256		/* a DT_NEEDED closure larger is cut */
#define MAX_NEEDED 64		/* per object */
#define RUNTIME_SYMBOL "valk_slab_aquire"
#define UV_SYMBOL "uv_read_start"

static const char *const default_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib", NULL,
};

struct dyn {
	char needed[MAX_NEEDED][256];
	size_t nneeded;
	char rpath[1024], runpath[1024];
	bool has_runpath;
};

/* DT_NEEDED, DT_RPATH and DT_RUNPATH of an object's .dynamic. */
static int read_dynamic(Elf *e, struct dyn *d)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	memset(d, 0, sizeof(*d));
	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *data;
		GElf_Dyn dy;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize &&
				   gelf_getdyn(data, i, &dy); i++) {
			const char *s = elf_strptr(e, sh.sh_link, dy.d_un.d_val);

			if (!s)
				continue;
			if (dy.d_tag == DT_NEEDED && d->nneeded < MAX_NEEDED)
				snprintf(d->needed[d->nneeded++], 256, "%s", s);
			else if (dy.d_tag == DT_RPATH)
				snprintf(d->rpath, sizeof(d->rpath), "%s", s);
			else if (dy.d_tag == DT_RUNPATH) {
				snprintf(d->runpath, sizeof(d->runpath), "%s", s);
				d->has_runpath = true;
			}
		}
		return 0;
	}
	return -1;		/* static: nothing to load */
}

/* dir/name exists and is a readable file: the candidate path in out.
 * "$ORIGIN" at the start of dir is the loading object's directory. */
static bool try_dir(const char *dir, size_t dlen, const char *origin,
		    const char *name, char *out)
{
	char d[PATH_MAX];

	if (!dlen)
		return false;
	if (dlen >= 7 && !strncmp(dir, "$ORIGIN", 7))
		snprintf(d, sizeof(d), "%s%.*s", origin, (int)(dlen - 7),
			 dir + 7);
	else if (dlen >= 9 && !strncmp(dir, "${ORIGIN}", 9))
		snprintf(d, sizeof(d), "%s%.*s", origin, (int)(dlen - 9),
			 dir + 9);
	else
		snprintf(d, sizeof(d), "%.*s", (int)dlen, dir);
	if (snprintf(out, PATH_MAX, "%s/%s", d, name) >= PATH_MAX)
		return false;
	return access(out, R_OK) == 0;
}

/* A ':'-separated list (LD_LIBRARY_PATH also takes ';'). */
static bool try_list(const char *list, const char *origin, const char *name,
		     char *out)
{
	while (list && *list) {
		size_t n = strcspn(list, ":;");

		if (try_dir(list, n, origin, name, out))
			return true;
		list += n + (list[n] != 0);
	}
	return false;
}

/* Directories named in /etc/ld.so.conf.d/\*.conf, one a line. */
static bool try_conf(const char *name, char *out)
{
	glob_t g;
	bool found = false;

	if (glob("/etc/ld.so.conf.d/*.conf", 0, NULL, &g))
		return false;
	for (size_t i = 0; i < g.gl_pathc && !found; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		char line[PATH_MAX];

		while (f && !found && fgets(line, sizeof(line), f))
			if (line[0] == '/')
				found = try_dir(line, strcspn(line, " \t\r\n#"),
						"", name, out);
		if (f)
			fclose(f);
	}
	globfree(&g);
	return found;
}

static bool search(const struct dyn *d, const char *origin, const char *llp,
		   const char *name, char *out)
{
	if (strchr(name, '/'))
		return snprintf(out, PATH_MAX, "%s", name) < PATH_MAX &&
		       access(out, R_OK) == 0;
	if (!d->has_runpath && try_list(d->rpath, origin, name, out))
		return true;
	if (try_list(llp, origin, name, out) ||
	    try_list(d->runpath, origin, name, out) || try_conf(name, out))
		return true;
	for (size_t i = 0; default_dirs[i]; i++)
		if (try_dir(default_dirs[i], strlen(default_dirs[i]), "", name,
			    out))
			return true;
	return false;
}

static void origin_of(const char *path, char *out)
{
	char *slash;

	if (!realpath(path, out))
		snprintf(out, PATH_MAX, "%s", path);
	slash = strrchr(out, '/');
	if (slash)
		*slash = '\0';
}

int vt_resolve(const char *exe, const char *ld_library_path,
	       struct vt_resolved *out)
{
	char (*queue)[PATH_MAX] = calloc(MAX_OBJECTS, PATH_MAX);
	struct dyn *d = malloc(sizeof(*d));
	size_t n = 1;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!queue || !d) {
		rc = -1;
		goto out;
	}
	snprintf(queue[0], PATH_MAX, "%s", exe);
	/* breadth first, as the loader orders its search scope */
	for (size_t i = 0; i < n && (!*out->runtime || !*out->uv); i++) {
		char origin[PATH_MAX], found[PATH_MAX];
		uint64_t v;
		int fd;
		Elf *e = vt_target_elf_open(queue[i], &fd);

		if (!e) {
			rc = i ? rc : -1;
			continue;
		}
		if (!*out->runtime && !vt_target_elf_symbol(e, RUNTIME_SYMBOL, &v))
			snprintf(out->runtime, PATH_MAX, "%s", queue[i]);
		if (!*out->uv && !vt_target_elf_symbol(e, UV_SYMBOL, &v))
			snprintf(out->uv, PATH_MAX, "%s", queue[i]);
		if (read_dynamic(e, d) == 0) {
			origin_of(queue[i], origin);
			for (size_t k = 0; k < d->nneeded && n < MAX_OBJECTS; k++) {
				bool seen = false;

				if (!search(d, origin, ld_library_path,
					    d->needed[k], found))
					continue;
				for (size_t j = 0; j < n && !seen; j++)
					seen = !strcmp(queue[j], found);
				if (!seen)
					snprintf(queue[n++], PATH_MAX, "%s", found);
			}
		}
		vt_target_elf_close(e, fd);
	}
out:
	free(queue);
	free(d);
	return rc;
}

/* vt_resolve: which object a program will run the valk runtime from,
 * found before it runs a single instruction — the executable itself when
 * it defines valk_slab_aquire (a static build), else the first library of
 * its DT_NEEDED closure that does, searched for the way the dynamic loader
 * will: DT_RPATH (without DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH,
 * $ORIGIN expanded; then /etc/ld.so.conf's directories and the default
 * ones. The object defining uv_read_start is found the same way. */
#ifndef VT_RESOLVE_H
#define VT_RESOLVE_H

#include <limits.h>

struct vt_resolved {
	char runtime[PATH_MAX];	/* "" when no object defines it */
	char uv[PATH_MAX];	/* "" when none defines uv_read_start */
};

/* exe: the program's path (an openable path); ld_library_path: its
 * LD_LIBRARY_PATH, or NULL. Returns 0 (out->runtime may be ""), or -1
 * when exe is not a readable ELF object. */
int vt_resolve(const char *exe, const char *ld_library_path,
	       struct vt_resolved *out);

#endif /* VT_RESOLVE_H */

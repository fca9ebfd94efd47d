/* vt_target: find the valk runtime inside a running process.
 *
 * Reads /proc/<pid>/maps, picks the mapped ELF object that defines
 * valk_slab_aquire (libvalkyria.so, or the executable of a static build) and
 * works out a path this process can open and attach uprobes to, even when the
 * object was deleted or replaced on disk since the target mapped it, or lives
 * in another mount namespace. */
#ifndef VT_TARGET_H
#define VT_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <libelf.h>

#include "target/vt_mem.h"

enum {
	VT_TARGET_ENOPID = -1,	 /* no such process (or it exited) */
	VT_TARGET_EPERM = -2,	 /* not allowed to read its /proc entries */
	VT_TARGET_ENOTVALK = -3, /* no mapped object defines valk_slab_aquire */
	VT_TARGET_EIO = -4,	 /* the object could not be read */
	VT_TARGET_EEXEC = -5,	 /* vt_target_check: it exec'd another image */
};

struct vt_target {
	int pid;
	uint64_t start_time;	 /* /proc/<pid>/stat field 22, clock ticks */
	char object[PATH_MAX];	 /* the object's path as the target sees it */
	char open_path[PATH_MAX]; /* openable here, valid for uprobes */
	uint64_t bias;		 /* runtime address = st_value + bias */
	char build_id[65];	 /* lower-case hex, "" if the object has none */
	bool deleted;		 /* maps says " (deleted)" */
	bool replaced;		 /* the path now names a different file */
	bool is_exe;		 /* the runtime is linked into the executable */
	char uv_path[PATH_MAX];	 /* object defining uv_read_start, or "" */
	char exe_path[PATH_MAX]; /* the executable, openable here, or "" */
	uint64_t exe_bias;
	/* One mapping of the object, to tell later whether it is still there. */
	uint64_t map_start, map_end;
	dev_t dev;
	ino_t ino;
};

/* Fills t for pid. 0, or a VT_TARGET_E* code with a one-line reason. */
int vt_target_open(int pid, struct vt_target *t, char *err, size_t errlen);

/* 0 while the target still runs the same image; VT_TARGET_ENOPID when the
 * process is gone (or its pid was reused), VT_TARGET_EEXEC after an exec.
 * mem: its maps kept open (they read empty after an exec), or NULL. */
int vt_target_check(const struct vt_target *t, const struct vt_mem *mem);

/* Where address addr of process pid lies in the file (dev, ino) mapped
 * there: 0 with *off set, or -1 when no mapping of it holds addr. */
int vt_target_file_offset(int pid, uint64_t addr, dev_t dev, ino_t ino,
			  uint64_t *off);
/* Runtime address of a symbol of the runtime object with that st_value.
 * A global the executable refers to directly was copied into it at load
 * (copy relocation) and lives there instead. */
uint64_t vt_target_addr(const struct vt_target *t, const char *name,
			uint64_t st_value);

/* st_value of a symbol defined in the object (.symtab first, then .dynsym).
 * 0, or -1 when the file cannot be read or does not define it. */
int vt_target_symbol(const char *path, const char *name, uint64_t *st_value);
int vt_target_elf_symbol(Elf *elf, const char *name, uint64_t *st_value);

/* The machine code of a function of the object. */
struct vt_target_func {
	uint8_t *code;		/* a copy the caller frees */
	size_t len;
	uint64_t addr;		/* st_value */
	uint64_t file_off;	/* where the code starts in the file */
};

/* 0, or -1 when the file cannot be read, the name is not a function or
 * is larger than VT_TARGET_MAX_FUNC. */
#define VT_TARGET_MAX_FUNC (1u << 20)
int vt_target_func_code(const char *path, const char *name,
			struct vt_target_func *f);

/* An ELF object opened read-only, or NULL; closed with the fd. */
Elf *vt_target_elf_open(const char *path, int *fd);
void vt_target_elf_close(Elf *e, int fd);

/* NT_GNU_BUILD_ID as lower-case hex into out[65]; "" when absent.
 * 0, or -1 when the file is not a readable ELF object. */
int vt_target_build_id(const char *path, char out[65]);
int vt_target_elf_build_id(Elf *elf, char out[65]);

/* The pid of the valk process named `name` (vt_proc_named) that started
 * last, or 0 when there is none. */
int vt_target_find_named(const char *name);

/* Calls cb for every valk process it can read; others are skipped, and
 * those whose /proc entries it may not read are counted in *denied.
 * Returns the number of processes found. */
int vt_target_scan(void (*cb)(const struct vt_target *, void *), void *ctx,
		   int *denied);

#endif /* VT_TARGET_H */

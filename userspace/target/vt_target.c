/* vt_target: locate the valk runtime in a running process via /proc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "target/vt_proc.h"
#include "target/vt_target.h"

#define RUNTIME_SYMBOL "valk_slab_aquire"
#define UV_SYMBOL "uv_read_start"
#define DELETED_SUFFIX " (deleted)"

/* One line of /proc/<pid>/maps that maps a file. */
struct vt_map {
	uint64_t start, end, off;
	dev_t dev;
	ino_t ino;
	bool exec, deleted;
	char path[PATH_MAX];
};

struct vt_maps {
	struct vt_map *v;
	size_t n, cap;
};

/* ---- ELF helpers ------------------------------------------------------ */

Elf *vt_target_elf_open(const char *path, int *fd)
{
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	/* Read, not mapped: the kernel puts the breakpoints of every uprobe
	 * on the file into each new mapping of it that may execute (even a
	 * read-only private one), so code read through a mapping would show
	 * int3 wherever this or another tracer probes. */
	e = elf_begin(*fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		close(*fd);
		return NULL;
	}
	return e;
}

void vt_target_elf_close(Elf *e, int fd)
{
	elf_end(e);
	close(fd);
}

static int symtab_lookup(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			 const char *name, GElf_Sym *out)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t i, n;
	GElf_Sym sym;

	if (!d || !sh->sh_entsize)
		return -1;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 1; i < n; i++) {
		const char *s;

		if (!gelf_getsym(d, i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		s = elf_strptr(e, sh->sh_link, sym.st_name);
		if (s && !strcmp(s, name)) {
			*out = sym;
			return 0;
		}
	}
	return -1;
}

/* A defined symbol in the first section of the given type. */
static int section_symbol(Elf *e, Elf64_Word type, const char *name,
			  GElf_Sym *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			return symtab_lookup(e, scn, &sh, name, out);
	return -1;
}

/* .symtab has the statics too; .dynsym is what survives stripping. */
static int elf_sym(Elf *e, const char *name, GElf_Sym *out)
{
	if (!section_symbol(e, SHT_SYMTAB, name, out))
		return 0;
	return section_symbol(e, SHT_DYNSYM, name, out);
}

int vt_target_elf_symbol(Elf *e, const char *name, uint64_t *st_value)
{
	GElf_Sym sym;

	if (elf_sym(e, name, &sym))
		return -1;
	*st_value = sym.st_value;
	return 0;
}

/* The bytes of the section holding [addr, addr + len), and their offset
 * in the file. */
static const uint8_t *elf_code(Elf *e, uint64_t addr, uint64_t len,
			       uint64_t *file_off)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || addr < sh.sh_addr ||
		    addr - sh.sh_addr > sh.sh_size ||
		    len > sh.sh_size - (addr - sh.sh_addr))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || d->d_size != sh.sh_size)
			return NULL;
		*file_off = sh.sh_offset + (addr - sh.sh_addr);
		return (const uint8_t *)d->d_buf + (addr - sh.sh_addr);
	}
	return NULL;
}

int vt_target_func_code(const char *path, const char *name,
			struct vt_target_func *f)
{
	int fd, r = -1;
	Elf *e = vt_target_elf_open(path, &fd);
	GElf_Sym sym;
	const uint8_t *p;

	if (!e)
		return -1;
	if (!elf_sym(e, name, &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
	    sym.st_size > 0 && sym.st_size <= VT_TARGET_MAX_FUNC &&
	    (p = elf_code(e, sym.st_value, sym.st_size, &f->file_off)) &&
	    (f->code = malloc(sym.st_size))) {
		memcpy(f->code, p, sym.st_size);
		f->len = sym.st_size;
		f->addr = sym.st_value;
		r = 0;
	}
	vt_target_elf_close(e, fd);
	return r;
}

int vt_target_symbol(const char *path, const char *name, uint64_t *st_value)
{
	int fd, r;
	Elf *e = vt_target_elf_open(path, &fd);

	if (!e)
		return -1;
	r = vt_target_elf_symbol(e, name, st_value);
	vt_target_elf_close(e, fd);
	return r;
}

int vt_target_elf_build_id(Elf *e, char out[65])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	out[0] = '\0';
	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff, i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		while (d && (off = gelf_getnote(d, off, &nh, &noff, &doff))) {
			const uint8_t *p = (const uint8_t *)d->d_buf + doff;

			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)d->d_buf + noff, "GNU", 4) ||
			    nh.n_descsz > 32)
				continue;
			for (i = 0; i < nh.n_descsz; i++)
				sprintf(out + 2 * i, "%02x", p[i]);
			return 0;
		}
	}
	return 0;
}

int vt_target_build_id(const char *path, char out[65])
{
	int fd, r;
	Elf *e = vt_target_elf_open(path, &fd);

	out[0] = '\0';
	if (!e)
		return -1;
	r = vt_target_elf_build_id(e, out);
	vt_target_elf_close(e, fd);
	return r;
}

/* Load bias from the mapping whose file range covers a PT_LOAD segment's
 * start: an object is mapped in several pieces, possibly not in file order,
 * so the lowest address alone is not enough. */
static int load_bias(Elf *e, const struct vt_maps *m, dev_t dev, ino_t ino,
		     uint64_t *bias)
{
	size_t i, j, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(e, &n))
		return -1;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(e, i, &ph) || ph.p_type != PT_LOAD ||
		    !ph.p_filesz)
			continue;
		for (j = 0; j < m->n; j++) {
			const struct vt_map *p = &m->v[j];

			if (p->dev != dev || p->ino != ino ||
			    ph.p_offset < p->off ||
			    ph.p_offset >= p->off + (p->end - p->start))
				continue;
			*bias = p->start + (ph.p_offset - p->off) - ph.p_vaddr;
			return 0;
		}
	}
	return -1;
}

/* ---- /proc ------------------------------------------------------------ */

static int parse_map_line(char *line, struct vt_map *m)
{
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	char perms[8];
	int pos = 0;
	size_t len;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end,
		   perms, &off, &maj, &min, &ino, &pos) < 7 || !pos ||
	    line[pos] != '/' || !ino)
		return -1;
	len = strcspn(line + pos, "\n");
	if (len >= sizeof(m->path))
		return -1;
	memcpy(m->path, line + pos, len);
	m->path[len] = '\0';
	m->deleted = len > strlen(DELETED_SUFFIX) &&
		     !strcmp(m->path + len - strlen(DELETED_SUFFIX),
			     DELETED_SUFFIX);
	if (m->deleted)
		m->path[len - strlen(DELETED_SUFFIX)] = '\0';
	m->start = start;
	m->end = end;
	m->off = off;
	m->dev = makedev(maj, min);
	m->ino = ino;
	m->exec = perms[2] == 'x';
	return 0;
}

/* pid's maps, or mem's kept open (NULL: opened now). 0 or an errno. */
static int read_maps(int pid, const struct vt_mem *mem, struct vt_maps *m)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = mem ? vt_mem_maps(mem) : fopen(path, "re");
	if (!f)
		return errno;
	while (getline(&line, &cap, f) > 0) {
		if (m->n == m->cap) {
			size_t nc = m->cap ? 2 * m->cap : 64;
			struct vt_map *nv = realloc(m->v, nc * sizeof(*nv));

			if (!nv)
				break;
			m->v = nv;
			m->cap = nc;
		}
		if (!parse_map_line(line, &m->v[m->n]))
			m->n++;
	}
	free(line);
	r = ferror(f) ? errno : 0;
	fclose(f);
	return r;
}

static bool same_file(const char *path, const struct vt_map *m)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && st.st_dev == m->dev &&
	       st.st_ino == m->ino;
}

static void map_files_path(int pid, const struct vt_map *m, char *out,
			   size_t len)
{
	snprintf(out, len, "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
}

enum path_kind { PATH_NONE, PATH_BY_NAME, PATH_MAP_FILES };

/* A path to m's file that this process can open and the kernel can resolve
 * for a uprobe: the target's own path when it still names the mapped inode
 * here, else the same path inside the target's root (another mount
 * namespace), else the mapping itself through map_files (deleted or
 * replaced on disk). PATH_NONE when the mapping is not a regular file. */
static enum path_kind openable_path(int pid, const struct vt_map *m,
				    char *out, size_t len)
{
	struct stat st;

	if (!m->deleted) {
		if (snprintf(out, len, "%s", m->path) < (int)len &&
		    same_file(out, m))
			return PATH_BY_NAME;
		if (snprintf(out, len, "/proc/%d/root%s", pid, m->path) <
			    (int)len &&
		    same_file(out, m))
			return PATH_BY_NAME;
	}
	map_files_path(pid, m, out, len);
	return !stat(out, &st) && S_ISREG(st.st_mode) ? PATH_MAP_FILES
						       : PATH_NONE;
}

static bool seen_before(const struct vt_maps *m, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (m->v[j].exec && m->v[j].dev == m->v[i].dev &&
		    m->v[j].ino == m->v[i].ino)
			return true;
	return false;
}

/* Whether the file now at the target's path differs from the mapped one.
 * dev:ino alone can differ for the same file (overlayfs, btrfs subvolumes),
 * so a file that is still there is compared by build-id. */
static bool replaced_on_disk(const struct vt_target *t, const struct vt_map *m)
{
	char disk[PATH_MAX + 32], id[65];

	if (snprintf(disk, sizeof(disk), "/proc/%d/root%s", t->pid,
		     m->path) >= (int)sizeof(disk) ||
	    access(disk, F_OK))
		return false;
	if (m->deleted)
		return true;
	return vt_target_build_id(disk, id) || !id[0] ||
	       strcmp(id, t->build_id);
}

/* Bias and build-id of the object at path, mapped as m. */
static int object_info(const char *path, const struct vt_maps *maps,
		       const struct vt_map *m, uint64_t *bias, char id[65])
{
	int fd, r;
	Elf *e = vt_target_elf_open(path, &fd);

	if (!e)
		return -1;
	r = load_bias(e, maps, m->dev, m->ino, bias);
	if (!r && id)
		r = vt_target_elf_build_id(e, id);
	vt_target_elf_close(e, fd);
	return r;
}

static int fill_runtime(struct vt_target *t, const struct vt_maps *maps,
			const struct vt_map *m, enum path_kind kind,
			char *err, size_t errlen)
{
	if (object_info(t->open_path, maps, m, &t->bias, t->build_id)) {
		snprintf(err, errlen,
			 "cannot read the ELF program headers of %s (%s): "
			 "is the file truncated?", m->path, t->open_path);
		return VT_TARGET_EIO;
	}
	snprintf(t->object, sizeof(t->object), "%s", m->path);
	t->deleted = m->deleted;
	t->map_start = m->start;
	t->map_end = m->end;
	t->dev = m->dev;
	t->ino = m->ino;
	t->replaced = kind == PATH_MAP_FILES && replaced_on_disk(t, m);
	return 0;
}

/* Whether m maps the executable. The path is compared too because
 * overlayfs reports another dev:ino for the exe link than for mappings. */
static bool is_exe_map(int pid, const struct vt_map *m)
{
	char path[64], target[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (!stat(path, &st) && st.st_dev == m->dev && st.st_ino == m->ino)
		return true;
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	if (m->deleted && n > (ssize_t)strlen(DELETED_SUFFIX))
		target[n - strlen(DELETED_SUFFIX)] = '\0';
	return !strcmp(target, m->path);
}

/* Walks the executable objects once, picking the runtime, libuv and the
 * executable itself. */
static int find_objects(struct vt_target *t, const struct vt_maps *maps,
			char *err, size_t errlen)
{
	const struct vt_map *runtime = NULL, *exe = NULL;
	enum path_kind kind, runtime_kind = PATH_NONE;
	char path[PATH_MAX];
	uint64_t v;
	size_t i;
	int fd, r;
	Elf *e;

	for (i = 0; i < maps->n; i++) {
		const struct vt_map *m = &maps->v[i];

		if (!m->exec || seen_before(maps, i))
			continue;
		kind = openable_path(t->pid, m, path, sizeof(path));
		if (kind == PATH_NONE)
			continue;
		if (!exe && is_exe_map(t->pid, m)) {
			exe = m;
			snprintf(t->exe_path, sizeof(t->exe_path), "%s", path);
		}
		e = vt_target_elf_open(path, &fd);
		if (!e)
			continue;
		if (!runtime && !vt_target_elf_symbol(e, RUNTIME_SYMBOL, &v)) {
			runtime = m;
			runtime_kind = kind;
			snprintf(t->open_path, sizeof(t->open_path), "%s", path);
		}
		if (!t->uv_path[0] && !vt_target_elf_symbol(e, UV_SYMBOL, &v))
			snprintf(t->uv_path, sizeof(t->uv_path), "%s", path);
		vt_target_elf_close(e, fd);
	}
	if (!runtime) {
		snprintf(err, errlen,
			 "process %d maps no object defining %s: not a valk "
			 "process (or its runtime has no symbol table)",
			 t->pid, RUNTIME_SYMBOL);
		return VT_TARGET_ENOTVALK;
	}
	r = fill_runtime(t, maps, runtime, runtime_kind, err, errlen);
	t->is_exe = runtime == exe;
	if (!r && exe && object_info(t->exe_path, maps, exe, &t->exe_bias,
				     NULL))
		t->exe_path[0] = '\0';
	return r;
}

uint64_t vt_target_addr(const struct vt_target *t, const char *name,
			uint64_t st_value)
{
	uint64_t addr = st_value + t->bias;
	GElf_Sym v;
	int fd;
	Elf *e;

	if (t->is_exe || !t->exe_path[0] || !(e = vt_target_elf_open(t->exe_path, &fd)))
		return addr;
	/* The dynamic linker searches the executable first, and a copy
	 * relocation puts a definition in its .dynsym. */
	if (!section_symbol(e, SHT_DYNSYM, name, &v))
		addr = v.st_value + t->exe_bias;
	vt_target_elf_close(e, fd);
	return addr;
}

int vt_target_open(int pid, struct vt_target *t, char *err, size_t errlen)
{
	struct vt_maps maps = { 0 };
	int r, rc;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->start_time = vt_proc_start_ticks(pid);
	if (pid <= 0 || !t->start_time) {
		snprintf(err, errlen,
			 "no such process (pid %d): check the pid; "
			 "`valk-trace ps` lists valk processes", pid);
		return VT_TARGET_ENOPID;
	}
	r = read_maps(pid, NULL, &maps);
	if (r == EACCES || r == EPERM) {
		char why[256];

		vt_proc_eperm_reason(pid, why, sizeof(why));
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", pid,
			 why);
		rc = VT_TARGET_EPERM;
	} else if (r) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", pid,
			 strerror(r));
		rc = VT_TARGET_EIO;
	} else {
		rc = find_objects(t, &maps, err, errlen);
	}
	free(maps.v);
	/* An exiting process shows empty or unreadable maps. */
	if (rc && rc != VT_TARGET_EPERM &&
	    vt_proc_start_ticks(pid) != t->start_time) {
		snprintf(err, errlen, "no such process (pid %d exited)", pid);
		rc = VT_TARGET_ENOPID;
	}
	return rc;
}

static bool still_mapped(const struct vt_target *t, const struct vt_mem *mem)
{
	struct vt_maps maps = { 0 };
	bool found = false;

	if (read_maps(t->pid, mem, &maps) == 0)
		for (size_t i = 0; i < maps.n && !found; i++)
			found = maps.v[i].start == t->map_start &&
				maps.v[i].end == t->map_end &&
				maps.v[i].dev == t->dev &&
				maps.v[i].ino == t->ino;
	free(maps.v);
	return found;
}

int vt_target_file_offset(int pid, uint64_t addr, dev_t dev, ino_t ino,
			  uint64_t *off)
{
	struct vt_maps maps = { 0 };
	int rc = -1;

	if (read_maps(pid, NULL, &maps) == 0)
		for (size_t i = 0; i < maps.n && rc; i++) {
			const struct vt_map *m = &maps.v[i];

			if (addr >= m->start && addr < m->end &&
			    m->dev == dev && m->ino == ino) {
				*off = addr - m->start + m->off;
				rc = 0;
			}
		}
	free(maps.v);
	return rc;
}

int vt_target_check(const struct vt_target *t, const struct vt_mem *mem)
{
	struct vt_map m = { .start = t->map_start, .end = t->map_end };
	char path[PATH_MAX];
	struct stat st;

	if (!vt_proc_running(t->pid, t->start_time))
		return VT_TARGET_ENOPID;
	map_files_path(t->pid, &m, path, sizeof(path));
	if (!stat(path, &st) && st.st_dev == t->dev && st.st_ino == t->ino)
		return 0;
	/* map_files needs CAP_SYS_ADMIN: without it, look in maps itself */
	if ((errno == EPERM || errno == EACCES) && still_mapped(t, mem))
		return 0;
	/* The mapping went away: an exec, unless the process just exited. */
	return vt_proc_running(t->pid, t->start_time) ? VT_TARGET_EEXEC
						      : VT_TARGET_ENOPID;
}

int vt_target_find_named(const char *name)
{
	DIR *d = opendir("/proc");
	struct vt_target *t = malloc(sizeof(*t));
	struct dirent *de;
	uint64_t newest = 0;
	char err[256];
	int best = 0;

	while (d && t && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid() ||
		    !vt_proc_named((int)pid, name) ||
		    vt_target_open((int)pid, t, err, sizeof(err)) ||
		    t->start_time < newest)
			continue;
		newest = t->start_time;
		best = (int)pid;
	}
	free(t);
	if (d)
		closedir(d);
	return best;
}

int vt_target_scan(void (*cb)(const struct vt_target *, void *), void *ctx,
		   int *denied)
{
	DIR *d = opendir("/proc");
	struct vt_target *t;
	struct dirent *de;
	char err[256];
	int found = 0;

	*denied = 0;
	if (!d)
		return 0;
	t = malloc(sizeof(*t));
	while (t && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int rc;

		if (*end || pid <= 0 || pid == getpid())
			continue;
		rc = vt_target_open((int)pid, t, err, sizeof(err));
		*denied += rc == VT_TARGET_EPERM;
		if (rc)
			continue;
		cb(t, ctx);
		found++;
	}
	free(t);
	closedir(d);
	return found;
}

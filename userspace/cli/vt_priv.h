/* vt_priv: giving up root once what needs it is done.
 *
 * The collector needs root to load and attach its probes and to open the
 * target's memory; what it does after that — the ring buffer (mmapped),
 * the memory reads (through the /proc/<pid>/mem handle opened while
 * privileged), HTTP, JSON — needs none of it. vt_priv_drop switches to
 * the invoking user under sudo (SUDO_UID/SUDO_GID), else `nobody`, with
 * no supplementary groups; keeps the capabilities the features still on
 * need and no others (the bounding set too); sets no-new-privs; and
 * installs a seccomp filter allowing only the system calls those features
 * make. A call outside it is refused (SIGSYS): the tracer says which call
 * on stderr and exits 1 — a bug to report; --no-drop runs without any of
 * this, to tell. */
#ifndef VT_PRIV_H
#define VT_PRIV_H

#include <stdbool.h>
#include <stddef.h>

/* What is still done after the drop, each adding its system calls and the
 * capabilities it needs (listed in the README). */
enum {
	VT_PRIV_PROBES = 1 << 0,   /* probes on: their maps read (bpf) */
	VT_PRIV_REATTACH = 1 << 1, /* the overhead budget: slab probes off
				    * and on again */
	VT_PRIV_PERF_EVENTS = 1 << 6, /* ... as perf-event uprobes (before
				       * Linux 6.6) */
	VT_PRIV_TARGETS = 1 << 2,  /* --follow, run: new processes attached */
	VT_PRIV_CHILDREN = 1 << 3, /* run: the command's tree under ptrace */
	VT_PRIV_DEMO = 1 << 5,	   /* demo: its clients, its runtime stopped */
};

/* Drops as above, for the features in `needs`. 0, or -1 with a one-line
 * reason (nothing half done is left running: the caller exits). */
int vt_priv_drop(unsigned needs, char *err, size_t errlen);

/* The file keeper's (vt_keeper): root still (uid and gid 0, no
 * supplementary groups), with only CAP_DAC_OVERRIDE, CAP_CHOWN and
 * CAP_FOWNER (the bounding set too, none inheritable or ambient),
 * no-new-privs, and a filter for making, renaming and removing files. 0,
 * or -1 with a one-line reason. */
int vt_priv_keeper(char *err, size_t errlen);

/* Runs fn in a child process that gave root up first, as vt_priv_drop(0)
 * does — a parser of a file given on the command line never runs as
 * root — and copies back what it wrote into out (len bytes) and its
 * reason: fn's 0, or -1 with the reason in err (also when the child
 * died). With no_drop fn runs here, as root. The child is as untrusted as
 * its input: the caller checks out again. */
typedef int (*vt_priv_fn)(void *ctx, void *out, char *err, size_t errlen);
int vt_priv_confined(bool no_drop, vt_priv_fn fn, void *ctx, void *out,
		     size_t len, char *err, size_t errlen);

/* The user the collector becomes: under sudo the invoking one, else
 * `nobody`; this process's own when it is not root. */
void vt_priv_user(unsigned *uid, unsigned *gid);

#endif /* VT_PRIV_H */

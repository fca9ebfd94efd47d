/* vt_replay: a recording played back into the state model tick by tick,
 * at the recorded pace times a speed, served exactly as the live trace
 * served it (the same routes, fed from the same model). */
#ifndef VT_REPLAY_H
#define VT_REPLAY_H

struct vt_replay_opts {
	const char *path;
	double speed;		/* 1: as recorded; 0: as fast as possible */
	double from_s;		/* start this far into the recording */
	const char *listen;	/* serve here, or NULL */
	int quiet;
};

/* Runs a whole replay on its own loop; returns a VT_EXIT_* code. With a
 * listener it serves the final state after the last tick until Ctrl-C;
 * without one it ends there. */
int vt_replay_run(const struct vt_replay_opts *o);

#endif /* VT_REPLAY_H */

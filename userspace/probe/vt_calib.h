/* vt_calib: what a uprobe hit costs on this machine, per kind of probed
 * instruction, measured on functions of valk-trace's own: one starting
 * with a 5-byte nop, one with a push (emulated), one with a mov
 * (single-stepped). */
#ifndef VT_CALIB_H
#define VT_CALIB_H

#include <stdbool.h>

#include <bpf/libbpf.h>

enum { VT_CALIB_NOP5, VT_CALIB_EMULATED, VT_CALIB_STEPPED, VT_CALIB_N };

/* Attaches prog (an empty program, loaded for uprobe_multi links when
 * multi) to the three functions in this process, times calls with and
 * without it, detaches. us[class] = microseconds a hit adds. 0, or -1
 * when a probe could not be attached. */
int vt_calib_measure(struct bpf_program *prog, bool multi,
		     double us[VT_CALIB_N]);

#endif /* VT_CALIB_H */

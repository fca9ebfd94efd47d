/* vt_figures: what the runtime's own dashboard shows, read from its memory
 * by DWARF type and member name: the metrics registry g_metrics (every
 * counter, gauge and histogram with its labels, and the registry's own
 * figures), the GC heap's cycle figures, the interpreter's counters, the
 * file-static byte counters of the libraries under the AIO layer, and the
 * queue and failed connections of an AIO system's bundles. */
#ifndef VT_FIGURES_H
#define VT_FIGURES_H

#include "target/vt_layout.h"
#include "target/vt_mem.h"
#include "target/vt_target.h"
#include "model/vt_state.h"

struct vt_figures_reader;

/* mem must outlive the reader. */
struct vt_figures_reader *vt_figures_reader_new(const struct vt_target *t,
						const struct vt_mem *mem,
						const struct vt_layout *l);
void vt_figures_reader_free(struct vt_figures_reader *r);

/* Everything the layout can locate, read now (have says what), with the
 * bundles of the AIO system at sys (its valk_aio_system_t; 0: none): a
 * malloc'd struct for vt_state_figures_set, or NULL with errno (ENOMEM,
 * or ESRCH once the target is gone). Unreadable parts are left out, not
 * zeroed. */
struct vt_figures *vt_figures_read(struct vt_figures_reader *r, uint64_t sys);

#endif /* VT_FIGURES_H */

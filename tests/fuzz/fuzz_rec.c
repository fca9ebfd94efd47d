/* libFuzzer target for the recording reader: any bytes, read as a
 * recording — indexed, replayed record by record into a model, sought to
 * every tick, its stack records looked up, made a timeline, and as the
 * payload of a figures record applied to a model that holds figures —
 * never crash, hang or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/vt_rec.h"
#include "wire/vt_timeline.h"

static void replay_all(const uint8_t *p, size_t len)
{
	struct vt_rec_reader r;
	struct vt_rec rec;
	struct vt_state *s = vt_state_new(0);
	struct vt_rec_tick t;
	char err[256];

	if (s && vt_rec_open(&r, p, len) == 0)
		while (vt_rec_next(&r, &rec) == 1)
			if (vt_rec_apply(s, &rec, &t, err, sizeof(err)) < 0)
				break;
	vt_state_free(s);
}

static void seek_all(const uint8_t *p, size_t len)
{
	struct vt_rec_index ix;
	struct vt_state *s;
	struct vt_rec_tick t;
	size_t at = SIZE_MAX;
	char err[256];

	if (vt_rec_index_build(p, len, &ix, err, sizeof(err)))
		return;
	s = vt_state_new(0);
	for (size_t i = ix.nticks; s && i-- > 0;)	/* backwards: restarts */
		vt_rec_seek(p, &ix, s, &at, i, &t, err, sizeof(err));
	for (size_t i = 0; i < ix.nstacks; i++) {	/* and one missing */
		struct vt_rec_stack st;

		vt_rec_index_stack(p, &ix, ix.stacks[i].id, &st);
		vt_rec_index_stack(p, &ix, ix.stacks[i].id + 1, &st);
	}
	vt_state_free(s);
	vt_rec_index_free(&ix);
}

/* What replay serves of a recording: its timeline, a state, a slot. */
static void timeline(const uint8_t *p, size_t len)
{
	char err[256];
	struct vt_timeline *tl = vt_timeline_of(p, len, err, sizeof(err));
	const struct vt_state *s;
	struct vt_rec_tick t;

	if (!tl)
		return;
	free(vt_timeline_json(tl, false, 1000));
	vt_timeline_state_at(tl, 0, &s, &t);
	free(vt_timeline_slot_json(tl, 0, "handles", 3, err, sizeof(err)));
	vt_timeline_free(tl);
}

/* The input again as a list of records with valid frames — [type, two
 * bytes of length, payload]... — so the payload decoders see mutations the
 * checksum would otherwise stop at the frame. */
static void reframed(const uint8_t *p, size_t len)
{
	struct vt_rec_buf b = { 0 };

	vt_rec_preamble(&b);
	while (len >= 3) {
		size_t n = (size_t)(p[1] | p[2] << 8), start;

		n = n < len - 3 ? n : len - 3;
		start = vt_rec_begin(&b, p[0] ? p[0] : 1);
		vt_rec_buf_put(&b, p + 3, n);
		vt_rec_end(&b, start);
		p += 3 + n;
		len -= 3 + n;
	}
	if (!b.oom) {
		replay_all(b.p, b.len);
		seek_all(b.p, b.len);
		timeline(b.p, b.len);
	}
	vt_rec_buf_free(&b);
}

/* Figures with a counter, a gauge and a histogram with labels: what a
 * figures record of only the changed values applies to. */
static struct vt_figures *some_figures(void)
{
	struct vt_figures *f = calloc(1, sizeof(*f));
	struct vt_metric *m = calloc(3, sizeof(*m));

	if (!f || !m) {
		free(f);
		free(m);
		return NULL;
	}
	f->have = VT_FIG_REGISTRY | VT_FIG_GC;
	f->metrics = m;
	f->nmetrics = 3;
	m[0].type = VT_METRIC_COUNTER;
	strcpy(m[0].name, "requests_total");
	m[1].type = VT_METRIC_GAUGE;
	strcpy(m[1].name, "connections");
	m[2].type = VT_METRIC_HISTOGRAM;
	strcpy(m[2].name, "latency_us");
	m[2].nlabels = 1;
	strcpy(m[2].labels[0].key, "route");
	strcpy(m[2].labels[0].value, "/");
	m[2].nbounds = 4;
	for (int i = 0; i < 4; i++)
		m[2].bounds[i] = 10.0 * (i + 1);
	return f;
}

/* The input as a figures record's payload, twice: into the figures
 * above, then into whatever the first made of them. */
static void figures(const uint8_t *p, size_t len)
{
	struct vt_rec_buf b = { 0 };
	struct vt_state *s = vt_state_new(0);
	struct vt_rec_reader r;
	struct vt_rec rec;
	char err[256];
	size_t start;

	if (!s)
		return;
	vt_state_figures_set(s, some_figures());
	vt_rec_preamble(&b);
	for (int i = 0; i < 2; i++) {
		start = vt_rec_begin(&b, VT_REC_FIGURES);
		vt_rec_buf_put(&b, p, len);
		vt_rec_end(&b, start);
	}
	if (!b.oom && vt_rec_open(&r, b.p, b.len) == 0)
		while (vt_rec_next(&r, &rec) == 1)
			vt_rec_apply(s, &rec, NULL, err, sizeof(err));
	vt_rec_buf_free(&b);
	vt_state_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	replay_all(data, size);
	seek_all(data, size);
	timeline(data, size);
	reframed(data, size);
	figures(data, size);
	return 0;
}

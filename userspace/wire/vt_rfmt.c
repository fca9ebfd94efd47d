/* vt_rfmt: report files and summaries (see vt_rfmt.h). */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wire/vt_rfmt.h"

#define JSON_FLAGS (JSON_INDENT(1) | JSON_REAL_PRECISION(9))
#define SHOWN_FRAMES 8	/* of a stack in the summaries; the JSON has all */

static const char conn_letters[VT_REP_CONN_STATES] = { 'N', 'A', 'I', 'C' };

/* ---- JSON, both ways, from field tables -------------------------------- */

enum ftype { F_U64, F_U32, F_INT, F_INT_OPT, F_F64, F_BOOL, F_STR, F_CHAR,
	     F_HEX };

struct field {
	const char *key;
	size_t off, size;
	enum ftype type;	/* F_INT_OPT: negative is null */
};

#define FLD(st, key, member, type) \
	{ key, offsetof(st, member), sizeof(((st *)0)->member), type }

#define SLAB(k, m, t) FLD(struct vt_rep_slab, k, m, t)
static const struct field slab_fields[] = {
	SLAB("system", system, F_INT), SLAB("name", name, F_STR),
	SLAB("total", total, F_U64), SLAB("peak", peak, F_U64),
	SLAB("peak_at_s", peak_at_s, F_F64),
	SLAB("final_used", final_used, F_U64),
	SLAB("acquires", acquires, F_U64), SLAB("releases", releases, F_U64),
	SLAB("overflow", overflow, F_U64),
	SLAB("max_acquires_per_s", max_acquires_per_s, F_U64),
	SLAB("destroyed", destroyed, F_BOOL), { 0 }
};

#define ARENA(k, m, t) FLD(struct vt_rep_arena, k, m, t)
static const struct field arena_fields[] = {
	ARENA("system", system, F_INT), ARENA("name", name, F_STR),
	ARENA("capacity", capacity, F_U64), ARENA("peak", peak, F_U64),
	ARENA("overflow", overflow, F_U64),
	ARENA("overflow_bytes", overflow_bytes, F_U64), { 0 }
};

#define FRAME(k, m, t) FLD(struct vt_rep_frame, k, m, t)
static const struct field frame_fields[] = {
	FRAME("pc", pc, F_HEX), FRAME("symbolized", symbolized, F_BOOL),
	FRAME("function", func, F_STR), FRAME("file", file, F_STR),
	FRAME("line", line, F_INT), FRAME("inlined", inlined, F_BOOL),
	FRAME("module", module, F_STR), { 0 }
};

#define GROUP(k, m, t) FLD(struct vt_rep_group, k, m, t)
static const struct field group_fields[] = {
	GROUP("count", count, F_U64), GROUP("slab", slab, F_STR),
	GROUP("stack_id", stack_id, F_U32),
	GROUP("truncated", truncated, F_BOOL),
	GROUP("suppressed_by", suppressed_by, F_STR), { 0 }
};

#define LEAK(k, m, t) FLD(struct vt_rep_leak, k, m, t)
static const struct field leak_fields[] = {
	LEAK("system", system, F_INT), LEAK("slab", slab, F_STR),
	LEAK("slot", slot, F_U64), LEAK("age_ms", age_ms, F_U64),
	LEAK("acquired_at_s", acquired_at_s, F_F64),
	LEAK("state", state, F_CHAR), LEAK("owner", owner, F_STR),
	LEAK("stack", stack, F_U32), LEAK("at_destroy", at_destroy, F_BOOL),
	LEAK("suppressed", suppressed, F_BOOL), { 0 }
};

#define PROC(k, m, t) FLD(struct vt_rep_proc, k, m, t)
static const struct field proc_fields[] = {
	PROC("pid", pid, F_INT), PROC("argv", argv, F_STR),
	PROC("object", object, F_STR), PROC("build_id", build_id, F_STR),
	PROC("mode", mode, F_STR), PROC("unwinder", unwinder, F_STR),
	PROC("duration_s", duration_s, F_F64),
	PROC("exit_code", exit_code, F_INT_OPT),
	PROC("exit_signal", exit_signal, F_INT),
	PROC("lost_events", lost_events, F_U64), { 0 }
};

static json_t *field_json(const struct field *f, const char *p)
{
	char buf[24];

	switch (f->type) {
	case F_U64:
		return json_integer((json_int_t)*(const uint64_t *)p);
	case F_U32:
		return json_integer(*(const uint32_t *)p);
	case F_INT:
		return json_integer(*(const int *)p);
	case F_INT_OPT:
		return *(const int *)p < 0 ? json_null()
					   : json_integer(*(const int *)p);
	case F_F64:
		return json_real(*(const double *)p);
	case F_BOOL:
		return json_boolean(*(const bool *)p);
	case F_STR:
		return json_stringn(p, strnlen(p, f->size));
	case F_CHAR:
		return json_stringn(p, *p ? 1 : 0);
	case F_HEX:
		snprintf(buf, sizeof(buf), "0x%llx",
			 (unsigned long long)*(const uint64_t *)p);
		return json_string(buf);
	}
	return json_null();
}

static json_t *row_json(const struct field *fs, const void *row)
{
	json_t *o = json_object();

	for (const struct field *f = fs; f->key; f++)
		json_object_set_new(o, f->key,
				    field_json(f, (const char *)row + f->off));
	return o;
}

/* Missing or mistyped values read as 0/""; strings are truncated to fit
 * and numbers clamped to their field. */
static void field_parse(const struct field *f, const json_t *v, char *p)
{
	json_int_t i = json_integer_value(v);
	const char *s = json_string_value(v);

	switch (f->type) {
	case F_U64:
		*(uint64_t *)p = i > 0 ? (uint64_t)i : 0;
		break;
	case F_U32:
		*(uint32_t *)p = i > 0 && i <= UINT32_MAX ? (uint32_t)i : 0;
		break;
	case F_INT:
	case F_INT_OPT:
		*(int *)p = json_is_integer(v) && i >= INT_MIN && i <= INT_MAX
				    ? (int)i : f->type == F_INT_OPT ? -1 : 0;
		break;
	case F_F64:
		*(double *)p = json_number_value(v);
		break;
	case F_BOOL:
		*(bool *)p = json_is_true(v);
		break;
	case F_STR:
		snprintf(p, f->size, "%s", s ? s : "");
		break;
	case F_CHAR:
		*p = s ? s[0] : 0;
		break;
	case F_HEX:
		*(uint64_t *)p = s ? strtoull(s, NULL, 16) : 0;
		break;
	}
}

static void row_parse(const struct field *fs, const json_t *o, void *row)
{
	for (const struct field *f = fs; f->key; f++)
		field_parse(f, json_object_get(o, f->key), (char *)row + f->off);
}

static json_t *conns_json(const struct vt_rep_conns *c)
{
	json_t *o = json_object();

	for (size_t i = 0; i < c->nowners && i < VT_REP_OWNERS; i++) {
		json_t *st = json_object();
		uint64_t sum = 0;

		for (int k = 0; k < VT_REP_CONN_STATES; k++) {
			char key[2] = { conn_letters[k], 0 };

			json_object_set_new(st, key, json_integer(c->n[i][k]));
			sum += c->n[i][k];
		}
		if (sum)
			json_object_set_new(o, c->owner[i], st);
		else
			json_decref(st);
	}
	return o;
}

static void conns_parse(const json_t *o, struct vt_rep_conns *c)
{
	const char *owner;
	json_t *st;

	memset(c, 0, sizeof(*c));
	json_object_foreach((json_t *)o, owner, st) {
		if (c->nowners == VT_REP_OWNERS)
			break;
		snprintf(c->owner[c->nowners], sizeof(c->owner[0]), "%s", owner);
		for (int k = 0; k < VT_REP_CONN_STATES; k++) {
			char key[2] = { conn_letters[k], 0 };
			json_int_t n = json_integer_value(json_object_get(st, key));

			c->n[c->nowners][k] = n > 0 && n <= UINT32_MAX ? n : 0;
		}
		c->nowners++;
	}
}

static json_t *slab_json(const struct vt_rep_slab *s)
{
	json_t *o = row_json(slab_fields, s), *c;

	if (!s->has_conns)
		return o;
	c = json_object();
	json_object_set_new(c, "at_peak", conns_json(&s->conns_peak));
	json_object_set_new(c, "at_end", conns_json(&s->conns_end));
	json_object_set_new(o, "connections", c);
	return o;
}

static void slab_parse(const json_t *o, struct vt_rep_slab *s)
{
	const json_t *c = json_object_get(o, "connections");

	row_parse(slab_fields, o, s);
	s->has_conns = json_is_object(c);
	if (s->has_conns) {
		conns_parse(json_object_get(c, "at_peak"), &s->conns_peak);
		conns_parse(json_object_get(c, "at_end"), &s->conns_end);
	}
}

static json_t *group_json(const struct vt_rep_group *g)
{
	json_t *o = row_json(group_fields, g), *fr = json_array();

	for (size_t i = 0; i < g->nframes; i++)
		json_array_append_new(fr, row_json(frame_fields, &g->frames[i]));
	json_object_set_new(o, "frames", fr);
	return o;
}

static void group_parse(const json_t *o, struct vt_rep_group *g)
{
	const json_t *fr = json_object_get(o, "frames");

	row_parse(group_fields, o, g);
	for (g->nframes = 0; g->nframes < json_array_size(fr) &&
			     g->nframes < VT_REP_MAX_FRAMES; g->nframes++)
		row_parse(frame_fields, json_array_get(fr, g->nframes),
			  &g->frames[g->nframes]);
}

static json_t *proc_json(const struct vt_rep_proc *p)
{
	json_t *o = row_json(proc_fields, p), *a, *lk;

	a = json_array();
	for (size_t i = 0; i < p->nslabs; i++)
		json_array_append_new(a, slab_json(&p->slabs[i]));
	json_object_set_new(o, "slabs", a);
	a = json_array();
	for (size_t i = 0; i < p->narenas; i++)
		json_array_append_new(a, row_json(arena_fields, &p->arenas[i]));
	json_object_set_new(o, "arenas", a);
	lk = json_object();
	json_object_set_new(lk, "count", json_integer(p->nleaks));
	json_object_set_new(lk, "suppressed", json_integer(p->nsuppressed));
	json_object_set_new(lk, "listed", json_integer(p->nlisted));
	a = json_array();
	for (size_t i = 0; i < p->ngroups; i++)
		json_array_append_new(a, group_json(&p->groups[i]));
	json_object_set_new(lk, "by_stack", a);
	a = json_array();
	for (size_t i = 0; i < p->nlisted; i++)
		json_array_append_new(a, row_json(leak_fields, &p->leaks[i]));
	json_object_set_new(lk, "slots", a);
	json_object_set_new(o, "leaks", lk);
	return o;
}

static size_t bounded(const json_t *a, size_t max)
{
	size_t n = json_array_size(a);

	return n < max ? n : max;
}

static int leaks_parse(const json_t *o, struct vt_rep_proc *p)
{
	const json_t *g = json_object_get(o, "by_stack");
	const json_t *sl = json_object_get(o, "slots");
	size_t ng = bounded(g, VT_REP_MAX_GROUPS), nl = bounded(sl, VT_REP_MAX_LEAKS);
	json_int_t n = json_integer_value(json_object_get(o, "count"));
	json_int_t ns = json_integer_value(json_object_get(o, "suppressed"));

	p->nleaks = n > 0 ? (uint64_t)n : 0;
	p->nsuppressed = ns > 0 ? (uint64_t)ns : 0;
	p->groups = calloc(ng ? ng : 1, sizeof(*p->groups));
	p->leaks = calloc(nl ? nl : 1, sizeof(*p->leaks));
	if (!p->groups || !p->leaks)
		return -1;
	for (p->ngroups = 0; p->ngroups < ng; p->ngroups++)
		group_parse(json_array_get(g, p->ngroups),
			    &p->groups[p->ngroups]);
	for (p->nlisted = 0; p->nlisted < nl; p->nlisted++) {
		struct vt_rep_leak *l = &p->leaks[p->nlisted];

		row_parse(leak_fields, json_array_get(sl, p->nlisted), l);
		if (l->stack >= ng)	/* points nowhere: no group */
			l->stack = UINT32_MAX;
	}
	return 0;
}

static int proc_parse(const json_t *o, struct vt_rep_proc *p)
{
	const json_t *s = json_object_get(o, "slabs");
	const json_t *a = json_object_get(o, "arenas");

	row_parse(proc_fields, o, p);
	for (p->nslabs = 0; p->nslabs < bounded(s, VT_REP_MAX_SLABS); p->nslabs++)
		slab_parse(json_array_get(s, p->nslabs), &p->slabs[p->nslabs]);
	for (p->narenas = 0; p->narenas < bounded(a, VT_REP_MAX_ARENAS);
	     p->narenas++)
		row_parse(arena_fields, json_array_get(a, p->narenas),
			  &p->arenas[p->narenas]);
	return leaks_parse(json_object_get(o, "leaks"), p);
}

char *vt_rfmt_json(const struct vt_rep_doc *d)
{
	json_t *o = json_object(), *a = json_array(), *v = json_array();
	char *text;

	json_object_set_new(o, "schema", json_string(VT_RFMT_SCHEMA));
	json_object_set_new(o, "version", json_integer(VT_RFMT_VERSION));
	json_object_set_new(o, "command", json_string(d->command));
	json_object_set_new(o, "exit_status", d->exit_status < 0 ? json_null()
					      : json_integer(d->exit_status));
	for (size_t i = 0; i < d->nprocs; i++)
		json_array_append_new(a, proc_json(&d->procs[i]));
	json_object_set_new(o, "processes", a);
	for (size_t i = 0; i < d->njudged; i++) {
		const struct vt_rep_judged *j = &d->judged[i];
		json_t *e = json_object();

		json_object_set_new(e, "pid", json_integer(d->procs[j->proc].pid));
		json_object_set_new(e, "condition", json_string(j->cond));
		json_object_set_new(e, "passed", json_boolean(!j->v.failed));
		json_object_set_new(e, "message", json_string(j->v.message));
		json_array_append_new(v, e);
	}
	json_object_set_new(o, "verdicts", v);
	text = json_dumps(o, JSON_FLAGS);
	json_decref(o);
	return text;
}

int vt_rfmt_json_parse(const char *text, struct vt_rep_doc *d, char *err,
		       size_t errlen)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je), *procs, *es;
	const char *schema;
	json_int_t version;
	size_t n;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	d->exit_status = -1;
	if (!o) {	/* jansson quotes the bytes it choked on: kept printable */
		snprintf(err, errlen, "not JSON (line %d: %s)", je.line, je.text);
		for (char *c = err; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return -1;
	}
	schema = json_string_value(json_object_get(o, "schema"));
	procs = json_object_get(o, "processes");
	version = json_integer_value(json_object_get(o, "version"));
	if (!schema || strcmp(schema, VT_RFMT_SCHEMA) || !json_is_array(procs)) {
		snprintf(err, errlen, "not a valk-trace report (no \"schema\": "
			 "\"%s\" with \"processes\")", VT_RFMT_SCHEMA);
		goto out;
	}
	if (version > VT_RFMT_VERSION) {
		snprintf(err, errlen, "report version %lld is newer than this "
			 "valk-trace reads (%d); upgrade valk-trace",
			 (long long)version, VT_RFMT_VERSION);
		goto out;
	}
	snprintf(d->command, sizeof(d->command), "%s",
		 json_string_value(json_object_get(o, "command")) ?: "");
	es = json_object_get(o, "exit_status");
	if (json_is_integer(es) && json_integer_value(es) >= 0 &&
	    json_integer_value(es) <= 255)
		d->exit_status = json_integer_value(es);
	n = json_array_size(procs);
	if (n > VT_RFMT_MAX_PROCS) {
		snprintf(err, errlen, "report lists %zu processes, more than %d",
			 n, VT_RFMT_MAX_PROCS);
		goto out;
	}
	d->procs = calloc(n ? n : 1, sizeof(*d->procs));
	if (!d->procs) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (; d->nprocs < n; d->nprocs++)
		if (proc_parse(json_array_get(procs, d->nprocs),
			       &d->procs[d->nprocs])) {
			snprintf(err, errlen, "out of memory");
			d->nprocs++;
			goto out;
		}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* ---- text buffers ------------------------------------------------------ */

struct tbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void tb_printf(struct tbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tb_printf(struct tbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
			      b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static char *tb_take(struct tbuf *b)
{
	if (b->oom || !b->p) {
		free(b->p);
		return b->oom ? NULL : strdup("");
	}
	return b->p;
}

/* Escapes text for XML attribute values and character data. */
static void tb_xml(struct tbuf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': tb_printf(b, "&lt;"); break;
		case '>': tb_printf(b, "&gt;"); break;
		case '&': tb_printf(b, "&amp;"); break;
		case '"': tb_printf(b, "&quot;"); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				tb_printf(b, "?");
			else
				tb_printf(b, "%c", *s);
		}
}

static void frame_text(struct tbuf *b, const struct vt_rep_frame *f)
{
	if (!f->symbolized)
		tb_printf(b, "0x%llx (%s: not symbolized)",
			  (unsigned long long)f->pc,
			  *f->module ? f->module : "unknown object");
	else if (f->line)
		tb_printf(b, "%s (%s:%d)%s", f->func, f->file, f->line,
			  f->inlined ? " [inlined]" : "");
	else		/* a symbol, no line table */
		tb_printf(b, "%s (%s)%s", f->func, f->module,
			  f->inlined ? " [inlined]" : "");
}

/* "N slots from stack" blocks, as memleak prints them. */
static void suppressed_text(struct tbuf *b, const struct vt_rep_proc *p)
{
	if (p->nsuppressed)
		tb_printf(b, ", %llu suppressed",
			  (unsigned long long)p->nsuppressed);
}

static void stacks_text(struct tbuf *b, const struct vt_rep_proc *p,
			size_t top, const char *indent)
{
	for (size_t g = 0; g < p->ngroups && g < top; g++) {
		const struct vt_rep_group *gr = &p->groups[g];

		tb_printf(b, "%s%llu %s slots from ", indent,
			  (unsigned long long)gr->count, gr->slab);
		if (!gr->stack_id) {
			tb_printf(b, "no captured stack\n");
			continue;
		}
		tb_printf(b, "stack %u%s%s%s:\n", gr->stack_id,
			  *gr->suppressed_by ? " (suppressed: " : "",
			  gr->suppressed_by, *gr->suppressed_by ? ")" : "");
		for (size_t i = 0; i < gr->nframes && i < SHOWN_FRAMES; i++) {
			tb_printf(b, "%s    ", indent);
			frame_text(b, &gr->frames[i]);
			tb_printf(b, "\n");
		}
		if (gr->nframes > SHOWN_FRAMES)
			tb_printf(b, "%s    ... %zu more frames in the report\n",
				  indent, gr->nframes - SHOWN_FRAMES);
		else if (gr->truncated)
			tb_printf(b, "%s    ... (deeper frames not captured)\n",
				  indent);
	}
}

/* ---- JUnit ------------------------------------------------------------- */

char *vt_rfmt_junit(const struct vt_rep_doc *d)
{
	struct tbuf b = { 0 };

	tb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<testsuites name=\"valk-trace\">\n");
	for (size_t i = 0; i < d->nprocs; i++) {
		const struct vt_rep_proc *p = &d->procs[i];
		size_t n = 0, failed = 0;

		for (size_t k = 0; k < d->njudged; k++)
			if (d->judged[k].proc == i) {
				n++;
				failed += d->judged[k].v.failed;
			}
		tb_printf(&b, "  <testsuite name=\"valk-trace pid %d: ", p->pid);
		tb_xml(&b, p->argv);
		tb_printf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
			      "time=\"%.3f\">\n", n ? n : 1, failed,
			  p->duration_s);
		if (!n)
			tb_printf(&b, "    <testcase classname=\"valk-trace\" "
				      "name=\"traced\"/>\n");
		for (size_t k = 0; k < d->njudged; k++) {
			const struct vt_rep_judged *j = &d->judged[k];

			if (j->proc != i)
				continue;
			tb_printf(&b, "    <testcase classname=\"valk-trace."
				      "pid%d\" name=\"", p->pid);
			tb_xml(&b, j->cond);
			if (!j->v.failed) {
				tb_printf(&b, "\"/>\n");
				continue;
			}
			tb_printf(&b, "\">\n      <failure message=\"");
			tb_xml(&b, j->v.message);
			tb_printf(&b, "\" type=\"");
			tb_xml(&b, j->cond);
			tb_printf(&b, "\">");
			if (j->cond[0] == 'l' && p->ngroups) {
				struct tbuf s = { 0 };
				char *t;

				stacks_text(&s, p, 5, "");
				t = tb_take(&s);
				if (t)
					tb_xml(&b, t);
				free(t);
			}
			tb_printf(&b, "</failure>\n    </testcase>\n");
		}
		tb_printf(&b, "  </testsuite>\n");
	}
	tb_printf(&b, "</testsuites>\n");
	return tb_take(&b);
}

/* ---- Markdown and text ------------------------------------------------- */

static void md_escape(struct tbuf *b, const char *s)
{
	for (; *s; s++)
		tb_printf(b, strchr("|*_`<>[]\\", *s) ? "\\%c" : "%c", *s);
}

char *vt_rfmt_markdown(const struct vt_rep_doc *d, size_t top_stacks)
{
	struct tbuf b = { 0 };
	size_t failed = 0;

	for (size_t k = 0; k < d->njudged; k++)
		failed += d->judged[k].v.failed;
	tb_printf(&b, "## valk-trace: %s\n\n",
		  failed ? "memory conditions failed" : "memory conditions hold");
	if (*d->command) {
		tb_printf(&b, "Command: `");
		md_escape(&b, d->command);
		tb_printf(&b, "`");
		if (d->exit_status >= 0)
			tb_printf(&b, ", exit status %d", d->exit_status);
		tb_printf(&b, "\n\n");
	}
	for (size_t i = 0; i < d->nprocs; i++) {
		const struct vt_rep_proc *p = &d->procs[i];

		tb_printf(&b, "### pid %d: `", p->pid);
		md_escape(&b, p->argv);
		tb_printf(&b, "` (%.1f s, mode %s, %llu lost events)\n\n",
			  p->duration_s, p->mode,
			  (unsigned long long)p->lost_events);
		for (size_t k = 0; k < d->njudged; k++)
			if (d->judged[k].proc == i) {
				tb_printf(&b, "- %s ",
					  d->judged[k].v.failed ? "❌" : "✅");
				md_escape(&b, d->judged[k].v.message);
				tb_printf(&b, "\n");
			}
		tb_printf(&b, "\n| system | slab | total | peak | at end | "
			      "acquires | releases | overflow | max acq/s |\n"
			      "|---|---|---|---|---|---|---|---|---|\n");
		for (size_t k = 0; k < p->nslabs; k++) {
			const struct vt_rep_slab *s = &p->slabs[k];

			tb_printf(&b, "| %d | %s | %llu | %llu | %llu | %llu | "
				      "%llu | %llu | %llu |\n", s->system,
				  s->name, (unsigned long long)s->total,
				  (unsigned long long)s->peak,
				  (unsigned long long)s->final_used,
				  (unsigned long long)s->acquires,
				  (unsigned long long)s->releases,
				  (unsigned long long)s->overflow,
				  (unsigned long long)s->max_acquires_per_s);
		}
		tb_printf(&b, "\n%llu leaked slots", (unsigned long long)p->nleaks);
		suppressed_text(&b, p);
		tb_printf(&b, ".\n");
		if (p->ngroups) {
			tb_printf(&b, "\n```\n");
			stacks_text(&b, p, top_stacks, "");
			tb_printf(&b, "```\n");
		}
		tb_printf(&b, "\n");
	}
	return tb_take(&b);
}

char *vt_rfmt_text(const struct vt_rep_doc *d, size_t top_stacks)
{
	struct tbuf b = { 0 };

	for (size_t i = 0; i < d->nprocs; i++) {
		const struct vt_rep_proc *p = &d->procs[i];

		tb_printf(&b, "valk-trace: pid %d (%s): %.2f s, %llu lost "
			      "events, %llu leaked slots", p->pid, p->argv,
			  p->duration_s, (unsigned long long)p->lost_events,
			  (unsigned long long)p->nleaks);
		suppressed_text(&b, p);
		tb_printf(&b, "\n");
		tb_printf(&b, "  %-3s %-14s %8s %8s %8s %10s %10s %8s\n", "SYS",
			  "SLAB", "TOTAL", "PEAK", "END", "ACQUIRES",
			  "RELEASES", "OVERFLOW");
		for (size_t k = 0; k < p->nslabs; k++) {
			const struct vt_rep_slab *s = &p->slabs[k];

			tb_printf(&b, "  %-3d %-14s %8llu %8llu %8llu %10llu "
				      "%10llu %8llu\n", s->system, s->name,
				  (unsigned long long)s->total,
				  (unsigned long long)s->peak,
				  (unsigned long long)s->final_used,
				  (unsigned long long)s->acquires,
				  (unsigned long long)s->releases,
				  (unsigned long long)s->overflow);
		}
		stacks_text(&b, p, top_stacks, "  ");
	}
	return tb_take(&b);
}

/* ---- diff -------------------------------------------------------------- */

static void growth(struct tbuf *b, uint64_t was, uint64_t now)
{
	tb_printf(b, "%llu -> %llu", (unsigned long long)was,
		  (unsigned long long)now);
	if (now != was && was)
		tb_printf(b, " (%+.1f%%)", ((double)now - was) * 100.0 / was);
	else if (now != was)
		tb_printf(b, " (new)");
}

static uint64_t base_count(const struct vt_rep_proc *base,
			   const struct vt_rep_group *g)
{
	for (size_t i = 0; base && i < base->ngroups; i++)
		if (vt_rep_group_same(&base->groups[i], g))
			return base->groups[i].count;
	return 0;
}

static void diff_stacks(struct tbuf *b, const struct vt_rep_proc *base,
			const struct vt_rep_proc *p)
{
	for (size_t i = 0; i < p->ngroups; i++) {
		const struct vt_rep_group *g = &p->groups[i];
		uint64_t was = base_count(base, g);

		if (g->count <= was)
			continue;
		tb_printf(b, "  +%llu %s slots (%llu, base %llu) from ",
			  (unsigned long long)(g->count - was), g->slab,
			  (unsigned long long)g->count, (unsigned long long)was);
		if (!g->nframes) {
			tb_printf(b, "no stack\n");
			continue;
		}
		tb_printf(b, "\n");
		for (size_t k = 0; k < g->nframes && k < 8; k++) {
			tb_printf(b, "      ");
			frame_text(b, &g->frames[k]);
			tb_printf(b, "\n");
		}
	}
}

char *vt_rfmt_diff(const struct vt_rep_doc *base, const struct vt_rep_doc *d)
{
	struct tbuf b = { 0 };

	for (size_t i = 0; i < d->nprocs; i++) {
		const struct vt_rep_proc *p = &d->procs[i];
		const struct vt_rep_proc *bp = vt_verdict_base_of(d, i, base);
		static const struct vt_rep_proc none;
		const struct vt_rep_proc *o = bp ? bp : &none;

		tb_printf(&b, "pid %d (%s)%s\n", p->pid, p->argv,
			  bp ? "" : ": not in the base report");
		tb_printf(&b, "  %-3s %-14s %-24s %-24s %s\n", "SYS", "SLAB",
			  "PEAK", "END", "OVERFLOW");
		for (size_t k = 0; k < p->nslabs; k++) {
			const struct vt_rep_slab *s = &p->slabs[k];
			const struct vt_rep_slab *w =
				vt_rep_slab_find(o, s->system, s->name);
			struct tbuf c[3] = { { 0 } };
			char *t[3];

			growth(&c[0], w ? w->peak : 0, s->peak);
			growth(&c[1], w ? w->final_used : 0, s->final_used);
			growth(&c[2], w ? w->overflow : 0, s->overflow);
			for (int j = 0; j < 3; j++)
				t[j] = tb_take(&c[j]);
			tb_printf(&b, "  %-3d %-14s %-24s %-24s %s\n", s->system,
				  s->name, t[0] ? t[0] : "", t[1] ? t[1] : "",
				  t[2] ? t[2] : "");
			for (int j = 0; j < 3; j++)
				free(t[j]);
		}
		tb_printf(&b, "  leaks: ");
		growth(&b, o->nleaks, p->nleaks);
		tb_printf(&b, "; lost events: ");
		growth(&b, o->lost_events, p->lost_events);
		tb_printf(&b, "\n");
		diff_stacks(&b, bp, p);
	}
	return tb_take(&b);
}

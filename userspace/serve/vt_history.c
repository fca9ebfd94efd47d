/* vt_history: the time-travel routes (see vt_history.h). */
#include "serve/vt_history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of key in a query string ("a=1&b=2"), into buf; 0 or -1. */
static int query_get(const char *query, const char *key, char *buf,
		     size_t len)
{
	size_t k = strlen(key);

	for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : p) {
		size_t n;

		if (strncmp(p, key, k) || p[k] != '=')
			continue;
		p += k + 1;
		n = strcspn(p, "&");
		if (!n || n >= len)
			return -1;
		memcpy(buf, p, n);
		buf[n] = 0;
		return 0;
	}
	return -1;
}

static int query_num(const char *query, const char *key, uint64_t *v)
{
	char buf[32], *end;

	if (query_get(query, key, buf, sizeof(buf)))
		return -1;
	*v = strtoull(buf, &end, 10);
	return *end || buf[0] == '-' ? -1 : 0;
}

static void json_reply(struct vt_http_response *out, char *doc)
{
	if (!doc) {
		vt_http_error(out, 500);
		return;
	}
	out->status = 200;
	out->content_type = "application/json";
	out->body = doc;
	out->len = strlen(doc);
	out->cache_control = "no-cache";
}

static void text_reply(struct vt_http_response *out, int status,
		       const char *msg)
{
	char *body = malloc(strlen(msg) + 2);

	if (!body) {
		vt_http_error(out, 500);
		return;
	}
	sprintf(body, "%s\n", msg);
	out->status = status;
	out->content_type = "text/plain; charset=utf-8";
	out->body = body;
	out->len = strlen(body);
}

static void memory_at(struct vt_timeline *tl, uint64_t at,
		      const struct vt_wire_meta *base,
		      struct vt_http_response *out)
{
	struct vt_wire_meta m = *base;
	const struct vt_state *s;
	struct vt_rec_tick t;

	if (vt_timeline_state_at(tl, at, &s, &t)) {
		text_reply(out, 404, "no state in the history");
		return;
	}
	m.now_ms = t.now_ms;
	m.wall_ms = t.wall_ms;
	m.uptime_s = t.uptime_s;
	m.rss = t.rss;
	m.vms = t.vms;
	m.system_total = t.system_total;
	json_reply(out, vt_wire_memory(s, &m, 0));
}

static void slot(struct vt_timeline *tl, const char *query,
		 struct vt_http_response *out)
{
	uint64_t system, n;
	char slab[32], err[256];
	char *doc;

	if (query_num(query, "system", &system) || system > 15 ||
	    query_get(query, "slab", slab, sizeof(slab)) ||
	    query_num(query, "slot", &n)) {
		text_reply(out, 400, "want ?system=S&slab=NAME&slot=N");
		return;
	}
	doc = vt_timeline_slot_json(tl, (int)system, slab, n, err, sizeof(err));
	if (doc)
		json_reply(out, doc);
	else
		text_reply(out, 404, err);
}

int vt_history_route(struct vt_timeline *tl, bool live, const char *path,
		     const char *query, const struct vt_wire_meta *m,
		     struct vt_http_response *out)
{
	uint64_t at;

	if (!strcmp(path, "/api/diagnostics/memory") &&
	    query_num(query, "at", &at) == 0)
		memory_at(tl, at, m, out);
	else if (!strcmp(path, "/api/history"))
		json_reply(out, vt_timeline_json(tl, live, m->leak_age_ms));
	else if (!strcmp(path, "/api/history/slot"))
		slot(tl, query, out);
	else
		return 0;
	return 1;
}

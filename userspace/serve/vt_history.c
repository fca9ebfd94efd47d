/* vt_history: the time-travel routes (see vt_history.h). */
#include "serve/vt_history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SCAN_GAP_NS 100000000ull	/* scans start 100 ms apart at least */
#define SCAN_SHARE 4		/* a scan of X ms: the next one 4X after */
#define KEPT 16			/* answers kept */

struct kept {
	char *doc;		/* NULL: free */
	int system;
	char slab[32];
	uint64_t slot, version;	/* the history's, when it was made */
};

struct vt_history_slots {
	struct kept kept[KEPT];
	size_t next;		/* the entry replaced next */
	uint64_t next_ns;	/* when the next scan may start (uv_hrtime) */
};

struct vt_history_slots *vt_history_slots_new(void)
{
	return calloc(1, sizeof(struct vt_history_slots));
}

void vt_history_slots_forget(struct vt_history_slots *sl)
{
	for (size_t i = 0; sl && i < KEPT; i++) {
		free(sl->kept[i].doc);
		sl->kept[i].doc = NULL;
	}
}

void vt_history_slots_free(struct vt_history_slots *sl)
{
	vt_history_slots_forget(sl);
	free(sl);
}

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

/* The answer kept for this slot of this history, or NULL. */
static struct kept *kept_find(struct vt_history_slots *sl, int system,
			      const char *slab, uint64_t slot,
			      uint64_t version)
{
	for (size_t i = 0; i < KEPT; i++) {
		struct kept *k = &sl->kept[i];

		if (k->doc && k->system == system && k->slot == slot &&
		    k->version == version && !strcmp(k->slab, slab))
			return k;
	}
	return NULL;
}

static void kept_add(struct vt_history_slots *sl, int system,
		     const char *slab, uint64_t slot, uint64_t version,
		     const char *doc)
{
	struct kept *k = &sl->kept[sl->next++ % KEPT];

	free(k->doc);
	k->doc = strdup(doc);
	k->system = system;
	snprintf(k->slab, sizeof(k->slab), "%s", slab);
	k->slot = slot;
	k->version = version;
}

/* 429 until the next scan may start, with the seconds to wait. */
static bool too_soon(const struct vt_history_slots *sl, uint64_t now,
		     struct vt_http_response *out)
{
	char msg[128];
	uint64_t wait;

	if (now >= sl->next_ns)
		return false;
	wait = (sl->next_ns - now + 999999999) / 1000000000;
	snprintf(msg, sizeof(msg), "slot histories are being scanned at "
		 "their limit (10 a second); retry in %llu s",
		 (unsigned long long)wait);
	text_reply(out, 429, msg);
	out->retry_after = (unsigned)wait;
	return true;
}

static void slot(struct vt_timeline *tl, struct vt_history_slots *sl,
		 const char *query, struct vt_http_response *out)
{
	uint64_t system, n, version = vt_timeline_version(tl), start, cost;
	char slab[32], err[256];
	struct kept *k;
	char *doc;

	if (query_num(query, "system", &system) || system > 15 ||
	    query_get(query, "slab", slab, sizeof(slab)) ||
	    query_num(query, "slot", &n)) {
		text_reply(out, 400, "want ?system=S&slab=NAME&slot=N");
		return;
	}
	if ((k = kept_find(sl, (int)system, slab, n, version))) {
		json_reply(out, strdup(k->doc));
		return;
	}
	if (too_soon(sl, start = uv_hrtime(), out))
		return;
	doc = vt_timeline_slot_json(tl, (int)system, slab, n, err, sizeof(err));
	cost = uv_hrtime() - start;
	sl->next_ns = start + (SCAN_SHARE * cost > SCAN_GAP_NS
				       ? SCAN_SHARE * cost : SCAN_GAP_NS);
	if (!doc) {
		text_reply(out, 404, err);
		return;
	}
	kept_add(sl, (int)system, slab, n, version, doc);
	json_reply(out, doc);
}

int vt_history_route(struct vt_timeline *tl, struct vt_history_slots *sl,
		     bool live, const char *path, const char *query,
		     const struct vt_wire_meta *m,
		     struct vt_http_response *out)
{
	uint64_t at;

	if (!strcmp(path, "/api/diagnostics/memory") &&
	    query_num(query, "at", &at) == 0)
		memory_at(tl, at, m, out);
	else if (!strcmp(path, "/api/history"))
		json_reply(out, vt_timeline_json(tl, live, m->leak_age_ms));
	else if (!strcmp(path, "/api/history/slot"))
		slot(tl, sl, query, out);
	else
		return 0;
	return 1;
}

/* vt_wire: /debug/slab/buckets, the runtime's own slot bucketing (see
 * vt_wire.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/vt_wire_json.h"

static int set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_u64(const char *key, const char *v, size_t n, uint64_t *out,
		     char *err, size_t errlen)
{
	char tmp[24], *end;

	if (!n || n >= sizeof(tmp) || strspn(v, "0123456789") < n)
		return set_err(err, errlen,
			       "bad %s '%.*s': use a decimal number", key,
			       (int)(n < 32 ? n : 32), v);
	memcpy(tmp, v, n);
	tmp[n] = 0;
	errno = 0;
	*out = strtoull(tmp, &end, 10);
	if (errno)
		return set_err(err, errlen, "%s '%s' is out of range", key, tmp);
	return 0;
}

static int parse_param(const char *key, size_t klen, const char *v, size_t n,
		       struct vt_wire_buckets_req *req, char *err,
		       size_t errlen)
{
	uint64_t x;

#define KEY_IS(k) (klen == strlen(k) && !memcmp(key, k, klen))
	if (KEY_IS("slab")) {
		if (!n || n >= sizeof(req->slab) || strspn(v, "abcdefghijklmnopqrstuvwxyz_") < n)
			return set_err(err, errlen,
				       "bad slab name: use tcp_buffers, handles, stream_arenas, http_servers or http_clients");
		memcpy(req->slab, v, n);
		req->slab[n] = 0;
		return 0;
	}
	if (KEY_IS("system")) {
		if (parse_u64("system", v, n, &x, err, errlen))
			return -1;
		if (x >= VT_MAX_SYSTEMS)
			return set_err(err, errlen, "system %llu does not exist: use 0-%d",
				       (unsigned long long)x, VT_MAX_SYSTEMS - 1);
		req->system = (int)x;
		return 0;
	}
	if (KEY_IS("start"))
		return parse_u64("start", v, n, &req->start, err, errlen);
	if (KEY_IS("end"))
		return parse_u64("end", v, n, &req->end, err, errlen);
	if (KEY_IS("buckets"))
		return parse_u64("buckets", v, n, &req->buckets, err, errlen);
#undef KEY_IS
	return 0;	/* unknown keys (cache busters) are not errors */
}

int vt_wire_buckets_parse(const char *query, struct vt_wire_buckets_req *req,
			  char *err, size_t errlen)
{
	const char *p = query ? query : "";

	memset(req, 0, sizeof(*req));
	strcpy(req->slab, "tcp_buffers");
	req->system = -1;
	req->end = UINT64_MAX;
	req->buckets = 100;
	while (*p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);

		if (eq && parse_param(p, (size_t)(eq - p), eq + 1,
				      len - (size_t)(eq - p) - 1, req, err, errlen))
			return -1;
		p += len + (p[len] == '&');
	}
	if (req->buckets < 1 || req->buckets > VT_WIRE_MAX_BUCKETS)
		return set_err(err, errlen, "buckets must be 1-%d",
			       VT_WIRE_MAX_BUCKETS);
	if (req->start > req->end)
		return set_err(err, errlen,
			       "start %llu is past end %llu: use start <= end",
			       (unsigned long long)req->start,
			       (unsigned long long)req->end);
	return 0;
}

static const struct vt_slab *find_named(const struct vt_state *s,
					const char *name, int system)
{
	for (size_t i = 0; i < vt_state_nslabs(s); i++) {
		const struct vt_slab *sl = vt_state_slab(s, i);

		if (!strcmp(vt_slab_kind_name(sl->kind), name) &&
		    (system < 0 || sl->system == system))
			return sl;
	}
	return NULL;
}

char *vt_wire_buckets(const struct vt_state *s,
		      const struct vt_wire_buckets_req *req, char *err,
		      size_t errlen)
{
	const struct vt_slab *sl = find_named(s, req->slab, req->system);
	uint64_t end, per, (*bk)[2];
	struct vt_wire__buf b = { 0 };
	size_t n = 0;

	if (!sl) {
		set_err(err, errlen,
			"no slab '%s' in the target: use tcp_buffers, handles, stream_arenas, http_servers or http_clients",
			req->slab);
		return NULL;
	}
	if (req->buckets < 1 || req->buckets > VT_WIRE_MAX_BUCKETS ||
	    req->start > req->end) {
		set_err(err, errlen, "bad bucket request: parse it first");
		return NULL;
	}
	end = req->end < sl->total ? req->end : sl->total;
	/* like the runtime: equal slices rounded up, trailing ones may be
	 * empty; an empty range has no buckets */
	if (req->start < end)
		n = (size_t)req->buckets;
	bk = calloc(n ? n : 1, sizeof(*bk));
	if (!bk) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	per = n ? (end - req->start + n - 1) / n : 1;
	for (uint64_t i = req->start; i < end; i++)
		bk[(i - req->start) / per][!vt_slab_bit(sl->bitmap, i)]++;
	vt_wire__buf_put(&b, "{\"buckets\":[", 12);
	for (size_t i = 0; i < n; i++)
		vt_wire__buf_printf(&b, "%s{\"u\":%llu,\"f\":%llu}", i ? "," : "",
			    (unsigned long long)bk[i][0],
			    (unsigned long long)bk[i][1]);
	vt_wire__buf_printf(&b, "],\"total\":%llu}", (unsigned long long)sl->total);
	free(bk);
	if (b.oom)
		set_err(err, errlen, "out of memory");
	return vt_wire__buf_take(&b);
}


/* vt_web: request path -> embedded dashboard file. */
#include <string.h>

#include "serve/vt_web.h"

/* Defined in vt_web_assets.S, ended by an entry whose path is NULL. */
extern const struct vt_web_asset vt_web_assets[];

_Static_assert(sizeof(struct vt_web_asset) == 32,
	       "vt_web_assets.S lays the table out as four 8-byte words");

/* Routes that also serve the page. */
static const char *const vt_web_page_routes[] = { "/debug/", "/debug" };

static int vt_web_route_is(const char *path, size_t n, const char *route)
{
	return strlen(route) == n && !strncmp(path, route, n);
}

const struct vt_web_asset *vt_web_find(const char *path)
{
	const struct vt_web_asset *a;
	size_t n, i;

	if (!path)
		return NULL;
	n = strcspn(path, "?#");
	for (i = 0; i < sizeof(vt_web_page_routes) /
			sizeof(vt_web_page_routes[0]); i++)
		if (vt_web_route_is(path, n, vt_web_page_routes[i]))
			path = "/", n = 1;
	for (a = vt_web_assets; a->path; a++)
		if (vt_web_route_is(path, n, a->path))
			return a;
	return NULL;
}

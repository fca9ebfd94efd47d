/* vt_web: the dashboard's files, built into the binary. */
#ifndef VT_WEB_H
#define VT_WEB_H

#include <stddef.h>

struct vt_web_asset {
	const char *path;		/* canonical route, e.g. "/app.js" */
	const char *content_type;
	const unsigned char *data;	/* NUL-terminated after len bytes */
	size_t len;
};

/* The asset served at a request path (a query string is ignored):
 * "/", "/debug" and "/debug/" give the page, "/app.js", "/model.js" and
 * "/style.css" its parts. NULL for anything else. */
const struct vt_web_asset *vt_web_find(const char *path);

#endif /* VT_WEB_H */

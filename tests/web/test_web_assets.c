/* vt_web_find against the files in web/: every route serves the exact bytes
 * of its file with the right type, aliases and query strings resolve, and
 * nothing else is served. Run from the repository root. */
#include <stdlib.h>

#include "vt_test.h"
#include "serve/vt_web.h"

static unsigned char *slurp(const char *file, size_t *len)
{
	FILE *f = fopen(file, "rb");
	unsigned char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void check_asset(const char *route, const char *file, const char *type)
{
	const struct vt_web_asset *a = vt_web_find(route);
	size_t len = 0;
	unsigned char *want = slurp(file, &len);

	CHECK(want != NULL);
	CHECK(a != NULL);
	if (!a || !want) {
		fprintf(stderr, "route %s / file %s missing\n", route, file);
		free(want);
		return;
	}
	CHECK_STR(a->content_type, type);
	CHECK_EQ_U64(a->len, len);
	CHECK(a->len == len && !memcmp(a->data, want, len));
	CHECK(a->data[a->len] == 0);
	CHECK(len > 0);
	free(want);
}

int main(void)
{
	static const char *const page[] = { "/", "/debug/", "/debug",
					    "/?x=1", "/debug/#top" };
	static const char *const missing[] = { "", "/index.html", "/app.js/",
					       "/debug/app.js", "/app", "//",
					       "/style.cssx", "/debugx" };
	size_t i;

	for (i = 0; i < sizeof(page) / sizeof(page[0]); i++) {
		check_asset(page[i], "web/index.html", "text/html; charset=utf-8");
		CHECK_STR(vt_web_find(page[i])->path, "/");
	}
	check_asset("/app.js", "web/app.js", "text/javascript; charset=utf-8");
	check_asset("/model.js?v=2", "web/model.js",
		    "text/javascript; charset=utf-8");
	check_asset("/timeline.js", "web/timeline.js",
		    "text/javascript; charset=utf-8");
	check_asset("/style.css", "web/style.css", "text/css; charset=utf-8");
	for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		CHECK(vt_web_find(missing[i]) == NULL);
		if (vt_web_find(missing[i]))
			fprintf(stderr, "unexpected asset for \"%s\"\n",
				missing[i]);
	}
	CHECK(vt_web_find(NULL) == NULL);
	return vt_test_done("test_web_assets");
}

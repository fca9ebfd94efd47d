/* The dashboard's files, embedded at build time (assembled from the
 * repository root, so the paths below are relative to it), and the table
 * vt_web.c searches: struct vt_web_asset {path, content_type, data, len},
 * four 8-byte words each (LP64 only; vt_web.c asserts the size). */

	.macro vt_asset name, route, type, file
	.section .rodata.vt_web, "a"
	.balign 16
\name\()_data:
	.incbin "\file"
\name\()_end:
	.byte 0		/* a NUL after each file: readable as a C string */
\name\()_route:
	.asciz "\route"
\name\()_type:
	.asciz "\type"
	.section .data.rel.ro.vt_web, "aw"
	.quad \name\()_route, \name\()_type, \name\()_data
	.quad \name\()_end - \name\()_data
	.endm

	.section .data.rel.ro.vt_web, "aw"
	.balign 8
	.global vt_web_assets
	.type vt_web_assets, @object
vt_web_assets:
	vt_asset index_html, "/", "text/html; charset=utf-8", "web/index.html"
	vt_asset app_js, "/app.js", "text/javascript; charset=utf-8", "web/app.js"
	vt_asset model_js, "/model.js", "text/javascript; charset=utf-8", "web/model.js"
	vt_asset timeline_js, "/timeline.js", "text/javascript; charset=utf-8", "web/timeline.js"
	vt_asset style_css, "/style.css", "text/css; charset=utf-8", "web/style.css"
	.section .data.rel.ro.vt_web, "aw"
	.size vt_web_assets, . - vt_web_assets
	.quad 0, 0, 0, 0	/* terminator: path NULL */

	.section .note.GNU-stack, "", @progbits

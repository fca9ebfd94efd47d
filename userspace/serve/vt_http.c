/* vt_http: what both protocols (vt_http1, vt_http2) do with a request
 * once it is parsed: keep the few headers the server looks at, admit it
 * (a Host of this server, the token when one is set) and route it to the
 * collector's callback or to an SSE channel; and the status lines and
 * error bodies of every answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/vt_server_int.h"


const char *vt_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 401: return "Unauthorized";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static void error_body(struct vt_http_response *out)
{
	int n = asprintf(&out->body, "%d %s\n", out->status,
			 vt_http_reason(out->status));

	if (n < 0)
		out->body = NULL;
	out->len = n < 0 ? 0 : (size_t)n;
}

void vt_http_error(struct vt_http_response *out, int status)
{
	*out = (struct vt_http_response){
		.status = status,
		.content_type = "text/plain; charset=utf-8",
	};
	error_body(out);
}

/* Splits an origin-form ("/p?q") or absolute-form ("http://h/p?q") target
 * in place. */
static bool split_target(char *t, const char **path, const char **query)
{
	char *q;

	if (t[0] != '/') {
		char *auth = strstr(t, "://");

		if (!auth || auth == t)
			return false;
		t = auth + 3 + strcspn(auth + 3, "/?#");
	}
	t[strcspn(t, "#")] = '\0';
	q = strchr(t, '?');
	if (q)
		*q++ = '\0';
	*path = *t ? t : "/";
	*query = q ? q : "";
	return true;
}

static void route_request(struct vt_server *srv, const char *path,
			  const char *query, struct vt_http_response *out)
{
	*out = (struct vt_http_response){
		.status = 404,
		.content_type = "text/plain; charset=utf-8",
	};
	srv->route(srv->ctx, path, query, out);
	if (out->status < 100 || out->status > 599) {
		fprintf(stderr, "valk-trace: route %s answered status %d; "
			"sending 500\n", path, out->status);
		free(out->body);
		vt_http_error(out, 500);
		return;
	}
	if (!out->content_type)
		out->content_type = "text/plain; charset=utf-8";
	if (!out->body)
		out->len = 0;
	if (!out->body && out->status >= 400)
		error_body(out);
}

/* Whether name (len bytes, any case) is one of the comma-separated
 * names in list. */
static bool listed(const char *list, const char *name, size_t len)
{
	while (list && *list) {
		size_t n = strcspn(list, ",");

		if (n == len && !strncasecmp(list, name, len))
			return true;
		list += n + (list[n] == ',');
	}
	return false;
}

/* A Host this server answers: none at all (HTTP/1.0), localhost, the
 * address the client connected to, or an --allow-host name; the port is
 * not compared. Anything else is a name an attacker's page resolved to
 * us (DNS rebinding). */
static bool host_ok(const struct vt_conn *c, const char *host)
{
	const char *end = strrchr(host, ':');
	size_t len = strlen(host);

	if (!*host)
		return true;
	if (*host == '[') {	/* [v6]:port */
		end = strchr(host, ']');
		if (!end)
			return false;
		host++;
		len = (size_t)(end - host);
	} else if (end && !strchr(end + 1, ']') && end == strchr(host, ':')) {
		len = (size_t)(end - host);
	}
	return listed("localhost,127.0.0.1,::1", host, len) ||
	       (len == strlen(c->local) && !strncasecmp(host, c->local, len)) ||
	       listed(c->srv->opts.allow_hosts, host, len);
}

static const char *const kept_names[VT_H_KEPT] = {
	[VT_H_LAST_ID] = "last-event-id", [VT_H_HOST] = "host",
	[VT_H_AUTH] = "authorization", [VT_H_COOKIE] = "cookie",
};

int vt_http_hdrs_which(const char *name, size_t len)
{
	for (int i = 0; i < VT_H_KEPT; i++)
		if (strlen(kept_names[i]) == len &&
		    !memcmp(kept_names[i], name, len))
			return i;
	return len == 10 && !memcmp(name, ":authority", 10) ? VT_H_HOST : -1;
}

void vt_http_hdrs_add(struct vt_http_hdrs *h, int which, const char *v,
		      size_t n, bool first)
{
	size_t *len = &h->len[which];
	char *b = h->v[which];

	if (*len == SIZE_MAX)	/* already unusable */
		return;
	if (first && *len && which == VT_H_COOKIE && *len + 2 < VT_HDR_KEEP) {
		memcpy(b + *len, "; ", 2);
		*len += 2;
	} else if (first && *len) {
		n = SIZE_MAX;	/* twice: matches nothing */
	}
	if (n >= VT_HDR_KEEP - *len) {
		strcpy(b, "-");
		*len = SIZE_MAX;
		return;
	}
	memcpy(b + *len, v, n);
	*len += n;
	b[*len] = '\0';
}

/* Equal, in a time that depends on the lengths only. */
static bool same_secret(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	unsigned char d = alen != blen;

	for (size_t i = 0; i < alen && i < blen; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

/* The value of name=... in a list split by sep ("; " cookies, "&"
 * queries), or NULL; *len its length. */
static const char *param(const char *list, const char *name, char sep,
			 size_t *len)
{
	size_t n = strlen(name);

	while (list && *list) {
		while (*list == ' ')
			list++;
		if (!strncmp(list, name, n) && list[n] == '=') {
			*len = strcspn(list + n + 1, (char[]){ sep, 0 });
			return list + n + 1;
		}
		list = strchr(list, sep);
		list = list ? list + 1 : NULL;
	}
	return NULL;
}

/* With a token: 1 for a Bearer header or the cookie, 2 for ?token= (the
 * reply then sets the cookie, for an EventSource or a browser tab), 0
 * without it. */
static int token_ok(const struct vt_server *srv,
		    const struct vt_http_hdrs *hd, const char *query)
{
	const char *tok = srv->opts.token, *v;
	size_t n;

	if (!tok)
		return 1;
	if (!strncmp(hd->v[VT_H_AUTH], "Bearer ", 7) &&
	    same_secret(hd->v[VT_H_AUTH] + 7, strlen(hd->v[VT_H_AUTH] + 7), tok))
		return 1;
	if ((v = param(hd->v[VT_H_COOKIE], "vt_token", ';', &n)) &&
	    same_secret(v, n, tok))
		return 1;
	if ((v = param(query, "token", '&', &n)) && same_secret(v, n, tok))
		return 2;
	return 0;
}

enum vt_reply vt_http_dispatch(struct vt_conn *c, const char *target,
			       size_t target_len,
			       const struct vt_http_hdrs *hd,
			       void (*wake)(void *), void *arg,
			       struct vt_http_response *out,
			       struct vt_sse_sub **sub)
{
	char *t;
	const char *path, *query;
	struct vt_sse_channel *ch;
	int auth;

	if (!host_ok(c, hd->v[VT_H_HOST])) {
		vt_http_error(out, 421);
		return VT_REPLY_PLAIN;
	}
	t = strndup(target, target_len);
	if (!t || strlen(t) != target_len || !split_target(t, &path, &query)) {
		vt_http_error(out, t ? 400 : 500);
		free(t);
		return VT_REPLY_PLAIN;
	}
	auth = token_ok(c->srv, hd, query);
	if (!auth) {
		free(t);
		vt_http_error(out, 401);
		return VT_REPLY_PLAIN;
	}
	ch = vt_sse__find(c->srv, path);
	if (!ch)
		route_request(c->srv, path, query, out);
	free(t);
	if (!ch) {
		out->set_cookie = auth == 2 ? c->srv->cookie : NULL;
		return VT_REPLY_PLAIN;
	}
	if (sub && !(*sub = vt_sse__sub_new(ch, c, hd->v[VT_H_LAST_ID], wake,
					      arg))) {
		vt_http_error(out, 500);
		return VT_REPLY_PLAIN;
	}
	*out = (struct vt_http_response){
		.status = 200,
		.content_type = "text/event-stream; charset=utf-8",
		.cache_control = "no-cache",
		.set_cookie = auth == 2 ? c->srv->cookie : NULL,
	};
	return VT_REPLY_SSE;
}

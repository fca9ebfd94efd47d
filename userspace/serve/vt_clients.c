/* vt_clients: each client address's share of the server's connections,
 * and making room for a new one by closing an idle one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/vt_server_int.h"

/* The connection count of each client address, open addressing over
 * 2 * max_conns slots. An address whose count fell to 0 keeps its slot
 * (probe chains stay whole) until the table is rebuilt from the open
 * connections. */
struct vt_client {
	char ip[48];
	unsigned n;
};

bool vt_clients_init(struct vt_server *srv)
{
	srv->nclients = 2 * (size_t)srv->opts.max_conns + 1;
	srv->clients = calloc(srv->nclients, sizeof(*srv->clients));
	return srv->clients;
}

static uint32_t ip_hash(const char *ip)
{
	uint32_t h = 2166136261u;

	while (*ip)
		h = (h ^ (uint8_t)*ip++) * 16777619u;
	return h;
}

static struct vt_client *client_slot(struct vt_server *srv, const char *ip)
{
	size_t n = srv->nclients, i = ip_hash(ip) % n;

	for (size_t k = 0; k < n; k++, i = (i + 1) % n)
		if (!*srv->clients[i].ip || !strcmp(srv->clients[i].ip, ip))
			return &srv->clients[i];
	return NULL;
}

/* Every slot taken: keep only the addresses of open connections. */
static void clients_rebuild(struct vt_server *srv)
{
	struct vt_conn *c;

	memset(srv->clients, 0, srv->nclients * sizeof(*srv->clients));
	LIST_FOREACH(c, &srv->conns, link) {
		struct vt_client *k = *c->ip ? client_slot(srv, c->ip) : NULL;

		if (k) {
			snprintf(k->ip, sizeof(k->ip), "%s", c->ip);
			k->n++;
		}
	}
}

static struct vt_client *client_of(struct vt_server *srv, const char *ip)
{
	struct vt_client *k = client_slot(srv, ip);

	if (!k) {
		clients_rebuild(srv);
		k = client_slot(srv, ip);
	}
	if (k && !*k->ip)
		snprintf(k->ip, sizeof(k->ip), "%s", ip);
	return k;
}

/* The oldest connection of address ip but `except` with nothing in
 * progress. */
static struct vt_conn *idle_of(struct vt_server *srv, const char *ip,
			       const struct vt_conn *except)
{
	struct vt_conn *o, *best = NULL;

	LIST_FOREACH(o, &srv->conns, link)
		if (o != except && !strcmp(o->ip, ip) && !o->inflight &&
		    !o->queued &&
		    !o->held && LIST_EMPTY(&o->subs) &&
		    (!best || o->active_ms < best->active_ms))
			best = o;
	return best;
}

/* Closes the oldest idle connection of address ip other than c (an idle
 * connection answers nothing and streams nothing: a fresh one is likelier
 * to be someone looking). False when it has none. */
static bool evict(struct vt_server *srv, const char *ip,
		  const struct vt_conn *c)
{
	struct vt_conn *victim = idle_of(srv, ip, c);

	if (!victim)
		return false;
	srv->stats.evicted++;
	vt_conn_close(victim);
	return true;
}

/* The address holding the most connections. */
static const char *top_client(const struct vt_server *srv)
{
	const struct vt_client *top = NULL;

	for (size_t i = 0; i < srv->nclients; i++)
		if (!top || srv->clients[i].n > top->n)
			top = &srv->clients[i];
	return top && top->n ? top->ip : NULL;
}

/* A client address at its per_client share, or a full server, first
 * makes room by closing an idle connection (the client's own, or the
 * largest holder's); only then is the new one refused. */
bool vt_clients_admit(struct vt_conn *c)
{
	struct vt_server *srv = c->srv;
	struct vt_client *k = client_of(srv, c->ip);
	const char *top;

	if (!k || (k->n >= srv->opts.per_client && !evict(srv, c->ip, c))) {
		srv->stats.refused_share++;
		*c->ip = '\0';		/* counts in no share */
		return false;
	}
	k->n++;
	if (srv->stats.conns <= srv->opts.max_conns ||
	    ((top = top_client(srv)) && evict(srv, top, c)))
		return true;
	srv->stats.refused++;
	return false;
}

void vt_clients_gone(struct vt_conn *c)
{
	struct vt_client *k = *c->ip ? client_slot(c->srv, c->ip) : NULL;

	if (k && k->n)
		k->n--;
}

/* SPDX-License-Identifier: MIT
 * evctl.c - a daemon's control socket served from its libevent loop
 * (lib/evctl.h): the replicator's and mailmesh-hbmon's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include "evctl.h"
#include "mem.h"

struct mm_evctl {
	struct evconnlistener *listener;
	char *path;
	mm_evctl_line_cb *cb;
	void *arg;
};

static void on_written(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

void mm_evctl_reply(struct bufferevent *bev, const void *data, size_t len)
{
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, on_written, NULL, NULL);
	bufferevent_write(bev, data, len);
}

static void on_line(struct bufferevent *bev, void *arg)
{
	const struct mm_evctl *c = arg;
	size_t n;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &n, EVBUFFER_EOL_LF);

	if (line == NULL)
		return;
	c->cb(bev, line, c->arg);
	free(line);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct bufferevent *bev;

	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, on_line, NULL, on_event, arg);
	bufferevent_enable(bev, EV_READ);
}

struct mm_evctl *mm_evctl_listen(struct event_base *base, const char *path,
				 mm_evctl_line_cb *cb, void *arg, const char **error_r)
{
	static char err[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mm_evctl *c;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, sizeof(err), "%s: path too long for a socket", path);
		*error_r = err;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	c = mm_calloc(1, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	c->listener = evconnlistener_new_bind(base, on_accept, c, LEV_OPT_CLOSE_ON_FREE |
					      LEV_OPT_CLOSE_ON_EXEC, 16,
					      (struct sockaddr *)&sa, sizeof(sa));
	if (c->listener == NULL) {
		snprintf(err, sizeof(err), "control socket %s: %s", path, strerror(errno));
		*error_r = err;
		free(c);
		return NULL;
	}
	chmod(path, 0600);
	c->path = mm_strdup(path);
	return c;
}

void mm_evctl_close(struct mm_evctl **cp)
{
	struct mm_evctl *c = *cp;

	if (c == NULL)
		return;
	evconnlistener_free(c->listener);
	unlink(c->path);
	free(c->path);
	mm_free(cp);
}

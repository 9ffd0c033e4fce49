/* SPDX-License-Identifier: MIT
 * evctl.h - the server side of a daemon's control socket in a libevent
 * loop: a unix socket (mode 0600), one request line per connection. */
#ifndef MM_EVCTL_H
#define MM_EVCTL_H
#include <stddef.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

/* Called with each connection's request line (no newline). It answers
   with mm_evctl_reply(), or keeps bev to answer later (it then owns it). */
typedef void mm_evctl_line_cb(struct bufferevent *bev, const char *line, void *arg);

struct mm_evctl;
/* Listens on path (replacing a stale socket). NULL with *error_r (static)
   when it cannot. */
struct mm_evctl *mm_evctl_listen(struct event_base *base, const char *path,
				 mm_evctl_line_cb *cb, void *arg, const char **error_r);
/* Writes the reply and closes the connection once it is out. */
void mm_evctl_reply(struct bufferevent *bev, const void *data, size_t len);
/* Stops listening and removes the socket; *cp becomes NULL. */
void mm_evctl_close(struct mm_evctl **cp);

#endif

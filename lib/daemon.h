/* SPDX-License-Identifier: MIT
 * daemon.h - what mailmesh-replicator and mailmesh-hbmon do alike to start
 * and stop: the state directory, detaching, and stopping on signals. */
#ifndef MM_DAEMON_H
#define MM_DAEMON_H
#include <stdbool.h>
#include <event2/event.h>

/* Creates dir (mode 0700) unless it exists. 0, or -1 with errno. */
int mm_daemon_mkdir(const char *dir);
/* Ignores SIGPIPE and, unless foreground, detaches (daemon(3)) and logs to
   syslog as ident from then on. 0, or -1 with errno (logged by the caller). */
int mm_daemon_detach(const char *ident, bool foreground);

/* SIGTERM, SIGINT and SIGHUP: log and leave base's loop. */
struct mm_daemon_sigs {
	struct event *ev[3];
};
void mm_daemon_sigs_add(struct mm_daemon_sigs *s, struct event_base *base);
/* Frees what mm_daemon_sigs_add() made; s may be zeroed (never added). */
void mm_daemon_sigs_free(struct mm_daemon_sigs *s);

#endif

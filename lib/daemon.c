/* SPDX-License-Identifier: MIT
 * daemon.c - start-up and stop shared by the replicator and hbmon
 * (daemon.h): state directory, detach, signals that end the loop. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"

int mm_daemon_mkdir(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int mm_daemon_detach(const char *ident, bool foreground)
{
	signal(SIGPIPE, SIG_IGN);
	if (foreground)
		return 0;
	if (daemon(0, 0) < 0)
		return -1;
	mm_log_init(ident, false);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	mm_log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

void mm_daemon_sigs_add(struct mm_daemon_sigs *s, struct event_base *base)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		s->ev[i] = evsignal_new(base, sigs[i], on_signal, base);
		event_add(s->ev[i], NULL);
	}
}

void mm_daemon_sigs_free(struct mm_daemon_sigs *s)
{
	for (size_t i = 0; i < sizeof(s->ev) / sizeof(s->ev[0]); i++)
		if (s->ev[i] != NULL) {
			event_free(s->ev[i]);
			s->ev[i] = NULL;
		}
}

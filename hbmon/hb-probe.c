/* SPDX-License-Identifier: MIT
 * hb-probe.c - the I/O half of health: the store probe (create, write one
 * byte, fsync, remove), /proc/pressure/{io,cpu,memory} and statvfs. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include "hb-probe.h"
#include "mem.h"

/* Dot-names at the store root are never accounts (mm_acct_list skips
   them) and the probe bypasses the mount, so it is never journaled. */
#define PROBE_NAME ".mm-hbprobe"

struct hb_probe {
	char *dir, *path;
	unsigned int interval_ms, delay_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	/* under lock */
	struct hb_health_figures f;
	uint64_t started_us;	/* of the probe in progress, 0: none */
	bool fresh;
	char error[256];
	char error_main[256];	/* the loop's copy, handed out */
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void hb_cond_init_mono(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

void hb_mono_in(unsigned int ms, struct timespec *ts_r)
{
	clock_gettime(CLOCK_MONOTONIC, ts_r);
	ts_r->tv_nsec += (long)(ms % 1000) * 1000000;
	ts_r->tv_sec += ms / 1000 + ts_r->tv_nsec / 1000000000;
	ts_r->tv_nsec %= 1000000000;
}

int hb_probe_pressure(const char *path)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned int whole, frac;

		if (sscanf(line, "some avg10=%u.%2u", &whole, &frac) == 2 && whole <= 100) {
			ret = (int)(whole * 100 + frac);
			break;
		}
	}
	fclose(f);
	return ret;
}

static int probe_once(struct hb_probe *p, char *error, size_t esize)
{
	int fd = open(p->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(error, esize, "open(%s) failed: %s", p->path, strerror(errno));
		return -1;
	}
	if (write(fd, "x", 1) != 1) {
		snprintf(error, esize, "write(%s) failed: %s", p->path, strerror(errno));
		close(fd);
		unlink(p->path);
		return -1;
	}
	unsigned int delay = __atomic_load_n(&p->delay_ms, __ATOMIC_RELAXED);

	if (delay > 0)
		usleep(delay * 1000);
	if (fsync(fd) < 0) {
		snprintf(error, esize, "fsync(%s) failed: %s", p->path, strerror(errno));
		close(fd);
		unlink(p->path);
		return -1;
	}
	close(fd);
	if (unlink(p->path) < 0) {
		snprintf(error, esize, "unlink(%s) failed: %s", p->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void *probe_thread(void *arg)
{
	struct hb_probe *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct hb_health_figures f = { 0 };
		struct statvfs vfs;
		char error[256] = "";
		uint64_t t0 = mono_us();
		int v;

		p->started_us = t0;
		pthread_mutex_unlock(&p->lock);
		f.probe_failed = probe_once(p, error, sizeof(error)) < 0;
		f.probe_us = (uint32_t)(mono_us() - t0);
		f.pressure_io = (v = hb_probe_pressure("/proc/pressure/io")) < 0 ? 0 : v;
		f.pressure_cpu = (v = hb_probe_pressure("/proc/pressure/cpu")) < 0 ? 0 : v;
		f.pressure_mem = (v = hb_probe_pressure("/proc/pressure/memory")) < 0 ? 0 : v;
		if (statvfs(p->dir, &vfs) == 0)
			f.free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		else if (error[0] == '\0')
			snprintf(error, sizeof(error), "statvfs(%s) failed: %s", p->dir,
				 strerror(errno));
		pthread_mutex_lock(&p->lock);
		p->f = f;
		p->started_us = 0;
		p->fresh = true;
		memcpy(p->error, error, sizeof(error));
		if (!p->stop) {
			struct timespec ts;

			hb_mono_in(p->interval_ms, &ts);
			while (!p->stop &&
			       pthread_cond_timedwait(&p->cond, &p->lock, &ts) != ETIMEDOUT)
				;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void hb_probe_set_delay(struct hb_probe *p, unsigned int delay_ms)
{
	__atomic_store_n(&p->delay_ms, delay_ms, __ATOMIC_RELAXED);
}

int hb_probe_start(const char *dir, unsigned int interval_ms, unsigned int delay_ms,
		   struct hb_probe **probe_r, const char **error_r)
{
	static char err[256];
	struct hb_probe *p = mm_calloc(1, sizeof(*p));
	int e;

	p->dir = mm_strdup(dir);
	p->path = mm_strdup_printf("%s/" PROBE_NAME, dir);
	p->interval_ms = interval_ms;
	p->delay_ms = delay_ms;
	pthread_mutex_init(&p->lock, NULL);
	hb_cond_init_mono(&p->cond);
	if ((e = pthread_create(&p->thread, NULL, probe_thread, p)) != 0) {
		snprintf(err, sizeof(err), "pthread_create failed: %s", strerror(e));
		*error_r = err;
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p->dir);
		free(p->path);
		free(p);
		return -1;
	}
	*probe_r = p;
	return 0;
}

void hb_probe_stop(struct hb_probe **probe_r)
{
	struct hb_probe *p = *probe_r;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->dir);
	free(p->path);
	free(p);
	*probe_r = NULL;
}

int hb_probe_get(struct hb_probe *p, struct hb_health_figures *f_r, const char **error_r)
{
	int fresh;

	pthread_mutex_lock(&p->lock);
	*f_r = p->f;
	if (p->started_us != 0) {
		uint64_t so_far = mono_us() - p->started_us;

		/* a probe stuck in fsync is as slow as it has been so far */
		if (so_far > f_r->probe_us)
			f_r->probe_us = so_far > UINT32_MAX ? UINT32_MAX : (uint32_t)so_far;
	}
	fresh = p->fresh ? 1 : 0;
	p->fresh = false;
	memcpy(p->error_main, p->error, sizeof(p->error_main));
	*error_r = p->error_main;
	pthread_mutex_unlock(&p->lock);
	return fresh;
}

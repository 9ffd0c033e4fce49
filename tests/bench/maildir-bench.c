/* SPDX-License-Identifier: MIT
 * maildir-bench.c - Maildir workload benchmark: timed deliver, move, flag,
 * warm read and expunge phases run by parallel writers under one directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF	(64 * 1024)
#define SIZE_SMALL	(4 * 1024)
#define SIZE_MEDIUM	(40 * 1024)
#define SIZE_LARGE	(400 * 1024)
#define MAX_WRITERS	1024
#define MSG_NAME_LEN	96
#define DATE_BASE	1732440000LL

enum step {
	ST_DELIVER,
	ST_MOVE,
	ST_FLAGS,
	ST_WARM,
	ST_READ,
	ST_EXPUNGE,
	ST_COUNT
};

static const struct {
	const char *name;
	int timed;
	int bytes;
} steps[ST_COUNT] = {
	[ST_DELIVER] = { "deliver", 1, 1 },
	[ST_MOVE] = { "move", 1, 0 },
	[ST_FLAGS] = { "flags", 1, 0 },
	[ST_WARM] = { "warmup", 0, 1 },
	[ST_READ] = { "read", 1, 1 },
	[ST_EXPUNGE] = { "expunge", 1, 0 },
};

struct msg {
	char name[MSG_NAME_LEN];	/* base name, without ":2,..." */
	size_t size;
	uint64_t idx;			/* global message index */
};

struct writer {
	pthread_t thread;
	int id;
	char maildir[PATH_MAX];
	struct msg *msgs;
	size_t count;
	uint64_t first;
	char *buf;
	uint64_t ops;
	uint64_t bytes;
	struct timespec t0;
	struct timespec t1;
};

static const char *opt_dir;
static const char *opt_domain = "bench.example";
static uint64_t opt_n = 2000;
static int opt_writers = 1;
static uint64_t opt_seed = 1;
static int opt_json;

static char *filler;
static pid_t self_pid;
static uint64_t name_seq;
static pthread_barrier_t step_start;
static pthread_barrier_t step_end;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail_msg(const char *call, const char *path, const char *why)
{
	pthread_mutex_lock(&fail_lock);
	fflush(stdout);
	fprintf(stderr, "maildir-bench: %s(%s) failed: %s\n", call, path, why);
	exit(1);
}

static void fail(const char *call, const char *path, int err)
{
	fail_msg(call, path, strerror(err));
}

static void fail_rename(const char *from, const char *to, int err)
{
	char both[2 * PATH_MAX + 8];

	snprintf(both, sizeof(both), "%s -> %s", from, to);
	fail("rename", both, err);
}

static void mkpath(char *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mkpath(char *out, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (len < 0 || len >= PATH_MAX)
		fail("snprintf", fmt, ENAMETOOLONG);
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Size of message k: ~60% 4 KiB, 30% 40 KiB, 10% 400 KiB, fixed by seed. */
static size_t msg_size(uint64_t k)
{
	uint64_t r = mix64(opt_seed ^ mix64(k)) % 100;

	if (r < 60)
		return SIZE_SMALL;
	if (r < 90)
		return SIZE_MEDIUM;
	return SIZE_LARGE;
}

/* Body text: lines of pseudo-words, shared read-only by all writers. */
static void make_filler(void)
{
	uint64_t state = mix64(opt_seed ^ 0x66696c6c6572ULL);
	size_t pos = 0, col = 0;

	filler = malloc(SIZE_LARGE);
	if (!filler)
		fail("malloc", "filler", ENOMEM);
	while (pos < SIZE_LARGE) {
		uint64_t r = mix64(state++);
		size_t wlen = 2 + r % 8, i;

		if (col + wlen + 1 > 72) {
			filler[pos++] = '\n';
			col = 0;
			continue;
		}
		if (col) {
			filler[pos++] = ' ';
			col++;
		}
		for (i = 0; i < wlen && pos < SIZE_LARGE; i++, col++) {
			filler[pos++] = 'a' + (r >> 8) % 26;
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		}
	}
}

static size_t format_headers(const struct writer *w, const struct msg *m,
			     char *buf, size_t cap)
{
	time_t when = (time_t)(DATE_BASE + m->idx);
	uint64_t id = mix64(opt_seed ^ (m->idx << 1));
	struct tm tm;
	char date[64];
	int len;

	gmtime_r(&when, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	len = snprintf(buf, cap,
		"Return-Path: <sender%" PRIu64 "@example.org>\n"
		"Delivered-To: u%d@%s\n"
		"Received: from mx%u.example.org (mx%u.example.org [192.0.2.%u])\n"
		"\tby mx.%s (mailmesh-bench) with ESMTPS id %016" PRIx64 "\n"
		"\tfor <u%d@%s>; %s\n"
		"Date: %s\n"
		"From: Sender %" PRIu64 " <sender%" PRIu64 "@example.org>\n"
		"To: User %d <u%d@%s>\n"
		"Subject: Benchmark message %" PRIu64 " (%zu bytes)\n"
		"Message-ID: <%016" PRIx64 ".%" PRIu64 "@example.org>\n"
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"Content-Transfer-Encoding: 7bit\n"
		"\n",
		m->idx % 1000, w->id, opt_domain,
		(unsigned)(id % 8), (unsigned)(id % 8), (unsigned)(id % 250 + 1),
		opt_domain, id, w->id, opt_domain, date,
		date,
		m->idx % 1000, m->idx % 1000,
		w->id, w->id, opt_domain,
		m->idx, m->size,
		id, m->idx);
	if (len < 0 || (size_t)len >= cap)
		fail_msg("snprintf", "headers", "message too small for headers");
	return (size_t)len;
}

static void write_all(int fd, const char *buf, size_t len, const char *path)
{
	while (len) {
		ssize_t got = write(fd, buf, len);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			fail("write", path, errno);
		}
		if (got == 0)
			fail_msg("write", path, "wrote 0 bytes");
		buf += got;
		len -= (size_t)got;
	}
}

static void deliver_one(struct writer *w, struct msg *m)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	struct timeval tv;
	size_t hlen;
	uint64_t q;
	int fd;

	hlen = format_headers(w, m, w->buf, m->size);
	memcpy(w->buf + hlen, filler + hlen, m->size - hlen - 1);
	w->buf[m->size - 1] = '\n';

	gettimeofday(&tv, NULL);
	q = __atomic_fetch_add(&name_seq, 1, __ATOMIC_RELAXED);
	snprintf(m->name, sizeof(m->name), "%lld.M%06ldP%ldQ%" PRIu64
		 ".bench,S=%zu", (long long)tv.tv_sec, (long)tv.tv_usec,
		 (long)self_pid, q, m->size);
	mkpath(tmp, "%s/tmp/%s", w->maildir, m->name);
	mkpath(dst, "%s/new/%s", w->maildir, m->name);

	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("open", tmp, errno);
	write_all(fd, w->buf, m->size, tmp);
	if (fsync(fd) < 0)
		fail("fsync", tmp, errno);
	if (close(fd) < 0)
		fail("close", tmp, errno);
	if (rename(tmp, dst) < 0)
		fail_rename(tmp, dst, errno);
	w->bytes += m->size;
}

static void rename_one(struct writer *w, const struct msg *m,
		       const char *from_fmt, const char *to_fmt)
{
	char from[PATH_MAX], to[PATH_MAX];

	mkpath(from, from_fmt, w->maildir, m->name);
	mkpath(to, to_fmt, w->maildir, m->name);
	if (rename(from, to) < 0)
		fail_rename(from, to, errno);
}

static void read_one(struct writer *w, const struct msg *m)
{
	char path[PATH_MAX], why[96];
	size_t total = 0;
	int fd;

	mkpath(path, "%s/cur/%s:2,S", w->maildir, m->name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open", path, errno);
	for (;;) {
		ssize_t got = read(fd, w->buf, READ_BUF);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			fail("read", path, errno);
		}
		if (got == 0)
			break;
		total += (size_t)got;
	}
	if (close(fd) < 0)
		fail("close", path, errno);
	if (total != m->size) {
		snprintf(why, sizeof(why), "read %zu bytes, expected %zu",
			 total, m->size);
		fail_msg("read", path, why);
	}
	w->bytes += total;
}

static void unlink_one(struct writer *w, const struct msg *m)
{
	char path[PATH_MAX];

	mkpath(path, "%s/cur/%s:2,S", w->maildir, m->name);
	if (unlink(path) < 0)
		fail("unlink", path, errno);
}

static void run_step(struct writer *w, enum step st)
{
	size_t i;

	for (i = 0; i < w->count; i++) {
		struct msg *m = &w->msgs[i];

		switch (st) {
		case ST_DELIVER:
			deliver_one(w, m);
			break;
		case ST_MOVE:
			rename_one(w, m, "%s/new/%s", "%s/cur/%s:2,");
			break;
		case ST_FLAGS:
			rename_one(w, m, "%s/cur/%s:2,", "%s/cur/%s:2,S");
			break;
		case ST_WARM:
		case ST_READ:
			read_one(w, m);
			break;
		case ST_EXPUNGE:
			if (m->idx % 2)
				continue;
			unlink_one(w, m);
			break;
		default:
			break;
		}
		w->ops++;
	}
}

static void barrier_wait(pthread_barrier_t *b)
{
	int rc = pthread_barrier_wait(b);

	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
		fail("pthread_barrier_wait", "step", rc);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int st;

	for (st = 0; st < ST_COUNT; st++) {
		barrier_wait(&step_start);
		w->ops = 0;
		w->bytes = 0;
		clock_gettime(CLOCK_MONOTONIC, &w->t0);
		run_step(w, st);
		clock_gettime(CLOCK_MONOTONIC, &w->t1);
		barrier_wait(&step_end);
	}
	return NULL;
}

static double ts_sec(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

static void report(enum step st, struct writer *ws)
{
	double t0 = 0, t1 = 0, secs, rate, mbps = 0;
	uint64_t ops = 0, bytes = 0;
	int i;

	for (i = 0; i < opt_writers; i++) {
		double a = ts_sec(&ws[i].t0), b = ts_sec(&ws[i].t1);

		if (i == 0 || a < t0)
			t0 = a;
		if (i == 0 || b > t1)
			t1 = b;
		ops += ws[i].ops;
		bytes += ws[i].bytes;
	}
	secs = t1 - t0;
	if (secs <= 0)
		secs = 1e-9;
	rate = (double)ops / secs;
	if (steps[st].bytes)
		mbps = (double)bytes / secs / 1e6;

	if (opt_json) {
		printf("{\"phase\":\"%s\",\"writers\":%d,\"n\":%" PRIu64
		       ",\"ops\":%" PRIu64 ",\"seconds\":%.6f,"
		       "\"ops_per_s\":%.2f", steps[st].name, opt_writers,
		       opt_n, ops, secs, rate);
		if (steps[st].bytes)
			printf(",\"bytes\":%" PRIu64 ",\"mb_per_s\":%.2f",
			       bytes, mbps);
		printf("}\n");
	} else {
		printf("%s %" PRIu64 " %.6f %.2f", steps[st].name, ops, secs,
		       rate);
		if (steps[st].bytes)
			printf(" %.2f", mbps);
		printf("\n");
	}
	fflush(stdout);
}

static void mkdir_ok(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		fail("mkdir", path, errno);
}

static void setup_writer(struct writer *w, int id, uint64_t first,
			 size_t count)
{
	char path[PATH_MAX];
	size_t i;

	w->id = id;
	w->first = first;
	w->count = count;
	mkpath(w->maildir, "%s/%s/u%d", opt_dir, opt_domain, id);
	mkdir_ok(w->maildir);
	mkpath(path, "%s/cur", w->maildir);
	mkdir_ok(path);
	mkpath(path, "%s/new", w->maildir);
	mkdir_ok(path);
	mkpath(path, "%s/tmp", w->maildir);
	mkdir_ok(path);

	w->msgs = calloc(count ? count : 1, sizeof(*w->msgs));
	w->buf = malloc(SIZE_LARGE);
	if (!w->msgs || !w->buf)
		fail("malloc", w->maildir, ENOMEM);
	for (i = 0; i < count; i++) {
		w->msgs[i].idx = first + i;
		w->msgs[i].size = msg_size(first + i);
	}
}

static void usage(FILE *out, int status)
{
	fprintf(out,
		"usage: maildir-bench DIR [-n N] [-w WRITERS] [-s SEED] [-d DOMAIN] [--json]\n"
		"\n"
		"Creates DIR/DOMAIN/uW/{cur,new,tmp} for each writer W and runs the\n"
		"phases deliver, move, flags, read (warm) and expunge, N operations\n"
		"per phase split among the writers (expunge removes every other\n"
		"message). Prints one line per phase:\n"
		"  phase ops seconds ops_per_s [MB_per_s]   (MB/s for deliver, read)\n"
		"or one JSON object per line with --json.\n"
		"\n"
		"  -n N        messages per phase (default 2000)\n"
		"  -w WRITERS  parallel writers, one account each (default 1)\n"
		"  -s SEED     seed for message sizes and content (default 1)\n"
		"  -d DOMAIN   domain directory under DIR (default bench.example)\n"
		"  --json      JSON output\n");
	exit(status);
}

static uint64_t parse_num(const char *arg, const char *what, uint64_t min,
			  uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		fprintf(stderr, "maildir-bench: invalid %s: %s\n", what, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct writer *ws;
	char path[PATH_MAX];
	uint64_t first = 0;
	int c, i, st, rc;

	while ((c = getopt_long(argc, argv, "n:w:s:d:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			opt_n = parse_num(optarg, "N", 1, 100000000);
			break;
		case 'w':
			opt_writers = (int)parse_num(optarg, "WRITERS", 1,
						     MAX_WRITERS);
			break;
		case 's':
			opt_seed = parse_num(optarg, "SEED", 0, UINT64_MAX);
			break;
		case 'd':
			if (!*optarg || strchr(optarg, '/')) {
				fprintf(stderr, "maildir-bench: invalid DOMAIN: %s\n",
					optarg);
				exit(2);
			}
			opt_domain = optarg;
			break;
		case 'j':
			opt_json = 1;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc - 1)
		usage(stderr, 2);
	opt_dir = argv[optind];
	self_pid = getpid();

	make_filler();
	mkdir_ok(opt_dir);
	mkpath(path, "%s/%s", opt_dir, opt_domain);
	mkdir_ok(path);

	ws = calloc((size_t)opt_writers, sizeof(*ws));
	if (!ws)
		fail("malloc", "writers", ENOMEM);
	for (i = 0; i < opt_writers; i++) {
		size_t count = opt_n / opt_writers +
			((uint64_t)i < opt_n % opt_writers);

		setup_writer(&ws[i], i, first, count);
		first += count;
	}

	rc = pthread_barrier_init(&step_start, NULL, opt_writers + 1);
	if (!rc)
		rc = pthread_barrier_init(&step_end, NULL, opt_writers + 1);
	if (rc)
		fail("pthread_barrier_init", "step", rc);
	for (i = 0; i < opt_writers; i++) {
		rc = pthread_create(&ws[i].thread, NULL, writer_main, &ws[i]);
		if (rc)
			fail("pthread_create", ws[i].maildir, rc);
	}
	for (st = 0; st < ST_COUNT; st++) {
		barrier_wait(&step_start);
		barrier_wait(&step_end);
		if (steps[st].timed)
			report(st, ws);
	}
	for (i = 0; i < opt_writers; i++) {
		rc = pthread_join(ws[i].thread, NULL);
		if (rc)
			fail("pthread_join", ws[i].maildir, rc);
		free(ws[i].msgs);
		free(ws[i].buf);
	}
	pthread_barrier_destroy(&step_start);
	pthread_barrier_destroy(&step_end);
	free(ws);
	free(filler);
	return 0;
}

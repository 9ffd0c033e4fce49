#!/bin/bash
# SPDX-License-Identifier: MIT
# posix-semantics.sh - the POSIX behaviour mail software relies on, on a real
# mount (see /work/shared/MAILDIR-NOTES.md): O_EXCL, atomic rename, hard
# links, fsync, fcntl/flock locks, shared mmap of index files, exact times,
# statfs, large files, long names, ownership and permissions of an
# unprivileged caller, readdir during renames, and no attribute caching of
# index files changed behind the mount.
. "$(dirname "$0")/lib.sh"

mm_setup batch
mm_cc mmh <<'C'
/* mmh - posix-semantics.sh's helper: the checks shell tools cannot make. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define die(...) do { fprintf(stderr, "mmh: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A forked helper process dies with its parent, never outlives the test. */
static pid_t fork_child(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
	}
	return pid;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- excl-race PATTERN ROUNDS: two processes race O_CREAT|O_EXCL ---- */
static int cmd_excl_race(const char *pattern, int rounds)
{
	int bad = 0;

	for (int r = 0; r < rounds; r++) {
		char path[4096], buf[64];
		int gate[2], res[2], st, fd;
		pid_t pids[2];
		ssize_t n;

		snprintf(path, sizeof(path), pattern, r);
		if (pipe(gate) < 0)
			die("pipe: %s", strerror(errno));
		for (int k = 0; k < 2; k++) {
			pids[k] = fork_child();
			if (pids[k] == 0) {
				char c;

				close(gate[1]);
				if (read(gate[0], &c, 1) < 0)
					_exit(3);
				fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
				if (fd >= 0) {
					int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

					if (write_all(fd, buf, (size_t)len) < 0 || close(fd) < 0)
						_exit(4);
					_exit(0);
				}
				if (errno == EEXIST)
					_exit(1);
				fprintf(stderr, "mmh: O_EXCL create of %s: %s\n", path, strerror(errno));
				_exit(2);
			}
		}
		close(gate[0]);
		close(gate[1]);		/* both go */
		for (int k = 0; k < 2; k++) {
			if (waitpid(pids[k], &st, 0) < 0)
				die("waitpid: %s", strerror(errno));
			res[k] = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
		}
		if (!((res[0] == 0 && res[1] == 1) || (res[0] == 1 && res[1] == 0))) {
			fprintf(stderr, "mmh: %s: the racers ended %d and %d (want one 0 = created, "
				"one 1 = EEXIST)\n", path, res[0], res[1]);
			bad++;
			continue;
		}
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (atoi(buf) != (int)pids[res[0] == 0 ? 0 : 1]) {
			fprintf(stderr, "mmh: %s holds '%s', not the winner's pid %d\n", path, buf,
				(int)pids[res[0] == 0 ? 0 : 1]);
			bad++;
		}
	}
	printf("excl-race: %d rounds, %d bad\n", rounds, bad);
	return bad ? 1 : 0;
}

/* ---- rename-atomic A B N MIN_VALID ---- */
/* The parent renames A -> B -> A ... N times under a seqlock in shared
   memory; a watcher process meanwhile stats both names and opens whichever
   exists. In a window where no rename ran (same even sequence before and
   after), exactly the expected one of the two names must exist; any file it
   opens must be whole. Every third sample the watcher asks the renamer to
   pause between two renames, so there are such windows. */
struct seq_shared {
	uint64_t seq;
	int ready, done;
	long hold, parked;	/* the watcher's request to pause; the renamer's answer */
};

static unsigned char *slurp(const char *path, size_t *len_r)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *buf;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len_r = got;
	return buf;
}

static int cmd_rename_atomic(const char *a, const char *b, long n, long min_valid)
{
	struct seq_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	size_t want_len;
	unsigned char *want = slurp(a, &want_len), *got;
	pid_t pid;
	int st;

	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (want == NULL)
		die("%s: %s", a, strerror(errno));
	got = malloc(want_len + 4096);
	pid = fork_child();
	if (pid == 0) {
		long samples = 0, valid = 0, viol = 0, opened = 0, partial = 0;

		__atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST)) {
			struct stat sa, sb;
			uint64_t s1, s2;
			int ea, eb, erra, errb, fd;
			const char *first = (samples & 1) ? a : b, *second = (samples & 1) ? b : a;

			long req = samples % 3 == 0 ? samples + 1 : 0;

			if (req) {
				__atomic_store_n(&sh->hold, req, __ATOMIC_SEQ_CST);
				while (__atomic_load_n(&sh->parked, __ATOMIC_SEQ_CST) != req &&
				       !__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST))
					sched_yield();
			}
			s1 = __atomic_load_n(&sh->seq, __ATOMIC_SEQ_CST);
			ea = stat(a, &sa) == 0;
			erra = errno;
			eb = stat(b, &sb) == 0;
			errb = errno;
			s2 = __atomic_load_n(&sh->seq, __ATOMIC_SEQ_CST);
			if (req)
				__atomic_store_n(&sh->hold, 0, __ATOMIC_SEQ_CST);
			samples++;
			if ((!ea && erra != ENOENT) || (!eb && errb != ENOENT))
				die("watcher: stat: %s", strerror(!ea ? erra : errb));
			if (s1 == s2 && (s1 & 1) == 0) {
				int at_a = (s1 / 2) % 2 == 0;

				valid++;
				if (ea != at_a || eb != !at_a) {
					if (viol++ < 10)
						fprintf(stderr, "mmh: after %llu renames: %s %s, %s %s "
							"(want exactly %s)\n",
							(unsigned long long)(s1 / 2),
							a, ea ? "exists" : "missing",
							b, eb ? "exists" : "missing", at_a ? a : b);
				}
			}
			fd = open(first, O_RDONLY);
			if (fd < 0 && errno == ENOENT)
				fd = open(second, O_RDONLY);
			if (fd < 0 && errno != ENOENT)
				die("watcher: open: %s", strerror(errno));
			if (fd >= 0) {
				struct stat fs;
				size_t len = 0;
				ssize_t r;

				opened++;
				if (fstat(fd, &fs) < 0)
					die("watcher: fstat: %s", strerror(errno));
				while ((r = read(fd, got + len, want_len + 4096 - len)) > 0)
					len += (size_t)r;
				if (r < 0)
					die("watcher: read: %s", strerror(errno));
				close(fd);
				if ((size_t)fs.st_size != want_len || len != want_len ||
				    memcmp(got, want, want_len) != 0) {
					if (partial++ < 10)
						fprintf(stderr, "mmh: a partial file: st_size %lld, "
							"read %zu bytes, want %zu identical bytes\n",
							(long long)fs.st_size, len, want_len);
				}
			}
		}
		printf("rename-atomic: %ld samples, %ld in quiet windows, %ld opened, "
		       "%ld violations, %ld partial\n", samples, valid, opened, viol, partial);
		fflush(stdout);
		if (valid < min_valid)
			fprintf(stderr, "mmh: only %ld samples fell between renames (want >= %ld)\n",
				valid, min_valid);
		_exit(viol || partial || valid < min_valid ? 1 : 0);
	}
	while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST))
		sched_yield();
	for (long i = 0; i < n; i++) {
		const char *from = i % 2 == 0 ? a : b, *to = i % 2 == 0 ? b : a;
		long h = __atomic_load_n(&sh->hold, __ATOMIC_SEQ_CST);

		if (h != 0) {	/* the watcher wants a quiet window */
			__atomic_store_n(&sh->parked, h, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&sh->hold, __ATOMIC_SEQ_CST) == h)
				sched_yield();
		}
		__atomic_add_fetch(&sh->seq, 1, __ATOMIC_SEQ_CST);
		if (rename(from, to) < 0) {
			int e = errno;

			__atomic_store_n(&sh->done, 1, __ATOMIC_SEQ_CST);
			waitpid(pid, &st, 0);
			die("rename %ld %s -> %s: %s", i, from, to, strerror(e));
		}
		__atomic_add_fetch(&sh->seq, 1, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&sh->done, 1, __ATOMIC_SEQ_CST);
	if (waitpid(pid, &st, 0) < 0)
		die("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* ---- locks PATH: fcntl and flock conflicts seen by a second process ---- */
/* Is pid blocked waiting for a lock of kind ("POSIX" or "FLOCK")? */
static int lock_waiter(pid_t pid, const char *kind)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[512], pat[64];
	int found = 0;

	if (f == NULL)
		die("/proc/locks: %s", strerror(errno));
	snprintf(pat, sizeof(pat), " %d ", (int)pid);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, "->") != NULL && strstr(line, kind) != NULL &&
			strstr(line, pat) != NULL;
	fclose(f);
	return found;
}

static void wait_lock_waiter(pid_t pid, const char *kind)
{
	for (int i = 0; i < 1000; i++) {	/* 10 s */
		if (lock_waiter(pid, kind))
			return;
		sleep_ms(10);
	}
	die("process %d never showed as a blocked %s waiter in /proc/locks", (int)pid, kind);
}

static const char *lockerr(int e)
{
	return e == ENOSYS ? "ENOSYS (lock not implemented)" :
		e == EOPNOTSUPP ? "EOPNOTSUPP (lock not supported)" : strerror(e);
}

static void tell(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		die("pipe write: %s", strerror(errno));
}

static char hear(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		die("pipe read: the other process is gone");
	return c;
}

static int nothing_to_hear(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

static int cmd_locks(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	int p2c[2], c2p[2], fd, st;
	pid_t parent = getpid(), child;

	alarm(60);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (fcntl(fd, F_SETLK, &fl) < 0)
		die("F_SETLK F_WRLCK 0..99: %s", lockerr(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		die("flock LOCK_EX: %s", lockerr(errno));
	if (pipe(p2c) < 0 || pipe(c2p) < 0)
		die("pipe: %s", strerror(errno));
	child = fork_child();
	if (child == 0) {
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
		struct flock r = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
		struct flock other = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 100 };
		struct flock w = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
		int cfd = open(path, O_RDWR);

		alarm(60);
		if (cfd < 0)
			die("child: open %s: %s", path, strerror(errno));
		if (fcntl(cfd, F_GETLK, &q) < 0)
			die("child: F_GETLK: %s", lockerr(errno));
		if (q.l_type != F_WRLCK || q.l_pid != parent || q.l_start != 0 || q.l_len != 100)
			die("child: F_GETLK reports type %d pid %d range %lld+%lld; want the parent's "
			    "(pid %d) write lock on 0+100", q.l_type, (int)q.l_pid,
			    (long long)q.l_start, (long long)q.l_len, (int)parent);
		if (fcntl(cfd, F_SETLK, &r) == 0)
			die("child: F_SETLK F_RDLCK 50..59 succeeded under the parent's write lock");
		if (errno != EAGAIN && errno != EACCES)
			die("child: F_SETLK F_RDLCK 50..59: %s (want EAGAIN)", lockerr(errno));
		if (fcntl(cfd, F_SETLK, &other) < 0)
			die("child: F_SETLK F_WRLCK 100..199 (free range): %s", lockerr(errno));
		if (flock(cfd, LOCK_EX | LOCK_NB) == 0)
			die("child: flock LOCK_EX|LOCK_NB succeeded while the parent holds LOCK_EX");
		if (errno != EWOULDBLOCK)
			die("child: flock LOCK_EX|LOCK_NB: %s (want EWOULDBLOCK)", lockerr(errno));
		if (flock(cfd, LOCK_SH | LOCK_NB) == 0)
			die("child: flock LOCK_SH|LOCK_NB succeeded while the parent holds LOCK_EX");
		if (errno != EWOULDBLOCK)
			die("child: flock LOCK_SH|LOCK_NB: %s (want EWOULDBLOCK)", lockerr(errno));
		tell(c2p[1], 'r');
		hear(p2c[0]);
		if (fcntl(cfd, F_SETLKW, &w) < 0)	/* blocks until the parent unlocks */
			die("child: F_SETLKW: %s", lockerr(errno));
		tell(c2p[1], 'L');
		if (flock(cfd, LOCK_EX) < 0)		/* blocks likewise */
			die("child: flock LOCK_EX: %s", lockerr(errno));
		tell(c2p[1], 'F');
		_exit(0);
	}
	if (hear(c2p[0]) != 'r')
		die("protocol");
	/* the parent sees the child's lock on the other range */
	struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 100 };

	if (fcntl(fd, F_GETLK, &q) < 0)
		die("F_GETLK: %s", lockerr(errno));
	if (q.l_type != F_WRLCK || q.l_pid != child)
		die("F_GETLK on 100..199 reports type %d pid %d; want the child's (pid %d) write lock",
		    q.l_type, (int)q.l_pid, (int)child);
	tell(p2c[1], 'g');
	wait_lock_waiter(child, "POSIX");
	if (!nothing_to_hear(c2p[0]))
		die("the child's F_SETLKW returned while the parent held the lock");
	fl.l_type = F_UNLCK;
	if (fcntl(fd, F_SETLK, &fl) < 0)
		die("F_SETLK F_UNLCK: %s", lockerr(errno));
	if (hear(c2p[0]) != 'L')
		die("protocol");
	wait_lock_waiter(child, "FLOCK");
	if (!nothing_to_hear(c2p[0]))
		die("the child's flock(LOCK_EX) returned while the parent held LOCK_EX");
	if (flock(fd, LOCK_UN) < 0)
		die("flock LOCK_UN: %s", lockerr(errno));
	if (hear(c2p[0]) != 'F')
		die("protocol");
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("the child failed");
	printf("locks: ok\n");
	return 0;
}

/* ---- mmap DIR ROUNDS: shared mappings of an index file ---- */
static sigjmp_buf bus_jb;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed)
		siglongjmp(bus_jb, 1);
	_exit(99);
}

static unsigned char pat(unsigned gen, size_t off)
{
	return (unsigned char)((off * 131 + gen * 17 + (off >> 12)) & 0xff);
}

/* Compares map[from..to) with pattern gen (or zeros if gen == 0).
   0 ok, 1 mismatch (offset in *bad), -1 SIGBUS. */
static int check_map(const volatile unsigned char *map, size_t from, size_t to,
		     unsigned gen, size_t *bad)
{
	if (sigsetjmp(bus_jb, 1) != 0) {
		bus_armed = 0;
		return -1;
	}
	bus_armed = 1;
	for (size_t i = from; i < to; i++) {
		unsigned char want = gen ? pat(gen, i) : 0;

		if (map[i] != want) {
			bus_armed = 0;
			*bad = i;
			return 1;
		}
	}
	bus_armed = 0;
	return 0;
}

static void expect_map(const char *what, const unsigned char *map, size_t from, size_t to,
		       unsigned gen)
{
	size_t bad = 0;
	int ret = check_map(map, from, to, gen, &bad);

	if (ret < 0)
		die("%s: SIGBUS reading the mapping in [%zu, %zu)", what, from, to);
	if (ret > 0)
		die("%s: byte %zu is %u, want %u", what, bad, map[bad], gen ? pat(gen, bad) : 0);
}

static void fill(int fd, unsigned gen, size_t from, size_t to)
{
	unsigned char buf[65536];

	for (size_t off = from; off < to;) {
		size_t n = to - off < sizeof(buf) ? to - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(gen, off + i);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			die("pwrite: %s", strerror(errno));
		off += n;
	}
}

struct bcmd {
	char op;
	unsigned gen;
	size_t size;
};

/* Process B: read(), write(), ftruncate() and rename-replace on command. */
static void proc_b(const char *dir, int in, int out)
{
	char path[4096], tmp[4096];
	struct bcmd c;

	snprintf(path, sizeof(path), "%s/dovecot.index", dir);
	snprintf(tmp, sizeof(tmp), "%s/dovecot.index.tmp", dir);
	while (read(in, &c, sizeof(c)) == sizeof(c)) {
		int fd, ret = 0;

		switch (c.op) {
		case 'R': {		/* read() the first size bytes: pattern gen? */
			unsigned char *buf = malloc(c.size);
			size_t got = 0;
			ssize_t n;

			fd = open(path, O_RDONLY);
			if (fd < 0)
				die("B: open: %s", strerror(errno));
			while (got < c.size && (n = read(fd, buf + got, c.size - got)) > 0)
				got += (size_t)n;
			close(fd);
			if (got != c.size)
				ret = 1;
			for (size_t i = 0; ret == 0 && i < c.size; i++)
				if (buf[i] != pat(c.gen, i))
					ret = 2;
			free(buf);
			break;
		}
		case 'A': {		/* append size bytes of pattern gen with write() */
			struct stat st;

			fd = open(path, O_WRONLY | O_APPEND);
			if (fd < 0 || fstat(fd, &st) < 0)
				die("B: open: %s", strerror(errno));
			unsigned char *buf = malloc(c.size);

			for (size_t i = 0; i < c.size; i++)
				buf[i] = pat(c.gen, (size_t)st.st_size + i);
			if (write_all(fd, buf, c.size) < 0)
				die("B: write: %s", strerror(errno));
			free(buf);
			close(fd);
			break;
		}
		case 'T':		/* ftruncate to size */
			fd = open(path, O_WRONLY);
			if (fd < 0 || ftruncate(fd, (off_t)c.size) < 0)
				die("B: ftruncate: %s", strerror(errno));
			close(fd);
			break;
		case 'N':		/* a new file of size bytes replaces it by rename */
			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				die("B: open %s: %s", tmp, strerror(errno));
			fill(fd, c.gen, 0, c.size);
			if (close(fd) < 0 || rename(tmp, path) < 0)
				die("B: rename: %s", strerror(errno));
			break;
		default:
			die("B: bad command");
		}
		if (write(out, &ret, sizeof(ret)) != sizeof(ret))
			die("B: reply: %s", strerror(errno));
	}
	_exit(0);
}

static int to_b, from_b;

static int b_do(char op, unsigned gen, size_t size)
{
	struct bcmd c = { op, gen, size };
	int ret;

	if (write(to_b, &c, sizeof(c)) != sizeof(c) || read(from_b, &ret, sizeof(ret)) != sizeof(ret))
		die("process B is gone");
	return ret;
}

static unsigned char *map_file(int fd, size_t len, int prot)
{
	void *m = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		die("mmap %zu bytes: %s", len, strerror(errno));
	return m;
}

static size_t fsize(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("fstat: %s", strerror(errno));
	return (size_t)st.st_size;
}

static int cmd_mmap(const char *dir, int rounds)
{
	char path[4096];
	int a2b[2], b2a[2], fd;
	struct sigaction sa = { .sa_handler = on_sigbus };
	unsigned char *map, *old;
	size_t size, old_size;
	pid_t b;

	sigaction(SIGBUS, &sa, NULL);
	alarm(120);
	snprintf(path, sizeof(path), "%s/dovecot.index", dir);
	if (pipe(a2b) < 0 || pipe(b2a) < 0)
		die("pipe: %s", strerror(errno));
	b = fork_child();
	if (b == 0) {
		close(a2b[1]);
		close(b2a[0]);
		proc_b(dir, a2b[0], b2a[1]);
	}
	close(a2b[0]);
	close(b2a[1]);
	to_b = a2b[1];
	from_b = b2a[0];

	/* 1. A writes through a shared mapping, B read()s it */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 8192) < 0)
		die("open/ftruncate %s: %s", path, strerror(errno));
	map = map_file(fd, 8192, PROT_READ | PROT_WRITE);
	for (size_t i = 0; i < 8192; i++)
		map[i] = pat(1, i);
	if (b_do('R', 1, 8192) != 0)
		die("B's read() does not see what A wrote through MAP_SHARED");

	/* 2. B grows it with write(): A's fstat sees it at once, A maps it */
	b_do('A', 2, 4096);
	if ((size = fsize(fd)) != 12288)
		die("after B appended 4096 bytes A's fstat says %zu, want 12288", size);
	munmap(map, 8192);
	map = map_file(fd, size, PROT_READ);
	expect_map("A's new mapping after B's write()", map, 0, 8192, 1);
	expect_map("A's new mapping after B's write()", map, 8192, 12288, 2);
	munmap(map, size);
	/* ... and with ftruncate */
	b_do('T', 0, 20480);
	if ((size = fsize(fd)) != 20480)
		die("after B's ftruncate to 20480 A's fstat says %zu", size);
	map = map_file(fd, size, PROT_READ);
	expect_map("A's mapping after B's ftruncate", map, 8192, 12288, 2);
	expect_map("A's mapping after B's ftruncate", map, 12288, 20480, 0);
	munmap(map, size);
	close(fd);

	/* 3. replaced by rename with a smaller file while A keeps the old map */
	old_size = 1 << 20;
	if (b_do('N', 100, old_size) != 0)
		die("B failed");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (fsize(fd) != old_size)
		die("fresh open: size %zu, want %zu", fsize(fd), old_size);
	old = map_file(fd, old_size, PROT_READ);
	close(fd);
	expect_map("round 0", old, 0, old_size, 100);
	for (int r = 1; r <= rounds; r++) {
		char what[64];

		size = old_size - 4096 - 1 - (size_t)(r % 3);	/* smaller, not page aligned */
		if (b_do('N', 100 + (unsigned)r, size) != 0)
			die("B failed");
		snprintf(what, sizeof(what), "round %d: the old mapping", r);
		expect_map(what, old, 0, old_size, 99 + (unsigned)r);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		if (fsize(fd) != size)
			die("round %d: a fresh open's fstat says %zu bytes, want %zu (stale size)",
			    r, fsize(fd), size);
		map = map_file(fd, size, PROT_READ);
		close(fd);
		snprintf(what, sizeof(what), "round %d: the new mapping", r);
		expect_map(what, map, 0, size, 100 + (unsigned)r);
		munmap(old, old_size);
		old = map;
		old_size = size;
	}
	munmap(old, old_size);
	close(to_b);
	waitpid(b, NULL, 0);
	printf("mmap: ok, %d replacements\n", rounds);
	return 0;
}

/* ---- rename-loop DIR N READYFILE: flag changes until SIGTERM ---- */
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_rename_loop(const char *dir, int n, const char *ready)
{
	struct sigaction sa = { .sa_handler = on_term };
	char *seen = calloc((size_t)n, 1);
	long count = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	if (dfd < 0)
		die("%s: %s", dir, strerror(errno));
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; !stop; i = (i + 7) % n) {
		char from[256], to[256];

		snprintf(from, sizeof(from), "1700000000.M%dP1.host,S=10:2,%s", i, seen[i] ? "S" : "");
		snprintf(to, sizeof(to), "1700000000.M%dP1.host,S=10:2,%s", i, seen[i] ? "" : "S");
		if (renameat(dfd, from, dfd, to) < 0)
			die("rename-loop: %s -> %s: %s", from, to, strerror(errno));
		seen[i] = !seen[i];
		if (++count == 200) {
			int fd = open(ready, O_WRONLY | O_CREAT, 0644);

			if (fd >= 0)
				close(fd);
		}
	}
	printf("%ld\n", count);
	return 0;
}

/* ---- list-check DIR N ROUNDS: each readdir listing holds N identities ---- */
static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_list_check(const char *dir, int want, int rounds)
{
	int bad = 0;

	for (int r = 0; r < rounds; r++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		char **ids = NULL;
		int n = 0, cap = 0, dups = 0;

		if (d == NULL)
			die("opendir %s: %s", dir, strerror(errno));
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 4096;
				ids = realloc(ids, (size_t)cap * sizeof(*ids));
			}
			ids[n++] = strndup(de->d_name, strcspn(de->d_name, ":"));
		}
		if (errno != 0)
			die("readdir: %s", strerror(errno));
		closedir(d);
		qsort(ids, (size_t)n, sizeof(*ids), str_cmp);
		for (int i = 1; i < n; i++) {
			if (strcmp(ids[i - 1], ids[i]) == 0) {
				if (dups++ < 3)
					fprintf(stderr, "mmh: listing %d: %s twice\n", r, ids[i]);
			}
		}
		if (n != want || dups > 0) {
			fprintf(stderr, "mmh: listing %d: %d entries (want %d), %d repeated identities\n",
				r, n, want, dups);
			bad++;
		}
		for (int i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
	}
	printf("list-check: %d listings, %d bad\n", rounds, bad);
	return bad ? 1 : 0;
}

/* ---- mmap-append PATH SECONDS: map by the size fstat gives while another
   process appends (Dovecot reading an index log as it grows) ---- */
#define REC 300

static int cmd_mmap_append(const char *path, int secs)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	long iter = 0, bus = 0, bad = 0;
	time_t end = time(NULL) + secs;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	pid_t w;

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	sigaction(SIGBUS, &sa, NULL);
	w = fork_child();
	if (w == 0) {
		unsigned char rec[REC];

		for (long k = 0; k < (64L << 20) / REC; k++) {
			memset(rec, (int)(k % 251) + 1, sizeof(rec));
			if (pwrite(fd, rec, sizeof(rec), k * REC) != REC)
				_exit(1);
		}
		_exit(0);
	}
	while (time(NULL) < end) {
		struct stat st;
		volatile unsigned char *m;

		if (fstat(fd, &st) < 0)
			die("fstat: %s", strerror(errno));
		if (st.st_size == 0)
			continue;
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		if (sigsetjmp(bus_jb, 1) == 0) {
			long k = (long)(st.st_size - 1) / REC;

			bus_armed = 1;
			if (m[st.st_size - 1] != (unsigned char)(k % 251 + 1))
				bad++;
		} else {
			bus++;
		}
		bus_armed = 0;
		munmap((void *)m, (size_t)st.st_size);
		iter++;
	}
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	printf("mmap-append: %ld mappings, %ld SIGBUS, %ld stale\n", iter, bus, bad);
	return bus || bad || iter < 100;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "excl-race") == 0)
		return cmd_excl_race(argv[2], atoi(argv[3]));
	if (argc == 6 && strcmp(argv[1], "rename-atomic") == 0)
		return cmd_rename_atomic(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	if (argc == 3 && strcmp(argv[1], "locks") == 0)
		return cmd_locks(argv[2]);
	if (argc == 4 && strcmp(argv[1], "mmap") == 0)
		return cmd_mmap(argv[2], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "mmap-append") == 0)
		return cmd_mmap_append(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "rename-loop") == 0)
		return cmd_rename_loop(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 5 && strcmp(argv[1], "list-check") == 0)
		return cmd_list_check(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: mmh excl-race PATTERN ROUNDS | rename-atomic A B N MIN_VALID | "
		"locks PATH | mmap DIR ROUNDS | mmap-append PATH SECONDS | rename-loop DIR N READYFILE | "
		"list-check DIR N ROUNDS\n");
	return 2;
}
C
MMH=$MM_T/mmh
mm_mount

A=$MM_MNT/example.org/alice
SA=$MM_STORE/example.org/alice
M=$A/Maildir
SM=$SA/Maildir
F=$A/files
mkdir -p "$A" "$F"
mm_maildir "$M"

# "atime_ns mtime_ns" of a path
times_of() { python3 -c 'import os, sys; s = os.stat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns)' "$1"; }

## O_EXCL: the second create fails EEXIST; of two racing creators one wins
mm_log "O_EXCL create"
for p in "$M/dovecot-uidlist.lock" "$M/tmp/1700000000.M1P1.excl" "$F/lockfile"; do
	mm_assert_eq "$(mm_errno create "$p")" OK "first O_EXCL create of ${p#"$MM_MNT"/}"
	mm_assert_eq "$(mm_errno create "$p")" EEXIST "second O_EXCL create of ${p#"$MM_MNT"/}"
done
"$MMH" excl-race "$M/dotlock%d.lock" 200 >/dev/null || mm_fail "O_EXCL race (folder dotlocks)"
"$MMH" excl-race "$M/tmp/1700000000.M%dP2.race" 100 >/dev/null || mm_fail "O_EXCL race (tmp/)"

## rename atomicity: a flag change back and forth 2000 times, watched
mm_log "rename atomicity"
MSG=$M/cur/1700000001.M1P1.host,S=20000
head -c 20000 /dev/urandom >"$M/tmp/atomic"
mv "$M/tmp/atomic" "$MSG:2,"
L=$(mm_last_lsn)
"$MMH" rename-atomic "$MSG:2," "$MSG:2,S" 2000 100 ||
	mm_fail "rename of a message between two names is not atomic"
mm_assert_eq "$(mm_ctl journal --json --from $((L + 1)) | jq -s 'length')" 2000 \
	"records for 2000 flag changes"
mm_assert_eq "$(mm_ctl journal --json --from $((L + 1)) | jq -s 'map(select(.op == "flags")) | length')" \
	2000 "flags records for 2000 flag changes"
head -c 20000 /dev/urandom >"$M/dovecot.index"
"$MMH" rename-atomic "$M/dovecot.index" "$M/dovecot.index.tmp" 2000 100 ||
	mm_fail "rename of an index file between two names is not atomic"

## hard links
mm_log "hard links"
# a plain file: exact counts
printf 'plain\n' >"$F/plain1"
mm_assert_eq "$(stat -c %h "$F/plain1")" 1 "nlink of a new plain file"
ln "$F/plain1" "$F/plain2" || mm_fail "link() of a plain file"
mm_assert_eq "$(stat -c %h "$F/plain1") $(stat -c %h "$F/plain2")" "2 2" "nlink after link()"
rm "$F/plain1"
mm_assert_eq "$(cat "$F/plain2")" plain "the other name after unlink"
mm_assert_eq "$(stat -c %h "$F/plain2")" 1 "nlink after unlink"
rm "$F/plain2"
# a message linked into another folder (Dovecot's COPY) and to a plain
# name; a delivered message also has the journal's content link, so its
# counts are taken relative to what it has after delivery
mm_maildir "$M/.Sent"
LM=$M/cur/1700000002.M2P1.host,S=20:2,S
LM2=$M/.Sent/cur/1700000003.M3P1.host,S=20:2,S
printf 'Subject: link\n\nbody\n' >"$M/tmp/link"
mv "$M/tmp/link" "$LM"
n0=$(stat -c %h "$LM")
mm_assert_eq "$(stat -c %h "$SM/cur/${LM##*/}")" "$n0" "nlink of a message, mount vs store"
ln "$LM" "$LM2" || mm_fail "link() into another folder"
ln "$LM" "$F/link3" || mm_fail "link() to a plain name"
for p in "$LM" "$LM2" "$F/link3"; do
	mm_assert_eq "$(stat -c %h "$p")" $((n0 + 2)) "nlink of ${p#"$MM_MNT"/} after two link()s"
	mm_assert_eq "$(stat -c %h "$MM_STORE/${p#"$MM_MNT"/}")" $((n0 + 2)) \
		"nlink of ${p#"$MM_MNT"/} in the store"
done
rm "$LM"
mm_assert_eq "$(cat "$LM2")" "$(printf 'Subject: link\n\nbody')" "the other link's content after unlink"
mm_assert_eq "$(stat -c %h "$LM2")" $((n0 + 1)) "nlink after one unlink"
mm_assert_eq "$(stat -c %h "$F/link3")" $((n0 + 1)) "nlink after one unlink (plain name)"
rm "$F/link3"
mm_assert_eq "$(stat -c %h "$LM2")" "$n0" "nlink after two unlinks"
mm_assert_eq "$(stat -c %h "$SM/.Sent/cur/${LM2##*/}")" "$n0" "nlink in the store after two unlinks"

## fsync and fdatasync on files and directories
mm_log "fsync"
printf 'x' >"$F/synced"
python3 - "$F/synced" "$LM2" "$M/cur" "$F" "$MM_MNT" <<'PY' ||
import os, sys
for p in sys.argv[1:]:
    if os.path.isdir(p):
        fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
    elif p.endswith("/synced"):
        fd = os.open(p, os.O_RDWR)
        os.write(fd, b"more")
    else:
        fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.fdatasync(fd)
    except OSError as e:
        sys.exit("fsync/fdatasync of %s: %s" % (p, e))
    os.close(fd)
PY
	mm_fail "fsync or fdatasync failed"

## fcntl and flock locks: a second process sees the conflict
mm_log "locks"
"$MMH" locks "$M/dovecot.index.log" >/dev/null || mm_fail "locks on an index log"
"$MMH" locks "$F/lockfile" >/dev/null || mm_fail "locks on a plain file"

## shared mmap of an index file: growth by another process, replacement by
## rename while still mapped (the SIGBUS scenario), 200 times
mm_log "shared mmap"
"$MMH" mmap "$M" 200 >/dev/null || mm_fail "shared mmap of an index file"
## ... and mapped by its fstat size while another process appends to it: a
## size the kernel has not applied yet is a SIGBUS (fs-ops.c, size_guard)
out=$("$MMH" mmap-append "$M/dovecot.index.log" 3) ||
	mm_fail "mapping an index log as it grows: $out"
mm_log "$out"

## utimensat: exact nanoseconds, also in the past, kept over a remount
mm_log "utimensat"
TM=$M/cur/1700000004.M4P1.host,S=5:2,S
printf 'hello' >"$M/tmp/t"
mv "$M/tmp/t" "$TM"
printf 'plain' >"$F/timed"
mkdir "$F/timed-dir"
PAST="999999999987654321 1000000000123456789"	# 2001-09-09T01:46:40.12..Z
for p in "$TM" "$F/timed" "$F/timed-dir" "$M/.Sent"; do
	python3 -c 'import os, sys; os.utime(sys.argv[1], ns=(1700000000000000001, 1700000000999999999))' "$p"
	mm_assert_eq "$(times_of "$p")" "1700000000000000001 1700000000999999999" \
		"atime and mtime of ${p#"$MM_MNT"/} after utimensat"
	python3 -c 'import os, sys; os.utime(sys.argv[1], ns=(999999999987654321, 1000000000123456789))' "$p"
	mm_assert_eq "$(times_of "$p")" "$PAST" "2001 atime and mtime of ${p#"$MM_MNT"/}"
	mm_assert_eq "$(times_of "$MM_STORE/${p#"$MM_MNT"/}")" "$PAST" \
		"2001 atime and mtime of ${p#"$MM_MNT"/} in the store"
done
mm_umount
mm_mount
for p in "$TM" "$F/timed" "$F/timed-dir" "$M/.Sent"; do
	mm_assert_eq "$(times_of "$p")" "$PAST" "atime and mtime of ${p#"$MM_MNT"/} after a remount"
done

## statfs matches the store's file system
mm_log "statfs"
for p in "$MM_MNT" "$M/cur"; do
	mm_assert_eq "$(stat -f -c '%b %S %l' "$p")" "$(stat -f -c '%b %S %l' "$MM_STORE")" \
		"statfs (f_blocks f_frsize f_namemax) of ${p#"$MM_T"/}"
done

## a 5 GiB sparse file
mm_log "large file"
truncate -s 5G "$F/big" || mm_fail "truncate -s 5G"
python3 - "$F/big" <<'PY' || mm_fail "the tail of a 5 GiB file"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"TAIL-0123456789", 5 << 30)
os.close(fd)
fd = os.open(sys.argv[1], os.O_RDONLY)
got = os.pread(fd, 23, (5 << 30) - 8)
if got != b"\0" * 8 + b"TAIL-0123456789":
    sys.exit("read back %r" % got)
PY
mm_assert_eq "$(stat -c %s "$F/big")" $(((5 << 30) + 15)) "st_size of the 5 GiB file"
mm_assert_eq "$(tail -c 15 "$F/big")" "TAIL-0123456789" "tail -c of the 5 GiB file"
mm_assert_eq "$(stat -c %s "$SA/files/big")" $(((5 << 30) + 15)) "st_size in the store"
rm "$F/big"

## long names: 255 bytes work, 256 fail ENAMETOOLONG
mm_log "long names"
N255=$(printf 'n%.0s' $(seq 255))
mm_assert_eq "$(mm_errno create "$F/$N255")" OK "create with a 255-byte name"
mm_assert_eq "$(mm_errno stat "$F/$N255")" OK "stat of a 255-byte name"
mm_assert_eq "$(mm_errno mkdir "$F/d$N255")" ENAMETOOLONG "mkdir with a 256-byte name"
mm_assert_eq "$(mm_errno create "$F/${N255}x")" ENAMETOOLONG "create with a 256-byte name"
mm_assert_eq "$(mm_errno rename "$F/$N255" "$F/${N255}x")" ENAMETOOLONG "rename to a 256-byte name"
[ -e "$SA/files/$N255" ] || mm_fail "the 255-byte name is not in the store"
LONGMSG=1700000005.M5P1.$(printf 'h%.0s' $(seq 226)):2,S	# 255 bytes
printf 'x' >"$M/tmp/long"
mv "$M/tmp/long" "$M/cur/$LONGMSG" || mm_fail "delivery under a 255-byte name"
mm_assert_eq "$(mm_ctl journal --json | jq -r 'select(.op == "deliver") | .name' | tail -n 1)" \
	"$LONGMSG" "delivery record of the 255-byte name"

## an unprivileged caller: ownership and permissions
mm_log "unprivileged user"
mm_test_user
U=$MM_TEST_UID
G=$MM_TEST_GID
ue() { MM_RUN=mm_as_user mm_errno "$@"; }
owner_is() {	# PATH: owned by the test user, through the mount and in the store
	mm_assert_eq "$(stat -c %u:%g "$1")" "$U:$G" "owner of ${1#"$MM_MNT"/} through the mount"
	mm_assert_eq "$(stat -c %u:%g "$MM_STORE/${1#"$MM_MNT"/}")" "$U:$G" \
		"owner of ${1#"$MM_MNT"/} in the store"
}
mkdir -m 0755 "$A/rootdir"
printf 'root\n' >"$A/rootdir/rootfile"
mm_assert_eq "$(ue create "$A/rootdir/x")" EACCES "user creates a file in a root 0755 dir"
mm_assert_eq "$(ue mkdir "$A/rootdir/d")" EACCES "user makes a dir in a root 0755 dir"
mm_assert_eq "$(ue write "$A/rootdir/rootfile")" EACCES "user writes a root 0644 file"
mm_assert_eq "$(ue unlink "$A/rootdir/rootfile")" EACCES "user unlinks in a root 0755 dir"
mm_assert_eq "$(ue rename "$A/rootdir/rootfile" "$A/rootdir/y")" EACCES "user renames in a root 0755 dir"
[ ! -e "$SA/rootdir/x" ] && [ ! -e "$SA/rootdir/d" ] && [ -e "$SA/rootdir/rootfile" ] ||
	mm_fail "the refused calls changed the store"
mkdir "$A/userdir"
chown mmtestuser:mmtestuser "$A/userdir"
owner_is "$A/userdir"
mm_assert_eq "$(ue create "$A/userdir/file")" OK "user creates a file in its own dir"
mm_assert_eq "$(ue mkdir "$A/userdir/dir")" OK "user makes a dir in its own dir"
mm_assert_eq "$(ue write "$A/userdir/dir/file2")" OK "user writes a file in its new dir"
owner_is "$A/userdir/file"
owner_is "$A/userdir/dir"
owner_is "$A/userdir/dir/file2"
# a delivery agent running as the user into its own account
mkdir "$MM_MNT/example.org/vuser"
chown mmtestuser:mmtestuser "$MM_MNT/example.org/vuser"
VM=$MM_MNT/example.org/vuser/Maildir
mm_as_user mkdir -p "$VM/cur" "$VM/new" "$VM/tmp" || mm_fail "user creates its Maildir"
mm_as_user sh -c "printf 'Subject: u\n\n' >'$VM/tmp/1700000006.M6P1.host' &&
	mv '$VM/tmp/1700000006.M6P1.host' '$VM/new/1700000006.M6P1.host' &&
	ln '$VM/new/1700000006.M6P1.host' '$VM/cur/1700000007.M7P1.host:2,S'" ||
	mm_fail "user delivers and links in its Maildir"
owner_is "$VM/new"
owner_is "$VM/new/1700000006.M6P1.host"
mm_assert_eq "$(mm_journal_lines 1 | grep -c ' 1700000006.M6P1.host')" 2 \
	"deliver and copy records of the user's delivery"
# permissions hold on the way to a file too: a root 0700 directory keeps
# the user out even once root has looked inside (kernel caches warm)
mkdir -m 0700 "$A/private"
printf 'secret\n' >"$A/private/secret"
chmod 0644 "$A/private/secret"
cat "$A/private/secret" >/dev/null
mm_assert_eq_later "$(ue open "$A/private/secret")" EACCES \
	"user opens a file inside a root 0700 dir that root has just read"
mm_assert_eq_later "$(ue stat "$A/private/secret")" EACCES \
	"user stats a file inside a root 0700 dir that root has just read"
# the same for a message (attributes cached for a day) and for a
# world-writable folder inside the locked one: every call that reads or
# changes something is checked as the caller ([fs] permissions = daemon)
mkdir -p "$A/private/Maildir/cur" "$A/private/Maildir/new" "$A/private/Maildir/tmp"
chmod 0777 "$A/private/Maildir/cur"
printf 'Subject: p\n\n' >"$A/private/Maildir/cur/1700000008.M8P1.host:2,"
chmod 0666 "$A/private/Maildir/cur/1700000008.M8P1.host:2,"
cat "$A/private/Maildir/cur/1700000008.M8P1.host:2," >/dev/null
ls "$A/private/Maildir/cur" >/dev/null
PM=$A/private/Maildir/cur/1700000008.M8P1.host
mm_assert_eq_later "$(ue open "$PM:2,")" EACCES "user opens a cached message in a locked dir"
mm_assert_eq_later "$(ue rename "$PM:2," "$PM:2,S")" EACCES \
	"user renames a cached message in a locked dir"
mm_assert_eq_later "$(ue link "$PM:2," "$PM:2,T")" EACCES \
	"user links a cached message in a locked dir"
mm_assert_eq_later "$(ue unlink "$PM:2,")" EACCES "user unlinks a cached message in a locked dir"
mm_assert_eq_later "$(ue create "$A/private/Maildir/cur/new-file")" EACCES \
	"user creates in a 0777 dir below a locked dir"
mm_assert_eq_later "$(MM_RUN=mm_as_user mm_errno stat "$A/private/Maildir/cur/nothing")" EACCES \
	"user looks up a missing name below a locked dir"
[ -e "$SA/private/Maildir/cur/1700000008.M8P1.host:2," ] ||
	mm_fail "a refused call removed the message"
# a setgid directory passes its group on to what root creates in it
mkdir "$A/sgid"
chgrp mail "$A/sgid"
chmod 2775 "$A/sgid"
touch "$A/sgid/file"
mkdir "$A/sgid/dir"
for p in "$A/sgid/file" "$A/sgid/dir"; do
	mm_assert_eq "$(stat -c %G "$p")" mail "group of ${p#"$MM_MNT"/} in a setgid dir"
	mm_assert_eq "$(stat -c %G "$MM_STORE/${p#"$MM_MNT"/}")" mail \
		"group of ${p#"$MM_MNT"/} in a setgid dir, in the store"
done
case $(stat -c %A "$A/sgid/dir") in
??????s???) ;;
*) mm_fail "a dir made in a setgid dir is not setgid: $(stat -c %A "$A/sgid/dir")" ;;
esac

## readdir while files are renamed in the same directory
mm_log "readdir during renames"
mm_maildir "$M/.Big"
# the 2000 messages are put into the store directly (fast; their deliveries
# are not what this checks); the renames go through the mount
for i in $(seq 0 1999); do
	printf '0123456789' >"$SM/.Big/cur/1700000000.M${i}P1.host,S=10:2,"
done
mm_assert_eq "$(ls "$M/.Big/cur" | wc -l)" 2000 "files in the listing directory"
"$MMH" rename-loop "$M/.Big/cur" 2000 "$MM_T/renamer.ready" >"$MM_T/renamer.count" &
RPID=$!
mm_on_exit "kill $RPID 2>/dev/null"
mm_wait_for 10 test -e "$MM_T/renamer.ready" || mm_fail "the renamer did not start"
list_ok=true
"$MMH" list-check "$M/.Big/cur" 2000 50 >/dev/null || list_ok=false
kill -0 $RPID 2>/dev/null || mm_fail "the renamer stopped before the listings ended"
kill -TERM $RPID
wait $RPID || mm_fail "the renamer failed"
renames=$(cat "$MM_T/renamer.count")
[ "$renames" -ge 200 ] || mm_fail "only $renames renames ran during the listings"
$list_ok || mm_fail_later "readdir listings during $renames renames skipped or repeated entries"

## changes behind the mount: index files are never attribute-cached
mm_log "changes behind the mount"
for f in dovecot.index.log dovecot-uidlist; do
	printf '%0100d' 0 >"$M/$f"
	mm_assert_eq "$(stat -c %s "$M/$f")" 100 "size of $f"
	cat "$M/$f" >/dev/null
	printf '%050d' 1 >>"$SM/$f"
	mm_assert_eq "$(stat -c %s "$M/$f")" 150 "size of $f right after an append in the store"
	cmp -s "$M/$f" "$SM/$f" || mm_fail "$f read through the mount differs from the store"
done

## [fs] permissions = kernel: the kernel checks cached paths as well
mm_log "permissions = kernel"
if grep " $MM_MNT fuse" /proc/mounts | grep -q default_permissions; then
	mm_fail "the default mount has default_permissions"
fi
mm_umount
printf '\n[fs]\npermissions = kernel\n' >>"$MM_CONF"
mm_mount
grep " $MM_MNT fuse" /proc/mounts | grep -q default_permissions ||
	mm_fail "permissions = kernel mounted without default_permissions"
cat "$PM:2," >/dev/null
mm_assert_eq_later "$(ue open "$PM:2,")" EACCES "kernel mode: user opens a cached message in a locked dir"
mm_assert_eq_later "$(ue stat "$PM:2,")" EACCES "kernel mode: user stats a cached message in a locked dir"
mm_assert_eq "$(ue create "$A/userdir/kfile")" OK "kernel mode: user creates in its own dir"

mm_umount
mm_finish

/* SPDX-License-Identifier: MIT
 * journal-append.c - test tool (tests/integration/epoch.sh): appends one
 * committed delivery with a chosen epoch and time to the journal of a
 * store whose mailmesh-fs is stopped, as a deposed store whose fencing
 * failed would have written it; its content goes where the mount links
 * a delivery's (STATE/content), so the replicator ships it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "journal-file.h"
#include "mem.h"

static int die(const char *what)
{
	fprintf(stderr, "journal-append: %s: %s\n", what, strerror(errno));
	return 1;
}

/* The last segment's first LSN and the last LSN of the journal (raw:
   pending and aborted records count too). */
static int journal_end(const char *state, uint64_t *seg_r, uint64_t *last_r)
{
	struct mm_journal_reader *r;
	struct mm_journal_rec rec;
	const char *error;
	char *dir = mm_strdup_printf("%s/journal", state);
	struct dirent *de;
	DIR *d = opendir(dir);
	int ret;

	*seg_r = *last_r = 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		uint64_t first;

		if (strlen(de->d_name) == 20 && strcmp(de->d_name + 16, ".mmj") == 0 &&
		    sscanf(de->d_name, "%16" SCNx64, &first) == 1 && first > *seg_r)
			*seg_r = first;
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	if (*seg_r == 0) {
		fprintf(stderr, "journal-append: %s has no journal segment\n", state);
		return -1;
	}
	if (mm_journal_reader_open(state, 1, &r, &error) < 0) {
		fprintf(stderr, "journal-append: %s\n", error);
		return -1;
	}
	mm_journal_reader_set_raw(r, true);
	while ((ret = mm_journal_reader_next(r, &rec, &error)) != 0)
		if (ret > 0 && rec.lsn > *last_r)
			*last_r = rec.lsn;
	mm_journal_reader_close(&r);
	return 0;
}

int main(int argc, char **argv)
{
	struct mm_journal_rec rec = { .op = MM_OP_DELIVER, .status = MM_REC_COMMITTED,
				      .sub = 1 /* new/ */, .new_folder = "", .new_name = "" };
	struct mm_buf enc = { 0 };
	uint64_t seg, last;
	struct timespec ts;
	struct stat st;
	char *path, *cdir;
	int fd, in, out, lock;

	if (argc != 8) {
		fprintf(stderr, "usage: journal-append STATE ACCOUNT FOLDER NAME EPOCH TIME_NS "
			"CONTENT_FILE\n(mailmesh-fs of STATE must be stopped; prints the LSN)\n");
		return 2;
	}
	rec.account = argv[2];
	rec.folder = argv[3];
	rec.name = argv[4];
	rec.epoch = strtoull(argv[5], NULL, 10);
	rec.time_ns = strtoull(argv[6], NULL, 10);
	path = mm_strdup_printf("%s/journal/lock", argv[1]);
	lock = open(path, O_RDWR | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0)
		return die("the journal's lock (is mailmesh-fs stopped?)");
	free(path);
	in = open(argv[7], O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return die(argv[7]);
	if (mm_content_hash(in, &rec.size, rec.hash) < 0)
		return die("hashing the content");
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.mtime_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	rec.mode = 0600;
	rec.uid = st.st_uid;
	rec.gid = st.st_gid;
	if (journal_end(argv[1], &seg, &last) < 0)
		return 1;
	rec.lsn = last + 1;
	if (mm_journal_encode(&rec, &enc) < 0)
		return die("encoding");
	/* the content first, as the mount links it before the record commits */
	cdir = mm_strdup_printf("%s/content/%016" PRIx64, argv[1], seg);
	if (mkdir(cdir, 0700) < 0 && errno != EEXIST)
		return die(cdir);
	path = mm_strdup_printf("%s/%016" PRIx64, cdir, rec.lsn);
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return die(path);
	for (off_t off = 0; off < st.st_size;) {
		char buf[65536];
		ssize_t n = pread(in, buf, sizeof(buf), off);

		if (n <= 0 || write(out, buf, (size_t)n) != n)
			return die("copying the content");
		off += n;
	}
	if (fsync(out) < 0 || close(out) < 0)
		return die(path);
	free(path);
	free(cdir);
	close(in);
	path = mm_strdup_printf("%s/journal/%016" PRIx64 ".mmj", argv[1], seg);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, enc.data, enc.len) != (ssize_t)enc.len || fdatasync(fd) < 0)
		return die(path);
	close(fd);
	close(lock);
	free(path);
	mm_buf_free(&enc);
	printf("%" PRIu64 "\n", rec.lsn);
	return 0;
}

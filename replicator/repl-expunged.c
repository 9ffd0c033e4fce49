/* SPDX-License-Identifier: MIT
 * repl-expunged.c - STATE/expunged on disk (see repl-expunged.h): never
 * under the store, so never seen by the mount, never journaled, never
 * shipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem.h"
#include "repl-expunged.h"
#include "repl-retain.h"
#include "wire.h"

static __thread char err[512];

static int mkdirs(char *path)
{
	for (char *p = strchr(path + 1, '/'); ; p = strchr(p + 1, '/')) {
		if (p != NULL)
			*p = '\0';
		int r = mkdir(path, 0700);

		if (p != NULL)
			*p = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
		if (p == NULL)
			return 0;
	}
}

char *repl_expunged_path(const char *dir, const char *account, const char *folder,
			 enum mm_sub sub, const char *name, uint64_t expunged_ns)
{
	char *key = repl_retain_folder_key(folder), *file = repl_retain_file(expunged_ns, sub, name);
	char *path = mm_strdup_printf("%s/%s/%s/%s", dir, account, key, file);

	free(key);
	free(file);
	return path;
}

/* Across filesystems: a copy, written whole before it gets its name. */
static int copy_file(int src_dirfd, const char *src_name, const char *path)
{
	int saved;

	char *tmp = mm_strdup_printf("%s.tmp", path);
	int in = openat(src_dirfd, src_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
	char buf[65536];
	struct stat st;
	ssize_t n = 0;
	int ret = -1;

	if (in < 0 || fstat(in, &st) < 0)
		goto out;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
	if (out < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	struct timespec ts[2] = { st.st_atim, st.st_mtim };

	if (n < 0 || futimens(out, ts) < 0 || close(out) < 0) {
		out = -1;
		goto out;
	}
	out = -1;
	ret = rename(tmp, path);
out:
	saved = errno;
	if (ret < 0)
		unlink(tmp);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(tmp);
	errno = saved;
	return ret;
}

int repl_keep_file(int src_dirfd, const char *src_name, const char *path)
{
	if (linkat(src_dirfd, src_name, AT_FDCWD, path, 0) == 0 || errno == EEXIST)
		return 0;
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -1;
	return copy_file(src_dirfd, src_name, path);
}

int repl_expunged_keep(const char *dir, int src_dirfd, const char *src_name,
		       const char *account, const char *folder, enum mm_sub sub,
		       const char *name, uint64_t expunged_ns, const char **error_r)
{
	char *path = repl_expunged_path(dir, account, folder, sub, name, expunged_ns);
	char *slash = strrchr(path, '/');
	int ret;

	*slash = '\0';
	ret = mkdirs(path);
	*slash = '/';
	/* EEXIST: the same expunge applied again */
	if (ret == 0)
		ret = repl_keep_file(src_dirfd, src_name, path);
	if (ret < 0) {
		snprintf(err, sizeof(err), "keeping it as %s failed: %s", path, strerror(errno));
		*error_r = err;
	}
	free(path);
	return ret;
}

static int list_account(const char *dir, const char *account, const char *folder,
			uint64_t since_ns, struct mm_buf *out)
{
	char *apath = mm_strdup_printf("%s/%s", dir, account);
	DIR *ad = opendir(apath);
	struct dirent *ke;

	if (ad == NULL) {
		free(apath);
		return errno == ENOENT ? 0 : -1;
	}
	while ((ke = readdir(ad)) != NULL) {
		char *kpath;
		DIR *kd;
		struct dirent *fe;

		if (ke->d_name[0] != 'f')
			continue;
		kpath = mm_strdup_printf("%s/%s", apath, ke->d_name);
		kd = opendir(kpath);
		while (kd != NULL && (fe = readdir(kd)) != NULL) {
			struct repl_retained r;
			struct stat st;

			if (repl_retain_parse(ke->d_name, fe->d_name, &r) < 0)
				continue;
			if (r.expunged_ns >= since_ns &&
			    (folder == NULL || strcmp(folder, r.folder) == 0) &&
			    strlen(r.folder) <= MM_WIRE_TEXT_MAX && strlen(r.name) <= MM_WIRE_NAME_MAX &&
			    fstatat(dirfd(kd), fe->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode)) {
				struct mm_wire_qretained w = {
					.folder = r.folder, .folder_len = strlen(r.folder),
					.sub = r.sub == MM_SUB_NEW ? 1 : 2,
					.name = r.name, .name_len = strlen(r.name),
					.expunged_ns = r.expunged_ns, .size = (uint64_t)st.st_size,
					.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
						    st.st_mtim.tv_nsec,
				};

				mm_wire_qretained_put(out, &w);
			}
			free(r.folder);
		}
		if (kd != NULL)
			closedir(kd);
		free(kpath);
	}
	closedir(ad);
	free(apath);
	return 0;
}

int repl_expunged_list(const char *dir, const char *account, const char *folder,
		       uint64_t since_ns, struct mm_buf *out, const char **error_r)
{
	if (list_account(dir, account, folder, since_ns, out) < 0) {
		snprintf(err, sizeof(err), "listing %s/%s failed: %s", dir, account,
			 strerror(errno));
		*error_r = err;
		return -1;
	}
	return 0;
}

/* Walks dir/rel recursively (accounts are 1..16 levels deep, then the
   folder keys, then the files) removing what has expired. */
static uint64_t prune_dir(const char *path, const char *key, uint64_t retention_s,
			  uint64_t now_ns)
{
	DIR *d = opendir(path);
	struct dirent *e;
	uint64_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct repl_retained r;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (key != NULL && repl_retain_parse(key, e->d_name, &r) == 0) {
			if (repl_retain_expired(r.expunged_ns, now_ns, retention_s) &&
			    unlinkat(dirfd(d), e->d_name, 0) == 0)
				n++;
			free(r.folder);
			continue;
		}
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		char *sub = mm_strdup_printf("%s/%s", path, e->d_name);

		n += prune_dir(sub, e->d_name[0] == 'f' ? e->d_name : NULL, retention_s, now_ns);
		/* an empty folder key or account directory goes too */
		(void)rmdir(sub);
		free(sub);
	}
	closedir(d);
	return n;
}

uint64_t repl_expunged_prune(const char *dir, uint64_t retention_s, uint64_t now_ns)
{
	return prune_dir(dir, NULL, retention_s, now_ns);
}

/* SPDX-License-Identifier: MIT
 * acct.c - account names, the accounts found in a store directory, and
 * the STATE/accounts file: one "readonly ACCOUNT" line per read-only
 * account, replaced atomically under an flock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "mem.h"

static __thread char acct_err[1024];

int mm_acct_check(const char *account, unsigned int depth, const char **error_r)
{
	unsigned int comps = 0;
	const char *p = account;

	if (*account == '\0' || *account == '/') {
		snprintf(acct_err, sizeof(acct_err), "account '%s': must be a relative path", account);
		goto fail;
	}
	while (*p != '\0') {
		size_t l = strcspn(p, "/");

		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(acct_err, sizeof(acct_err),
				 "account '%s': empty, '.' or '..' component", account);
			goto fail;
		}
		for (size_t i = 0; i < l; i++) {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
				snprintf(acct_err, sizeof(acct_err),
					 "account: control character in name");
				goto fail;
			}
		}
		comps++;
		p += l;
		if (*p == '/')
			p++;
	}
	if (comps != depth) {
		snprintf(acct_err, sizeof(acct_err),
			 "account '%s': has %u components, account_depth is %u",
			 account, comps, depth);
		goto fail;
	}
	return 0;
fail:
	*error_r = acct_err;
	return -1;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mm_acct_list_free(char ***listp, size_t n)
{
	if (*listp == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*listp)[i]);
	mm_free(listp);
}

struct acct_walk {
	const char *store;
	unsigned int depth;
	char **list;
	size_t n;
};

/* Collects the accounts below STORE/rel, left levels down. */
static int acct_walk(struct acct_walk *w, const char *rel, unsigned int left)
{
	char *dir = *rel != '\0' ? mm_strdup_printf("%s/%s", w->store, rel) :
		mm_strdup(w->store);
	DIR *d = opendir(dir);
	int ret = 0;

	if (d == NULL) {
		/* removed since its parent was read: not an account any more */
		if (errno == ENOENT && *rel != '\0') {
			free(dir);
			return 0;
		}
		snprintf(acct_err, sizeof(acct_err), "opendir(%s) failed: %m", dir);
		free(dir);
		return -1;
	}
	for (;;) {
		const char *error;
		struct dirent *de;
		struct stat st;
		char *child;
		bool isdir;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				snprintf(acct_err, sizeof(acct_err), "readdir(%s) failed: %m", dir);
				ret = -1;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			isdir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				S_ISDIR(st.st_mode);
		if (!isdir)
			continue;
		child = *rel != '\0' ? mm_strdup_printf("%s/%s", rel, de->d_name) :
			mm_strdup(de->d_name);
		if (left > 1) {
			ret = acct_walk(w, child, left - 1);
		} else if (mm_acct_check(child, w->depth, &error) == 0) {
			w->list = mm_realloc(w->list, (w->n + 2) * sizeof(*w->list));
			w->list[w->n++] = child;
			w->list[w->n] = NULL;
			child = NULL;
		}
		free(child);
		if (ret < 0)
			break;
	}
	closedir(d);
	free(dir);
	return ret;
}

int mm_acct_list(const char *store, unsigned int depth, char ***list_r, size_t *n_r,
		 const char **error_r)
{
	struct acct_walk w = { .store = store, .depth = depth };

	*list_r = NULL;
	*n_r = 0;
	if (acct_walk(&w, "", depth) < 0) {
		mm_acct_list_free(&w.list, w.n);
		*error_r = acct_err;
		return -1;
	}
	if (w.n > 0)
		qsort(w.list, w.n, sizeof(*w.list), str_cmp);
	*list_r = w.list;
	*n_r = w.n;
	return 0;
}

static int acct_read(FILE *f, const char *path, char ***ro_r, size_t *n_r)
{
	char *line = NULL, **list = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	unsigned int lineno = 0;

	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (strncmp(line, "readonly ", 9) != 0) {
			snprintf(acct_err, sizeof(acct_err), "%s:%u: expected 'readonly ACCOUNT'",
				 path, lineno);
			free(line);
			mm_acct_list_free(&list, n);
			return -1;
		}
		list = mm_realloc(list, (n + 2) * sizeof(*list));
		list[n++] = mm_strdup(line + 9);
		list[n] = NULL;
	}
	free(line);
	if (n > 0)
		qsort(list, n, sizeof(*list), str_cmp);
	*ro_r = list;
	*n_r = n;
	return 0;
}

int mm_acct_load(const char *state_dir, char ***ro_r, size_t *n_r,
		 const char **error_r)
{
	char *path = mm_strdup_printf("%s/accounts", state_dir);
	FILE *f = fopen(path, "re");
	int ret;

	*ro_r = NULL;
	*n_r = 0;
	if (f == NULL) {
		if (errno == ENOENT) {
			free(path);
			return 0;
		}
		snprintf(acct_err, sizeof(acct_err), "fopen(%s) failed: %m", path);
		free(path);
		*error_r = acct_err;
		return -1;
	}
	ret = acct_read(f, path, ro_r, n_r);
	fclose(f);
	free(path);
	if (ret < 0)
		*error_r = acct_err;
	return ret;
}

bool mm_acct_in(char *const *list, size_t n, const char *account, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(list[mid], account, len);

		if (c == 0 && list[mid][len] != '\0')
			c = 1;
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int mm_acct_set(const char *state_dir, const char *account, bool readonly,
		const char **error_r)
{
	char *lock = mm_strdup_printf("%s/accounts.lock", state_dir);
	char *path = mm_strdup_printf("%s/accounts", state_dir);
	char *tmp = mm_strdup_printf("%s/accounts.new", state_dir);
	char **list = NULL;
	size_t n = 0;
	int lfd, ret = -1;
	FILE *out;

	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		snprintf(acct_err, sizeof(acct_err), "open(%s) failed: %m", lock);
		goto out;
	}
	if (mm_acct_load(state_dir, &list, &n, error_r) < 0)
		goto out_nomsg;
	out = fopen(tmp, "we");
	if (out == NULL) {
		snprintf(acct_err, sizeof(acct_err), "fopen(%s) failed: %m", tmp);
		goto out;
	}
	fprintf(out, "# account modes, written by mailmeshctl account\n");
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], account) != 0)
			fprintf(out, "readonly %s\n", list[i]);
	if (readonly)
		fprintf(out, "readonly %s\n", account);
	if (fflush(out) != 0 || fsync(fileno(out)) < 0) {
		snprintf(acct_err, sizeof(acct_err), "write(%s) failed: %m", tmp);
		fclose(out);
		goto out;
	}
	fclose(out);
	if (rename(tmp, path) < 0) {
		snprintf(acct_err, sizeof(acct_err), "rename(%s, %s) failed: %m", tmp, path);
		goto out;
	}
	ret = 0;
	goto out_nomsg;
out:
	*error_r = acct_err;
out_nomsg:
	mm_acct_list_free(&list, n);
	if (lfd >= 0)
		close(lfd);
	free(lock);
	free(path);
	free(tmp);
	return ret;
}

struct role_ent {
	char *account;
	uint64_t epoch;
};

static int role_cmp(const void *a, const void *b)
{
	return strcmp(((const struct role_ent *)a)->account,
		      ((const struct role_ent *)b)->account);
}

int mm_roles_load(const char *state_dir, uint64_t *gen_r, char ***list_r,
		  uint64_t **epochs_r, size_t *n_r, const char **error_r)
{
	static __thread char err[512];
	char *path = mm_strdup_printf("%s/roles", state_dir), *line = NULL;
	struct role_ent *ent = NULL;
	size_t cap = 0, n = 0, ecap = 0;
	uint64_t gen;
	FILE *f = fopen(path, "r");
	ssize_t len;
	int ret = -1;

	if (f == NULL) {
		snprintf(err, sizeof(err), "open(%s) failed: %s", path, strerror(errno));
		goto out;
	}
	if (getline(&line, &cap, f) < 0 || sscanf(line, "mailmesh-roles %" SCNu64, &gen) != 1) {
		snprintf(err, sizeof(err), "%s: no 'mailmesh-roles GEN' line", path);
		goto out;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		char *sp = strchr(line, ' '), *end;
		uint64_t epoch = strtoull(line, &end, 10);

		if (line[len - 1] != '\n' || sp == NULL || end != sp || sp[1] == '\n') {
			snprintf(err, sizeof(err), "%s: a bad line", path);
			goto out;
		}
		line[len - 1] = '\0';
		if (n == ecap) {
			ecap = ecap == 0 ? 16 : ecap * 2;
			ent = mm_realloc(ent, ecap * sizeof(*ent));
		}
		ent[n].account = mm_strdup(sp + 1);
		ent[n++].epoch = epoch;
	}
	if (n > 0)
		qsort(ent, n, sizeof(*ent), role_cmp);
	*list_r = mm_calloc(n + 1, sizeof(**list_r));
	if (epochs_r != NULL)
		*epochs_r = mm_calloc(n + 1, sizeof(**epochs_r));
	for (size_t i = 0; i < n; i++) {
		(*list_r)[i] = ent[i].account;
		if (epochs_r != NULL)
			(*epochs_r)[i] = ent[i].epoch;
	}
	*gen_r = gen;
	*n_r = n;
	n = 0;
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(ent[i].account);
	free(ent);
	if (f != NULL)
		fclose(f);
	free(line);
	free(path);
	if (ret < 0)
		*error_r = err;
	return ret;
}

int mm_roles_write(const char *state_dir, uint64_t gen, const void *body, size_t len,
		   const char **error_r)
{
	static __thread char err[512];
	char *path = mm_strdup_printf("%s/roles", state_dir);
	char *tmp = mm_strdup_printf("%s.tmp", path);
	char head[64];
	int fd, hlen = snprintf(head, sizeof(head), "mailmesh-roles %" PRIu64 "\n", gen);
	int ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, head, (size_t)hlen) != hlen ||
	    (len > 0 && write(fd, body, len) != (ssize_t)len)) {
		snprintf(err, sizeof(err), "write(%s) failed: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
	} else if (close(fd) < 0) {
		snprintf(err, sizeof(err), "close(%s) failed: %s", tmp, strerror(errno));
	} else if (rename(tmp, path) < 0) {
		snprintf(err, sizeof(err), "rename(%s, %s) failed: %s", tmp, path,
			 strerror(errno));
	} else {
		ret = 0;
	}
	if (ret < 0)
		*error_r = err;
	free(tmp);
	free(path);
	return ret;
}

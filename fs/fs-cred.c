/* SPDX-License-Identifier: MIT
 * fs-cred.c - per-thread fsuid/fsgid/groups switching for FUSE requests.
 * setgroups goes through syscall(2): glibc's wrapper would change every
 * thread of the process. */
#include <grp.h>
#include <stdbool.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "fs-cred.h"
#include "mem.h"

#define GROUPS_TTL_S 60
#define GROUPS_MAX 256
#define CACHE_SLOTS 64

struct groups_entry {
	uid_t uid;
	gid_t gid;
	time_t expires;
	int n;
	gid_t groups[GROUPS_MAX];
};

static pthread_mutex_t groups_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct groups_entry groups_cache[CACHE_SLOTS];
static __thread bool cred_entered;

/* The supplementary groups of uid, as login would set them. */
static int groups_of(uid_t uid, gid_t gid, gid_t *out)
{
	struct groups_entry *e = &groups_cache[uid % CACHE_SLOTS];
	time_t now = time(NULL);
	int n = GROUPS_MAX;

	pthread_mutex_lock(&groups_mtx);
	if (e->expires > now && e->uid == uid && e->gid == gid) {
		n = e->n;
		memcpy(out, e->groups, (size_t)n * sizeof(*out));
		pthread_mutex_unlock(&groups_mtx);
		return n;
	}
	pthread_mutex_unlock(&groups_mtx);

	struct passwd pw, *pwp = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL ||
	    getgrouplist(pw.pw_name, gid, out, &n) < 0) {
		out[0] = gid;
		n = 1;
	}
	pthread_mutex_lock(&groups_mtx);
	e->uid = uid;
	e->gid = gid;
	e->n = n;
	memcpy(e->groups, out, (size_t)n * sizeof(*out));
	e->expires = now + GROUPS_TTL_S;
	pthread_mutex_unlock(&groups_mtx);
	return n;
}

void fs_cred_enter(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[GROUPS_MAX];
	int n;

	if (ctx->uid == 0 && ctx->gid == 0)
		return;
	n = groups_of(ctx->uid, ctx->gid, groups);
	syscall(SYS_setgroups, (size_t)n, groups);
	setfsgid(ctx->gid);
	setfsuid(ctx->uid);
	cred_entered = true;
}

void fs_cred_leave(void)
{
	if (!cred_entered)
		return;
	setfsuid(0);
	setfsgid(0);
	syscall(SYS_setgroups, (size_t)0, NULL);
	cred_entered = false;
}

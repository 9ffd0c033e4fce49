/* SPDX-License-Identifier: MIT
 * repl-late.c - late records other than deliveries, merged into an account
 * read-write here: finds this store's state (the mount, its own journal),
 * asks repl-merge.c, and makes the change through the mount so it is
 * journaled here. Late deliveries are repl-session.c's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ctl.h"
#include "journal-file.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "repl-late.h"
#include "repl-merge.h"
#include "repl.h"

#define NOTES_FILE "late-merges"
/* how long a metadata file's lock (Dovecot's own) is waited for */
#define LOCK_WAIT_MS 2000

/* A change this store made through its mount to merge a late record: the
   record the mount journals for it is ordered by the late record's clock,
   not by the time it was made here (a late flag set then cleared must end
   cleared, even though the merge of the set is journaled here after the
   late clear was made). One line of STATE/replication/late-merges. */
struct late_note {
	int op;			/* MM_OP_*, MOVE noted as FLAGS */
	uint64_t since_ns;	/* the journal record is at or after this */
	uint64_t late_ns;
	char *late_store;
	char *account, *folder, *x, *y;	/* see note_key() */
	bool used;		/* matched once in this scan */
};

struct late {
	struct repl_daemon *d;
	const char *peer;
	const struct mm_journal_rec *rec;
	struct repl_merge_clock clock;	/* the late record's */
	char *fdir;		/* the folder in the mount */
	struct late_note *notes;
	size_t n_notes;
	bool erofs;		/* a call through the mount got EROFS */
};

static char *mount_dir(const struct late *L, const char *folder)
{
	return mm_strdup_printf("%s/%s%s%s", L->d->cfg->mount, L->rec->account,
				folder[0] != '\0' ? "/" : "", folder);
}

/* ---- the notes of merges made here ---- */

static int norm_op(int op)
{
	return op == MM_OP_MOVE ? MM_OP_FLAGS : op;
}

/* The two strings a note and a journal record are matched by, besides
   op, account and folder: messages "sub/name" before and after, folders
   the new name, metadata the file's name. */
static void note_key(const struct mm_journal_rec *r, struct mm_buf *x, struct mm_buf *y)
{
	mm_buf_reset(x);
	mm_buf_reset(y);
	switch (r->op) {
	case MM_OP_FLAGS:
	case MM_OP_MOVE:
		mm_buf_printf(x, "%s/%s", mm_sub_str(r->sub), r->name);
		mm_buf_printf(y, "%s/%s", mm_sub_str(r->new_sub), r->new_name);
		break;
	case MM_OP_FOLDER_RENAME:
		mm_buf_puts(y, r->new_folder);
		break;
	case MM_OP_META:
		mm_buf_puts(x, r->name);
		break;
	default:
		break;
	}
	mm_buf_puts(x, "");
	mm_buf_puts(y, "");
}

static char *notes_path(const struct late *L)
{
	return mm_strdup_printf("%s/" NOTES_FILE, L->d->cursor_dir);
}

static void notes_free(struct late *L)
{
	for (size_t i = 0; i < L->n_notes; i++) {
		free(L->notes[i].late_store);
		free(L->notes[i].account);
		free(L->notes[i].folder);
		free(L->notes[i].x);
		free(L->notes[i].y);
	}
	mm_free(&L->notes);
	L->n_notes = 0;
}

/* "OP SINCE LATE STORE\tACCOUNT\tFOLDER\tX\tY" */
static void notes_load(struct late *L)
{
	char *path = notes_path(L), *line = NULL;
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	ssize_t n;

	free(path);
	while (f != NULL && (n = getline(&line, &cap, f)) > 0) {
		char *fld[5], *p = line, store[64];
		struct late_note nt = { 0 };
		int i;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (sscanf(line, "%d %" SCNu64 " %" SCNu64 " %63[^\t]", &nt.op, &nt.since_ns,
			   &nt.late_ns, store) != 4)
			continue;
		for (i = 0; i < 5 && p != NULL; i++) {
			fld[i] = p;
			p = strchr(p, '\t');
			if (p != NULL)
				*p++ = '\0';
		}
		if (i < 5)
			continue;
		nt.late_store = mm_strdup(store);
		nt.account = mm_strdup(fld[1]);
		nt.folder = mm_strdup(fld[2]);
		nt.x = mm_strdup(fld[3]);
		nt.y = mm_strdup(fld[4]);
		L->notes = mm_realloc(L->notes, (L->n_notes + 1) * sizeof(*L->notes));
		L->notes[L->n_notes++] = nt;
	}
	free(line);
	if (f != NULL)
		fclose(f);
}

/* Notes, before the change is made, that the journal record of r's kind
   the mount writes for it is the merge of the late record. */
static void note_add(struct late *L, const struct mm_journal_rec *r)
{
	struct mm_buf x = { 0 }, y = { 0 }, line = { 0 };
	char *path = notes_path(L);
	int fd;

	note_key(r, &x, &y);
	if (strpbrk(r->folder, "\t\n") != NULL || strpbrk(mm_buf_str(&x), "\t\n") != NULL ||
	    strpbrk(mm_buf_str(&y), "\t\n") != NULL) {
		/* unnoted, it is ordered by the time it was made here */
		goto out;
	}
	mm_buf_printf(&line, "%d %" PRIu64 " %" PRIu64 " %s\t%s\t%s\t%s\t%s\n", norm_op(r->op),
		      repl_now_ns(), L->clock.time_ns, L->peer, L->rec->account, r->folder,
		      mm_buf_str(&x), mm_buf_str(&y));
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line.data, line.len) != (ssize_t)line.len || fdatasync(fd) < 0)
		mm_log_warn("replication: noting a late merge in %s failed: %m", path);
	if (fd >= 0)
		close(fd);
out:
	mm_buf_free(&x);
	mm_buf_free(&y);
	mm_buf_free(&line);
	free(path);
}

/* The clock a journal record of this store orders by: the late record's
   whose merge it is, else its own. */
static struct repl_merge_clock rec_clock(struct late *L, const struct mm_journal_rec *r,
					 struct mm_buf *x, struct mm_buf *y)
{
	struct repl_merge_clock c = { r->time_ns, L->d->cfg->node_name };

	note_key(r, x, y);
	for (size_t i = 0; i < L->n_notes; i++) {
		struct late_note *nt = &L->notes[i];

		if (nt->used || nt->op != norm_op(r->op) || r->time_ns < nt->since_ns ||
		    strcmp(nt->account, r->account) != 0 || strcmp(nt->folder, r->folder) != 0 ||
		    strcmp(nt->x, mm_buf_str(x)) != 0 || strcmp(nt->y, mm_buf_str(y)) != 0)
			continue;
		nt->used = true;
		c.time_ns = nt->late_ns;
		c.store = nt->late_store;
		break;
	}
	return c;
}

/* ---- this store's history, from its own journal ---- */

enum scan_kind { SCAN_MSG, SCAN_FOLDER, SCAN_META };

struct scan {
	enum scan_kind kind;
	const char *folder, *folder2;	/* SCAN_FOLDER: either name */
	const char *name;		/* SCAN_MSG: of the identity; SCAN_META */
	struct repl_merge_history h;	/* SCAN_MSG */
	struct repl_merge_clock changed;	/* SCAN_FOLDER, SCAN_META: the last */
};

static bool scan_wants(const struct scan *sc, const struct mm_journal_rec *r)
{
	switch (sc->kind) {
	case SCAN_MSG:
		return strcmp(r->folder, sc->folder) == 0 &&
			(r->op == MM_OP_FLAGS || r->op == MM_OP_MOVE ||
			 r->op == MM_OP_EXPUNGE) &&
			mm_msgname_same_identity(r->name, sc->name);
	case SCAN_FOLDER:
		if (r->op != MM_OP_FOLDER_CREATE && r->op != MM_OP_FOLDER_DELETE &&
		    r->op != MM_OP_FOLDER_RENAME)
			return false;
		return strcmp(r->folder, sc->folder) == 0 ||
			(sc->folder2 != NULL && strcmp(r->folder, sc->folder2) == 0) ||
			(r->op == MM_OP_FOLDER_RENAME &&
			 (strcmp(r->new_folder, sc->folder) == 0 ||
			  (sc->folder2 != NULL && strcmp(r->new_folder, sc->folder2) == 0)));
	case SCAN_META:
		return r->op == MM_OP_META && strcmp(r->folder, sc->folder) == 0 &&
			strcmp(r->name, sc->name) == 0;
	}
	return false;
}

/* Reads this store's journal from the late record's time on (the segment
   before it included: records older than the late one lose to it). */
static void scan_history(struct late *L, struct scan *sc)
{
	struct mm_journal_reader *rd;
	struct mm_journal_rec r;
	struct mm_buf x = { 0 }, y = { 0 };
	const char *error;
	int ret;

	for (size_t i = 0; i < L->n_notes; i++)
		L->notes[i].used = false;
	if (mm_journal_reader_open(L->d->cfg->state,
				   mm_journal_lsn_since(L->d->cfg->state, L->clock.time_ns),
				   &rd, &error) < 0) {
		mm_log_warn("replication from %s: late record %" PRIu64 ": this store's "
			    "journal: %s; merged as if nothing changed here", L->peer,
			    L->rec->lsn, error);
		return;
	}
	while ((ret = mm_journal_reader_next(rd, &r, &error)) != 0) {
		struct repl_merge_clock c;

		if (ret < 0 || strcmp(r.account, L->rec->account) != 0 || !scan_wants(sc, &r))
			continue;
		c = rec_clock(L, &r, &x, &y);
		if (sc->kind == SCAN_MSG && r.op == MM_OP_EXPUNGE) {
			sc->h.expunged = true;
		} else if (sc->kind == SCAN_MSG) {
			if (mm_msgname_same_identity(r.new_name, sc->name))
				repl_merge_history_note(&sc->h, repl_merge_name_flags(r.name),
							repl_merge_name_flags(r.new_name), &c);
		} else if (repl_merge_after(&c, &sc->changed) || sc->changed.time_ns == 0) {
			/* the clock of a note borrows from L->notes, which
			   outlive the scan */
			sc->changed = c;
		}
	}
	mm_journal_reader_close(&rd);
	mm_buf_free(&x);
	mm_buf_free(&y);
}

/* ---- the outcome: one log line, the counters ---- */

static void __attribute__((format(printf, 5, 6)))
outcome(struct late *L, enum repl_merge_action act, unsigned int conflicts,
	const char *rule, const char *fmt, ...)
{
	const struct mm_journal_rec *rec = L->rec;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (act == REPL_MERGE_APPLY)
		L->d->n_late_merged++;
	else if (act == REPL_MERGE_ALREADY && conflicts == 0)
		L->d->n_already++;
	if (act == REPL_MERGE_KEEP || act == REPL_MERGE_MISSING || conflicts > 0)
		L->d->n_conflicts++;
	if (act == REPL_MERGE_ALREADY && conflicts == 0) {
		mm_log_debug("replication from %s: late record %" PRIu64 " (%s %s/%s/%s): %s",
			     L->peer, rec->lsn, mm_op_str(rec->op), rec->account, rec->folder,
			     rec->name, what);
		return;
	}
	(act == REPL_MERGE_APPLY && conflicts == 0 ? mm_log_info : mm_log_warn)(
		"replication from %s: late record %" PRIu64 " (%s %s/%s/%s): %s%s (rule: %s)",
		L->peer, rec->lsn, mm_op_str(rec->op), rec->account, rec->folder, rec->name,
		act == REPL_MERGE_APPLY && conflicts == 0 ? "" : "conflict: ",
		what, rule);
}

/* A call through the mount failed: the record is not merged. */
static void failed(struct late *L, const char *call, const char *path)
{
	const struct mm_journal_rec *rec = L->rec;

	if (errno == EROFS) {
		/* not active here any more: the session has it sent again */
		L->erofs = true;
		mm_log_info("replication from %s: late record %" PRIu64 " (%s %s/%s/%s): %s(%s): "
			    "%s is not writable here any more; it comes again as a "
			    "replica's record", L->peer, rec->lsn, mm_op_str(rec->op),
			    rec->account, rec->folder, rec->name, call, path, rec->account);
		return;
	}
	L->d->n_conflicts++;
	mm_log_error("replication from %s: late record %" PRIu64 " (%s %s/%s/%s): %s(%s) "
		     "failed: %m; not merged, it stays on %s", L->peer, rec->lsn,
		     mm_op_str(rec->op), rec->account, rec->folder, rec->name, call, path,
		     L->peer);
}

/* This store kept its own version of a message or metadata file (rel:
   "sub/name" or the file's name in the folder): has mailmesh-fs journal
   it as it is, so that a replica that took the late record straight from
   the former source takes this store's version again. */
static void reassert(struct late *L, const char *rel)
{
	const struct mm_journal_rec *rec = L->rec;
	char *line = mm_strdup_printf("reassert %s%s%s/%s", rec->account,
				      rec->folder[0] != '\0' ? "/" : "", rec->folder, rel);
	const char *error = "mailmesh-fs is not running";
	char reply[512];

	if (mm_ctl_call(L->d->fs_ctl_path, line, reply, sizeof(reply), &error) != 0)
		mm_log_warn("replication from %s: late record %" PRIu64 ": journaling this "
			    "store's %s again failed: %s; a replica that took the late "
			    "record keeps it until the next change", L->peer, rec->lsn,
			    line + 9, error);
	free(line);
}

/* ---- messages ---- */

/* Finds the message of name's identity in dir's new/ or cur/. 1 with its
   sub and name (in found_r, reset first), 0 when it is not there. */
static int find_msg(const char *dir, const char *name, enum mm_sub *sub_r,
		    struct mm_buf *found_r)
{
	static const enum mm_sub subs[2] = { MM_SUB_CUR, MM_SUB_NEW };

	for (int i = 0; i < 2; i++) {
		char *path = mm_strdup_printf("%s/%s", dir, mm_sub_str(subs[i]));
		DIR *d = opendir(path);
		struct dirent *de;

		free(path);
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' || !mm_msgname_same_identity(de->d_name, name))
				continue;
			mm_buf_reset(found_r);
			mm_buf_puts(found_r, de->d_name);
			*sub_r = subs[i];
			closedir(d);
			return 1;
		}
		if (d != NULL)
			closedir(d);
	}
	return 0;
}

static bool changed_after(const struct repl_merge_history *h, const struct repl_merge_clock *c)
{
	for (unsigned int i = 0; i < REPL_MERGE_FLAGS_MAX; i++)
		if (repl_merge_after(&h->flag[i], c))
			return true;
	return false;
}

static void late_flags(struct late *L)
{
	const struct mm_journal_rec *rec = L->rec;
	struct scan sc = { .kind = SCAN_MSG, .folder = rec->folder, .name = rec->name };
	struct mm_buf found = { 0 }, target = { 0 };
	char flags[REPL_MERGE_FLAGS_MAX], *from = NULL, *to = NULL;
	enum mm_sub sub = MM_SUB_NONE, tsub;
	enum repl_merge_action act;
	unsigned int conflicts;
	const char *rule;
	bool present;

	if (!mm_msgname_same_identity(rec->name, rec->new_name)) {
		outcome(L, REPL_MERGE_KEEP, 0, "a rename to another identity is not merged",
			"not applied");
		return;
	}
	present = find_msg(L->fdir, rec->name, &sub, &found) == 1;
	scan_history(L, &sc);
	act = repl_merge_msg(rec->op, present, &sc.h, &rule);
	if (act != REPL_MERGE_APPLY) {
		outcome(L, act, 0, rule, "not applied");
		goto out;
	}
	conflicts = repl_merge_flags(repl_merge_name_flags(rec->name),
				     repl_merge_name_flags(rec->new_name), &L->clock,
				     repl_merge_name_flags(mm_buf_str(&found)), &sc.h, flags);
	/* a message in cur/ stays there; one with flags or moved to cur/
	   by the late record goes there */
	tsub = sub == MM_SUB_CUR || rec->new_sub == MM_SUB_CUR || flags[0] != '\0' ?
		MM_SUB_CUR : MM_SUB_NEW;
	if (tsub == MM_SUB_CUR && strchr(mm_buf_str(&found), ':') == NULL) {
		mm_buf_append(&target, found.data, strlen(mm_buf_str(&found)));
		mm_buf_puts(&target, ":2,");
		mm_buf_puts(&target, flags);
	} else {
		repl_merge_msgname(mm_buf_str(&found), flags, &target);
	}
	if (tsub == sub && strcmp(mm_buf_str(&target), mm_buf_str(&found)) == 0) {
		outcome(L, REPL_MERGE_ALREADY, conflicts, rule, "%s/%s kept as it is%s",
			mm_sub_str(sub), mm_buf_str(&found),
			conflicts > 0 ? ": its flags changed here later" : "");
		if (conflicts > 0) {
			from = mm_strdup_printf("%s/%s", mm_sub_str(sub), mm_buf_str(&found));
			reassert(L, from);
		}
		goto out;
	}
	from = mm_strdup_printf("%s/%s/%s", L->fdir, mm_sub_str(sub), mm_buf_str(&found));
	to = mm_strdup_printf("%s/%s/%s", L->fdir, mm_sub_str(tsub), mm_buf_str(&target));
	struct mm_journal_rec n = { .op = MM_OP_FLAGS, .account = rec->account,
				    .folder = rec->folder, .sub = (uint8_t)sub,
				    .name = mm_buf_str(&found), .new_sub = (uint8_t)tsub,
				    .new_name = mm_buf_str(&target) };

	note_add(L, &n);
	if (rename(from, to) < 0) {
		failed(L, "rename", from);
		goto out;
	}
	outcome(L, REPL_MERGE_APPLY, conflicts, rule, "%s/%s -> %s/%s%s", mm_sub_str(sub),
		mm_buf_str(&found), mm_sub_str(tsub), mm_buf_str(&target),
		conflicts > 0 ? " (this store's later change of some flags kept)" : "");
out:
	free(from);
	free(to);
	mm_buf_free(&found);
	mm_buf_free(&target);
}

static void late_expunge(struct late *L)
{
	const struct mm_journal_rec *rec = L->rec;
	struct scan sc = { .kind = SCAN_MSG, .folder = rec->folder, .name = rec->name };
	struct mm_buf found = { 0 };
	enum mm_sub sub = MM_SUB_NONE;
	enum repl_merge_action act;
	const char *rule;
	char *path = NULL;
	bool present;

	present = find_msg(L->fdir, rec->name, &sub, &found) == 1;
	if (present)
		scan_history(L, &sc);
	act = repl_merge_msg(MM_OP_EXPUNGE, present, &sc.h, &rule);
	if (act != REPL_MERGE_APPLY) {
		outcome(L, act, 0, rule, "nothing to remove");
		goto out;
	}
	path = mm_strdup_printf("%s/%s/%s", L->fdir, mm_sub_str(sub), mm_buf_str(&found));
	if (unlink(path) < 0 && errno != ENOENT) {
		failed(L, "unlink", path);
		goto out;
	}
	outcome(L, REPL_MERGE_APPLY, changed_after(&sc.h, &L->clock) ? 1 : 0, rule,
		"%s/%s removed%s", mm_sub_str(sub), mm_buf_str(&found),
		changed_after(&sc.h, &L->clock) ? " (its flags changed here later)" : "");
out:
	free(path);
	mm_buf_free(&found);
}

/* mkdir -p of dir (below the account in the mount) and its cur/ new/
   tmp/, as uid:gid. 0 or -1 (errno). */
static int make_folder(struct late *L, const char *dir, uid_t uid, gid_t gid)
{
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	char *p = mm_strdup(dir);
	size_t skip = strlen(L->d->cfg->mount) + 1 + strlen(L->rec->account);
	int ret = 0;

	for (char *s = p + skip; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0700) == 0 && chown(p, uid, gid) < 0)
			mm_log_warn("replication: chown(%s) failed: %m", p);
		*s = '/';
	}
	free(p);
	for (int i = 0; i < 4 && ret == 0; i++) {
		char *d = mm_strdup_printf("%s%s", dir, subs[i]);

		if (mkdir(d, 0700) == 0) {
			if (chown(d, uid, gid) < 0)
				mm_log_warn("replication: chown(%s) failed: %m", d);
		} else if (errno != EEXIST) {
			ret = -1;
		}
		free(d);
	}
	return ret;
}

/* Copies src into dir's tmp/ and renames it to sub/name (journaled as a
   delivery): where a hard link cannot be made. 0 or -1 (errno). */
static int copy_in(struct late *L, const char *src, const char *dir, const char *dst)
{
	char *tmp = mm_strdup_printf("%s/tmp/.mmlate.%s.%" PRIu64, dir, L->peer, L->rec->lsn);
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, ret = -1;
	struct stat st;
	char buf[65536];
	ssize_t n = 0;

	if (in >= 0 && fstat(in, &st) == 0)
		out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (out >= 0 && n == 0) {
		struct timespec ts[2] = { st.st_mtim, st.st_mtim };

		if (fchown(out, st.st_uid, st.st_gid) < 0 || fchmod(out, st.st_mode & 0777) < 0 ||
		    futimens(out, ts) < 0)
			mm_log_warn("replication: late copy %s: owner, mode or mtime not set: %m",
				    tmp);
		ret = 0;
	}
	if (out >= 0 && close(out) < 0)
		ret = -1;
	if (in >= 0)
		close(in);
	if (ret == 0 && rename(tmp, dst) < 0)
		ret = -1;
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

static void late_copy(struct late *L)
{
	const struct mm_journal_rec *rec = L->rec;
	struct scan sc = { .kind = SCAN_MSG, .folder = rec->folder, .name = rec->name };
	struct mm_buf found = { 0 }, there = { 0 };
	char *tdir = mount_dir(L, rec->new_folder), *src = NULL, *dst = NULL;
	enum mm_sub sub = MM_SUB_NONE, tsub;
	struct stat st;

	if (find_msg(tdir, rec->new_name, &tsub, &there) == 1) {
		outcome(L, REPL_MERGE_ALREADY, 0, "a copy is made once", "%s is in %s",
			mm_buf_str(&there), rec->new_folder);
		goto out;
	}
	if (find_msg(L->fdir, rec->name, &sub, &found) != 1) {
		const char *rule;

		scan_history(L, &sc);
		outcome(L, repl_merge_msg(MM_OP_FLAGS, false, &sc.h, &rule), 0, rule,
			"no copy into %s", rec->new_folder);
		goto out;
	}
	src = mm_strdup_printf("%s/%s/%s", L->fdir, mm_sub_str(sub), mm_buf_str(&found));
	dst = mm_strdup_printf("%s/%s/%s", tdir, mm_sub_str(rec->new_sub == MM_SUB_NEW ?
			       MM_SUB_NEW : MM_SUB_CUR), rec->new_name);
	if (stat(src, &st) < 0) {
		failed(L, "stat", src);
		goto out;
	}
	if (make_folder(L, tdir, st.st_uid, st.st_gid) < 0) {
		failed(L, "mkdir", tdir);
		goto out;
	}
	/* a link is journaled as a copy, like the late one; a copy of the
	   bytes as a delivery where a link cannot be made */
	if (link(src, dst) < 0 && errno != EEXIST && copy_in(L, src, tdir, dst) < 0) {
		failed(L, "link", dst);
		goto out;
	}
	outcome(L, REPL_MERGE_APPLY, 0, "a copy is made when its message is here",
		"%s copied into %s", mm_buf_str(&found), rec->new_folder);
out:
	free(tdir);
	free(src);
	free(dst);
	mm_buf_free(&found);
	mm_buf_free(&there);
}

/* ---- folders ---- */

static bool is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool holds_mail(const char *dir)
{
	static const char *const subs[] = { "new", "cur" };
	bool mail = false;

	for (int i = 0; i < 2 && !mail; i++) {
		char *path = mm_strdup_printf("%s/%s", dir, subs[i]);
		DIR *d = opendir(path);
		struct dirent *de;

		free(path);
		while (d != NULL && !mail && (de = readdir(d)) != NULL)
			mail = de->d_name[0] != '.';
		if (d != NULL)
			closedir(d);
	}
	return mail;
}

/* Removes what is below path (a folder renamed to a ".." name, which the
   mount does not journal) and path itself. */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = mm_strdup_printf("%s/%s", path, de->d_name);
		if (de->d_type == DT_DIR)
			remove_tree(p);
		else if (unlink(p) < 0 && errno == EISDIR)
			remove_tree(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		mm_log_warn("replication: removing %s: %m", path);
}

static void late_folder(struct late *L)
{
	const struct mm_journal_rec *rec = L->rec;
	bool rename_op = rec->op == MM_OP_FOLDER_RENAME;
	struct scan sc = { .kind = SCAN_FOLDER, .folder = rec->folder,
			   .folder2 = rename_op ? rec->new_folder : NULL };
	struct repl_merge_folder f = { 0 };
	char *ndir = rename_op ? mount_dir(L, rec->new_folder) : NULL, *trash = NULL;
	enum repl_merge_action act;
	const char *rule;

	if (rec->folder[0] == '\0' || (rename_op && rec->new_folder[0] == '\0')) {
		outcome(L, REPL_MERGE_KEEP, 0, "the account itself is not a folder to change",
			"not applied");
		goto out;
	}
	f.exists = is_dir(L->fdir);
	f.new_exists = ndir != NULL && is_dir(ndir);
	f.holds_mail = f.exists && holds_mail(L->fdir);
	scan_history(L, &sc);
	f.changed = sc.changed;
	act = repl_merge_folder(rec->op, &L->clock, &f, &rule);
	if (act != REPL_MERGE_APPLY) {
		outcome(L, act, 0, rule, "not applied");
		goto out;
	}
	note_add(L, rec);
	switch (rec->op) {
	case MM_OP_FOLDER_CREATE:
		if (make_folder(L, L->fdir, rec->uid, rec->gid) < 0) {
			failed(L, "mkdir", L->fdir);
			goto out;
		}
		break;
	case MM_OP_FOLDER_RENAME:
		if (rename(L->fdir, ndir) < 0) {
			failed(L, "rename", L->fdir);
			goto out;
		}
		break;
	default: {
		/* as Dovecot deletes a mailbox: renamed to a ".." name (the
		   mount journals the folder_delete), then removed */
		const char *slash = strrchr(L->fdir, '/');

		trash = mm_strdup_printf("%.*s/..mmlate-deleted.%s.%" PRIu64,
					 (int)(slash - L->fdir), L->fdir, L->peer, rec->lsn);
		if (rename(L->fdir, trash) < 0) {
			failed(L, "rename", L->fdir);
			goto out;
		}
		/* mail delivered here between the look and the rename: nothing
		   reaches the renamed folder after it, so one more look is
		   enough; the folder goes back and stays (a replica never
		   deletes a folder that still holds mail either) */
		if (holds_mail(trash)) {
			if (rename(trash, L->fdir) < 0)
				failed(L, "rename back", trash);
			outcome(L, REPL_MERGE_KEEP, 0, "a folder that holds mail here is not "
				"deleted (mail arrived meanwhile)", "not applied");
			goto out;
		}
		remove_tree(trash);
		break;
	}
	}
	outcome(L, REPL_MERGE_APPLY, 0, rule, "%s%s%s", mm_op_str(rec->op),
		rename_op ? " to " : "", rename_op ? rec->new_folder : "");
out:
	free(ndir);
	free(trash);
}

/* ---- metadata ---- */

/* Reads path whole (at most MM_JOURNAL_DATA_MAX bytes). 1 with its bytes
   and *st_r, 0 when it is not there, -1 on error (too big included). */
static int read_file(const char *path, struct mm_buf *out, struct stat *st_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	mm_buf_reset(out);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, st_r) < 0 || !S_ISREG(st_r->st_mode) ||
	    st_r->st_size > (off_t)MM_JOURNAL_DATA_MAX) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		mm_buf_append(out, buf, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 1;
}

/* Writes data to tmp (created O_EXCL: for dovecot-uidlist and
   dovecot-keywords it is Dovecot's own lock, waited for) and renames it
   over path: the mount journals the whole file. 0, or -1 with errno. */
static int write_meta(const char *tmp, const char *path, const void *data, size_t len,
		      uid_t uid, gid_t gid, mode_t mode, const struct timespec *mtime)
{
	int fd = -1, waited = 0;

	while ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600)) < 0 && errno == EEXIST && waited < LOCK_WAIT_MS) {
		struct timespec ts = { 0, 50 * 1000000L };

		nanosleep(&ts, NULL);
		waited += 50;
	}
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchown(fd, uid, gid) < 0 ||
	    fchmod(fd, mode & 0777) < 0 ||
	    (mtime != NULL && futimens(fd, (struct timespec[2]){ *mtime, *mtime }) < 0) ||
	    close(fd) < 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return -1;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

static void late_meta(struct late *L)
{
	const struct mm_journal_rec *rec = L->rec;
	struct scan sc = { .kind = SCAN_META, .folder = rec->folder, .name = rec->name };
	const char *base = strrchr(rec->name, '/'), *rule, *error;
	bool deleted = (rec->rflags & MM_RECF_DELETED) != 0;
	bool uidlist, keywords;
	struct mm_buf local = { 0 }, merged = { 0 };
	struct repl_merge_stats st;
	char *path = mm_strdup_printf("%s/%s", L->fdir, rec->name), *tmp = NULL;
	struct stat sb;
	int have, r;

	base = base != NULL ? base + 1 : rec->name;
	uidlist = strcmp(base, "dovecot-uidlist") == 0;
	keywords = strcmp(base, "dovecot-keywords") == 0;
	if (!deleted && rec->data_len != rec->size) {
		outcome(L, REPL_MERGE_KEEP, 0, "this store's metadata file is kept",
			"a file over %u bytes is not merged", MM_JOURNAL_DATA_MAX);
		goto out;
	}
	have = read_file(path, &local, &sb);
	if (have < 0) {
		failed(L, "read", path);
		goto out;
	}
	if ((uidlist || keywords) && !deleted && have == 1) {
		r = (uidlist ? repl_merge_uidlist : repl_merge_keywords)(
			mm_buf_str(&local), local.len, (const char *)rec->data, rec->data_len,
			&merged, &st, &error);
		rule = uidlist ? "dovecot-uidlist is merged: UIDVALIDITY and UIDs here are "
			"kept, a late message at a UID given out here gets a fresh one" :
			"dovecot-keywords is merged: indexes here are kept, late keywords "
			"added at free ones";
		if (r < 0) {
			outcome(L, REPL_MERGE_KEEP, 0, rule, "not merged: %s", error);
			reassert(L, rec->name);
			goto out;
		}
		if (r == 0) {
			outcome(L, REPL_MERGE_ALREADY, st.differ + st.dropped, rule,
				"nothing to add (%u at another %s here, %u dropped: no free index)",
				st.differ, uidlist ? "UID" : "index", st.dropped);
			if (local.len != rec->data_len ||
			    memcmp(local.data, rec->data, rec->data_len) != 0)
				reassert(L, rec->name);
			goto out;
		}
		tmp = mm_strdup_printf("%s.lock", path);
		note_add(L, rec);
		if (write_meta(tmp, path, merged.data, merged.len, sb.st_uid, sb.st_gid,
			       sb.st_mode, NULL) < 0) {
			failed(L, "write", tmp);
			goto out;
		}
		outcome(L, REPL_MERGE_APPLY, st.renumbered + st.differ + st.dropped, rule,
			"%u added, %u of them at a fresh %s, %u at another %s here (kept), "
			"%u dropped", st.added, st.renumbered, uidlist ? "UID" : "index",
			st.differ, uidlist ? "UID" : "index", st.dropped);
		goto out;
	}
	scan_history(L, &sc);
	bool same = deleted ? have == 0 : have == 1 && local.len == rec->data_len &&
		memcmp(local.data, rec->data, rec->data_len) == 0;
	enum repl_merge_action act = repl_merge_meta(deleted, have == 1, same, &sc.changed,
						     &L->clock, &rule);

	if (act != REPL_MERGE_APPLY) {
		outcome(L, act, 0, rule, deleted ? "not removed" : "not written");
		if (act == REPL_MERGE_KEEP)
			reassert(L, rec->name);
		goto out;
	}
	note_add(L, rec);
	if (deleted) {
		if (unlink(path) < 0 && errno != ENOENT) {
			failed(L, "unlink", path);
			goto out;
		}
	} else {
		struct timespec mt = { rec->mtime_ns / 1000000000LL, rec->mtime_ns % 1000000000LL };
		char *dir = mm_strndup(path, (size_t)(strrchr(path, '/') - path));

		/* courierimapkeywords/: the directory may be missing */
		if (mkdir(dir, 0700) == 0 && chown(dir, rec->uid, rec->gid) < 0)
			mm_log_warn("replication: chown(%s) failed: %m", dir);
		free(dir);
		tmp = mm_strdup_printf("%s.mmlate.tmp", path);
		unlink(tmp);	/* a merge cut short */
		if (write_meta(tmp, path, rec->data, rec->data_len, rec->uid, rec->gid,
			       rec->mode, &mt) < 0) {
			failed(L, "write", tmp);
			goto out;
		}
	}
	outcome(L, REPL_MERGE_APPLY, 0, rule, deleted ? "removed" : "written");
out:
	free(path);
	free(tmp);
	mm_buf_free(&local);
	mm_buf_free(&merged);
}

bool repl_late_expunged(struct repl_daemon *d, const char *peer,
			const struct mm_journal_rec *rec)
{
	struct late L = { .d = d, .peer = peer, .rec = rec,
			  .clock = { rec->time_ns, peer } };
	struct scan sc = { .kind = SCAN_MSG, .folder = rec->folder, .name = rec->name };

	notes_load(&L);
	scan_history(&L, &sc);
	notes_free(&L);
	return sc.h.expunged;
}

int repl_late_apply(struct repl_daemon *d, const char *peer,
		    const struct mm_journal_rec *rec)
{
	struct late L = { .d = d, .peer = peer, .rec = rec,
			  .clock = { rec->time_ns, peer } };

	L.fdir = mount_dir(&L, rec->folder);
	notes_load(&L);
	switch (rec->op) {
	case MM_OP_FLAGS:
	case MM_OP_MOVE:
		late_flags(&L);
		break;
	case MM_OP_EXPUNGE:
		late_expunge(&L);
		break;
	case MM_OP_COPY:
		late_copy(&L);
		break;
	case MM_OP_FOLDER_CREATE:
	case MM_OP_FOLDER_RENAME:
	case MM_OP_FOLDER_DELETE:
		late_folder(&L);
		break;
	case MM_OP_META:
		late_meta(&L);
		break;
	default:
		outcome(&L, REPL_MERGE_KEEP, 0, "not a mergeable operation", "not applied");
		break;
	}
	notes_free(&L);
	free(L.fdir);
	return L.erofs ? -EROFS : 0;
}

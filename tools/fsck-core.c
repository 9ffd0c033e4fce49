/* SPDX-License-Identifier: MIT
 * fsck-core.c - mailmesh-fsck's decisions (see fsck-core.h): the journal
 * replayed per message identity, a store judged against it and the
 * Maildir rules, two stores' folders compared. Pure; walking, peers, reading
 * and repairs are lib/inventory.c's, fsck-peer.c's and fsck-store.c's. */
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "fsck-core.h"
#include "maildir.h"
#include "log.h"
#include "mem.h"

/* ---- the report ---- */

struct fsck_problem *fsck_report_add(struct fsck_report *r, enum fsck_kind kind,
				     enum fsck_fix fix, const char *store,
				     const char *account, const char *folder,
				     const char *path, const char *fmt, ...)
{
	struct fsck_problem *p;
	va_list ap;
	char *detail = NULL;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->p = mm_realloc(r->p, r->cap * sizeof(*r->p));
	}
	p = &r->p[r->n++];
	memset(p, 0, sizeof(*p));
	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		mm_panic("vasprintf: out of memory");
	va_end(ap);
	p->kind = kind;
	p->fix = fix;
	p->store = mm_strdup(store ? store : "");
	p->account = mm_strdup(account ? account : "");
	p->folder = mm_strdup(folder ? folder : "");
	p->path = mm_strdup(path ? path : "");
	p->detail = detail;
	p->want = mm_strdup("");
	return p;
}

void fsck_report_free(struct fsck_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct fsck_problem *p = &r->p[i];

		free(p->store);
		free(p->account);
		free(p->folder);
		free(p->path);
		free(p->detail);
		free(p->want);
	}
	free(r->p);
	memset(r, 0, sizeof(*r));
}

int fsck_exit_code(const struct fsck_report *r)
{
	bool left = false;

	if (r->operational)
		return FSCK_EXIT_OPERATIONAL;
	for (size_t i = 0; i < r->n; i++) {
		if (!r->p[i].fixed)
			left = true;
	}
	if (left)
		return FSCK_EXIT_LEFT;
	return r->n > 0 ? FSCK_EXIT_FIXED : FSCK_EXIT_CLEAN;
}

const char *fsck_kind_str(enum fsck_kind kind)
{
	static const char *const s[] = {
		[FSCK_NO_SUBDIR] = "no-subdir", [FSCK_BAD_NAME] = "bad-name",
		[FSCK_DUP_IDENTITY] = "duplicate-identity", [FSCK_NEW_FLAGS] = "new-with-flags",
		[FSCK_STALE_TMP] = "stale-tmp", [FSCK_SIZE_TAG] = "size-tag",
		[FSCK_JOURNAL_CORRUPT] = "journal-corrupt", [FSCK_JOURNAL_ORDER] = "journal-order",
		[FSCK_UNJOURNALED] = "unjournaled", [FSCK_GONE] = "gone",
		[FSCK_CONTENT_LOST] = "content-lost", [FSCK_CORRUPT] = "corrupt",
		[FSCK_UNREADABLE] = "unreadable", [FSCK_PEER_MISSING] = "missing",
		[FSCK_PEER_EXTRA] = "extra", [FSCK_PEER_CONTENT] = "different-content",
		[FSCK_PEER_FLAGS] = "different-flags", [FSCK_PEER_META] = "different-metadata",
		[FSCK_PEER_FOLDER] = "folder", [FSCK_PEER_ACCOUNT] = "account-missing",
		[FSCK_PEER_UNREACHABLE] = "peer-unreachable",
	};

	return kind >= 1 && kind <= FSCK_KIND_LAST ? s[kind] : "unknown";
}

const char *fsck_fix_str(enum fsck_fix fix)
{
	static const char *const s[] = {
		[FSCK_FIX_NONE] = "none", [FSCK_FIX_QUARANTINE] = "quarantine",
		[FSCK_FIX_MKDIR] = "mkdir", [FSCK_FIX_FETCH] = "fetch",
		[FSCK_FIX_RENAME] = "rename", [FSCK_FIX_RESYNC] = "resync", [FSCK_FIX_FILL] = "fill",
	};

	return fix <= FSCK_FIX_FILL ? s[fix] : "unknown";
}

/* ---- the journal, replayed: account/folder/identity -> fsck_jmsg ---- */

/* Strings that live as long as the table: bump-allocated in chunks, so a
   journal of a million records is not a million mallocs and frees. */
#define ARENA_CHUNK (256 * 1024)
struct arena {
	char **chunks;
	size_t n;
	size_t used, size;	/* of the last chunk */
};

static char *arena_dup(struct arena *a, const char *s, size_t len)
{
	char *p;

	if (a->n == 0 || a->size - a->used < len + 1) {
		a->size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
		a->chunks = mm_realloc(a->chunks, (a->n + 1) * sizeof(*a->chunks));
		a->chunks[a->n++] = mm_malloc(a->size);
		a->used = 0;
	}
	p = a->chunks[a->n - 1] + a->used;
	memcpy(p, s, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

static void arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->chunks[i]);
	free(a->chunks);
	memset(a, 0, sizeof(*a));
}

/* One message identity the journal named. */
struct jent {
	char *key;		/* "account\0folder\0identity" (arena); NULL: dropped */
	uint32_t key_len, folder_off;
	uint64_t hash;		/* of the key */
	uint32_t next;		/* the account's next entry + 1; 0: none */
	uint32_t seen;		/* the fsck_check_account round that met it */
	struct fsck_jmsg m;
};

/* An account's entries, as a list through jent.next. */
struct jacct {
	const char *name;	/* arena */
	uint64_t hash;
	uint32_t head, tail;	/* entry + 1; 0: none */
};

struct fsck_jstate {
	struct jent *e;		/* in the order first named */
	size_t n, cap_e;
	uint32_t *tab;		/* open addressing: index into e + 1, 0 empty */
	size_t cap;		/* a power of two, at least twice n */
	struct arena strings;
	struct jacct *acct;	/* every account named */
	size_t n_acct, cap_acct;
	uint32_t *acct_tab;	/* open addressing: index into acct + 1 */
	size_t acct_cap;	/* a power of two, at least twice n_acct */
	uint32_t round;		/* of fsck_check_account */
};

struct fsck_jstate *fsck_jstate_new(void)
{
	struct fsck_jstate *js = mm_calloc(1, sizeof(*js));

	js->cap = 1024;
	js->tab = mm_calloc(js->cap, sizeof(*js->tab));
	js->acct_cap = 16;
	js->acct_tab = mm_calloc(js->acct_cap, sizeof(*js->acct_tab));
	return js;
}

void fsck_jstate_free(struct fsck_jstate **jsp)
{
	struct fsck_jstate *js = *jsp;

	if (js == NULL)
		return;
	arena_free(&js->strings);
	free(js->e);
	free(js->tab);
	free(js->acct);
	free(js->acct_tab);
	free(js);
	*jsp = NULL;
}

static size_t identity_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

/* Writes "account\0folder\0identity" into buf (KEY_STACK bytes) or, when
   it does not fit, a new string (*heap_r, the caller frees it). */
#define KEY_STACK 1024
static char *make_key(char *buf, char **heap_r, const char *account, const char *folder,
		      const char *id, size_t id_len, size_t *len_r, size_t *folder_off_r)
{
	size_t a = strlen(account), f = strlen(folder);
	char *k = buf;

	*heap_r = NULL;
	if (a + f + id_len + 3 > KEY_STACK)
		k = *heap_r = mm_malloc(a + f + id_len + 3);
	memcpy(k, account, a + 1);
	memcpy(k + a + 1, folder, f + 1);
	memcpy(k + a + f + 2, id, id_len);
	k[a + f + 2 + id_len] = '\0';
	*len_r = a + f + 2 + id_len;
	if (folder_off_r != NULL)
		*folder_off_r = a + 1;
	return k;
}

/* The table cell for key: the one holding it, or the empty one where it
   would go. */
static uint32_t *cell_find(const struct fsck_jstate *js, const char *key, size_t len,
			   uint64_t hash)
{
	for (size_t i = hash & (js->cap - 1);; i = (i + 1) & (js->cap - 1)) {
		uint32_t *c = &js->tab[i];
		const struct jent *e;

		if (*c == 0)
			return c;
		e = &js->e[*c - 1];
		if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
			return c;
	}
}

/* Makes the table anew from js->e (keys changed, or it grows): of two
   entries with one key the later stands and the earlier is dropped (a
   folder moved onto messages of the same identity: see folder_move). */
static void rebuild(struct fsck_jstate *js, size_t cap)
{
	free(js->tab);
	js->cap = cap;
	js->tab = mm_calloc(js->cap, sizeof(*js->tab));
	for (size_t i = 0; i < js->n; i++) {
		struct jent *e = &js->e[i];
		uint32_t *c;

		if (e->key == NULL)
			continue;
		c = cell_find(js, e->key, e->key_len, e->hash);
		if (*c != 0)
			js->e[*c - 1].key = NULL;	/* the later one stands */
		*c = (uint32_t)(i + 1);
	}
}

/* The account's cell in acct_tab: holding it, or empty where it goes. */
static uint32_t *acct_cell(const struct fsck_jstate *js, const char *account, uint64_t hash)
{
	for (size_t i = hash & (js->acct_cap - 1);; i = (i + 1) & (js->acct_cap - 1)) {
		uint32_t *c = &js->acct_tab[i];

		if (*c == 0 || (js->acct[*c - 1].hash == hash &&
				strcmp(js->acct[*c - 1].name, account) == 0))
			return c;
	}
}

static struct jacct *acct_find(const struct fsck_jstate *js, const char *account)
{
	uint32_t *c = acct_cell(js, account, XXH3_64bits(account, strlen(account)));

	return *c != 0 ? &js->acct[*c - 1] : NULL;
}

/* Appends e (its key set) to js->e and to its account's list; returns
   its place. */
static size_t jent_append(struct fsck_jstate *js, const struct jent *e, const char *account)
{
	uint64_t h = XXH3_64bits(account, strlen(account));
	uint32_t *c = acct_cell(js, account, h);
	struct jacct *a;
	size_t i = js->n;

	mm_assert(js->n < UINT32_MAX - 1);
	if (*c == 0) {
		if ((js->n_acct + 1) * 2 > js->acct_cap) {
			free(js->acct_tab);
			js->acct_cap *= 2;
			js->acct_tab = mm_calloc(js->acct_cap, sizeof(*js->acct_tab));
			for (size_t k = 0; k < js->n_acct; k++)
				*acct_cell(js, js->acct[k].name, js->acct[k].hash) = (uint32_t)(k + 1);
			c = acct_cell(js, account, h);
		}
		if (js->n_acct == js->cap_acct) {
			js->cap_acct = js->cap_acct ? js->cap_acct * 2 : 16;
			js->acct = mm_realloc(js->acct, js->cap_acct * sizeof(*js->acct));
		}
		js->acct[js->n_acct] = (struct jacct){
			.name = arena_dup(&js->strings, account, strlen(account)), .hash = h };
		*c = (uint32_t)++js->n_acct;
	}
	a = &js->acct[*c - 1];
	if (js->n == js->cap_e) {
		js->cap_e = js->cap_e ? js->cap_e * 2 : 1024;
		js->e = mm_realloc(js->e, js->cap_e * sizeof(*js->e));
	}
	js->e[i] = *e;
	js->e[i].next = 0;
	if (a->tail != 0)
		js->e[a->tail - 1].next = (uint32_t)(i + 1);
	else
		a->head = (uint32_t)(i + 1);
	a->tail = (uint32_t)(i + 1);
	js->n++;
	return i;
}

static struct jent *jfind(const struct fsck_jstate *js, const char *account, const char *folder,
			  const char *id, size_t id_len)
{
	char buf[KEY_STACK], *heap;
	size_t len;
	char *key = make_key(buf, &heap, account, folder, id, id_len, &len, NULL);
	uint32_t *c = cell_find(js, key, len, XXH3_64bits(key, len));

	free(heap);
	return *c != 0 ? &js->e[*c - 1] : NULL;
}

/* The entry of account/folder/identity of name, created if asked. */
static struct fsck_jmsg *jget(struct fsck_jstate *js, const char *account, const char *folder,
			      const char *name, bool create)
{
	char buf[KEY_STACK], *heap;
	size_t len, foff;
	char *key = make_key(buf, &heap, account, folder, name, identity_len(name), &len, &foff);
	uint64_t hash = XXH3_64bits(key, len);
	uint32_t *c = cell_find(js, key, len, hash);
	struct jent e;

	if (*c != 0 || !create) {
		free(heap);
		return *c != 0 ? &js->e[*c - 1].m : NULL;
	}
	if ((js->n + 1) * 2 > js->cap) {
		rebuild(js, js->cap * 2);
		c = cell_find(js, key, len, hash);
	}
	e = (struct jent){ .key = arena_dup(&js->strings, key, len),	/* NULs inside */
			   .key_len = (uint32_t)len, .folder_off = (uint32_t)foff,
			   .hash = hash };
	*c = (uint32_t)(jent_append(js, &e, account) + 1);
	free(heap);
	return &js->e[*c - 1].m;
}

static void set_name(struct fsck_jstate *js, struct fsck_jmsg *m, const char *name, uint8_t sub)
{
	/* the old name stays in the arena until the end */
	m->name = arena_dup(&js->strings, name, strlen(name));
	if (sub != MM_SUB_NONE)
		m->sub = sub;
}

/* Moves every message of folder (and of its subfolders, "folder/...")
   to new_folder (their keys change), or drops them. */
static void folder_move(struct fsck_jstate *js, const char *account, const char *folder,
			const char *new_folder, bool drop)
{
	size_t flen = strlen(folder);
	size_t *moved = NULL, nmoved = 0;

	for (size_t i = 0; i < js->n; i++) {
		struct jent *e = &js->e[i];
		const char *f;

		if (e->key == NULL || strcmp(e->key, account) != 0)
			continue;
		f = e->key + e->folder_off;
		if (strncmp(f, folder, flen) != 0 || (f[flen] != '\0' && f[flen] != '/'))
			continue;
		if (drop) {
			e->m.present = false;
			continue;
		}
		moved = mm_realloc(moved, (nmoved + 1) * sizeof(*moved));
		moved[nmoved++] = i;
	}
	for (size_t k = 0; k < nmoved; k++) {
		struct jent *e = &js->e[moved[k]];
		const char *f = e->key + e->folder_off;
		const char *id = f + strlen(f) + 1;
		char *nf = mm_strdup_printf("%s%s", new_folder, f + flen);
		char buf[KEY_STACK], *heap;
		size_t len, foff;
		char *key = make_key(buf, &heap, account, nf, id, strlen(id), &len, &foff);
		struct jent moved_e = *e;

		/* appended anew, so that it wins over what has its key now */
		e->key = NULL;
		moved_e.key = arena_dup(&js->strings, key, len);
		moved_e.key_len = (uint32_t)len;
		moved_e.folder_off = (uint32_t)foff;
		moved_e.hash = XXH3_64bits(key, len);
		jent_append(js, &moved_e, account);
		free(heap);
		free(nf);
	}
	if (nmoved > 0) {
		size_t cap = js->cap;

		while (js->n * 2 > cap)
			cap *= 2;
		rebuild(js, cap);
	}
	free(moved);
}

void fsck_jstate_apply(struct fsck_jstate *js, const struct mm_journal_rec *rec)
{
	struct fsck_jmsg *m, *src;

	switch (rec->op) {
	case MM_OP_DELIVER:
		m = jget(js, rec->account, rec->folder, rec->name, true);
		set_name(js, m, rec->name, rec->sub);
		m->present = true;
		m->has_hash = true;
		memcpy(m->hash, rec->hash, 16);
		m->size = rec->size;
		m->lsn = rec->lsn;
		break;
	case MM_OP_MOVE:
	case MM_OP_FLAGS:
		m = jget(js, rec->account, rec->folder, rec->name, true);
		/* the delivery may be older than the journal: no hash then */
		set_name(js, m, rec->new_name[0] ? rec->new_name : rec->name,
			 rec->new_sub ? rec->new_sub : rec->sub);
		m->present = true;
		m->lsn = rec->lsn;
		break;
	case MM_OP_EXPUNGE:
		m = jget(js, rec->account, rec->folder, rec->name, true);
		if (m->name == NULL)
			set_name(js, m, rec->name, rec->sub);
		m->present = false;
		m->lsn = rec->lsn;
		break;
	case MM_OP_COPY: {
		struct fsck_jmsg from = { 0 };

		src = jget(js, rec->account, rec->folder, rec->name, false);
		if (src != NULL)
			from = *src;
		m = jget(js, rec->account, rec->new_folder, rec->new_name, true);
		set_name(js, m, rec->new_name, rec->new_sub ? rec->new_sub : rec->sub);
		m->present = true;
		m->lsn = rec->lsn;
		m->size = rec->size ? rec->size : from.size;
		static const uint8_t zero[16];

		if (memcmp(rec->hash, zero, 16) != 0) {
			m->has_hash = true;
			memcpy(m->hash, rec->hash, 16);
		} else {
			m->has_hash = from.has_hash;
			memcpy(m->hash, from.hash, 16);
		}
		break;
	}
	case MM_OP_FOLDER_RENAME:
		folder_move(js, rec->account, rec->folder, rec->new_folder, false);
		break;
	case MM_OP_FOLDER_DELETE:
		folder_move(js, rec->account, rec->folder, "", true);
		break;
	default:
		break;
	}
}

const struct fsck_jmsg *fsck_jstate_get(const struct fsck_jstate *js, const char *account,
					const char *folder, const char *identity,
					size_t identity_len)
{
	const struct jent *e = jfind(js, account, folder, identity, identity_len);

	return e != NULL ? &e->m : NULL;
}

const struct fsck_jmsg *fsck_jstate_next(const struct fsck_jstate *js, const char *account,
					 size_t *pos, const char **folder_r)
{
	/* *pos: 0 the start, SIZE_MAX the end, else the next entry + 1 */
	if (*pos == 0) {
		const struct jacct *a = acct_find(js, account);

		*pos = a != NULL && a->head != 0 ? a->head : SIZE_MAX;
	}
	while (*pos != SIZE_MAX) {
		const struct jent *e = &js->e[*pos - 1];

		*pos = e->next != 0 ? e->next : SIZE_MAX;
		if (e->key != NULL && e->m.present) {
			*folder_r = e->key + e->folder_off;
			return &e->m;
		}
	}
	return NULL;
}

/* ---- judging a store ---- */

static char *sub_path(uint8_t sub, const char *name)
{
	return mm_strdup_printf("%s/%s", mm_sub_str(sub), name);
}

/* path: made on first use (most messages have no problem to name) */
#define PATH() (path != NULL ? path : (path = sub_path(e->sub, e->name)))

static void check_message(const struct fsck_store_ctx *ctx, const struct mm_inv *inv,
			  const struct mm_inv_folder *f, const struct mm_inv_entry *e,
			  bool dup, struct fsck_report *r)
{
	struct mm_msgname mn;
	char *path = NULL;	/* "sub/name", made when a problem needs it */
	const struct fsck_jmsg *jm = NULL;
	const char *acct = inv->account;

	r->messages++;
	mm_msgname_parse(e->name, &mn);
	if (e->sub == MM_SUB_NEW && mn.flags != NULL && mn.flags_len > 0)
		fsck_report_add(r, FSCK_NEW_FLAGS, FSCK_FIX_NONE, ctx->store, acct, f->name, PATH(),
				"a message in new/ with flags '%.*s'", (int)mn.flags_len, mn.flags);
	if (mn.has_size && mn.size != e->size)
		fsck_report_add(r, FSCK_SIZE_TAG, FSCK_FIX_NONE, ctx->store, acct, f->name, PATH(),
				"the name says S=%" PRIu64 ", the file has %" PRIu64 " bytes",
				mn.size, e->size);
	if (e->read_errno != 0)
		fsck_report_add(r, FSCK_UNREADABLE, FSCK_FIX_NONE, ctx->store, acct, f->name, PATH(),
				"cannot be read: %s", strerror(e->read_errno));
	if (ctx->js != NULL && ctx->journaled) {
		struct jent *je = jfind(ctx->js, acct, f->name, e->name, mn.base_len);

		if (je != NULL) {
			je->seen = ctx->js->round;	/* not gone: see below */
			jm = &je->m;
		}
	}
	if (ctx->js == NULL || !ctx->journaled) {
		/* a replica: nothing here records its content (compare with peers) */
	} else if (jm != NULL && jm->lsn > ctx->scan_lsn) {
		/* changed while we looked */
	} else if (jm == NULL || !jm->present) {
		if (jm == NULL && e->ctime_ns < ctx->journal_since_ns) {
			r->predating++;
		} else if (!dup) {
			struct fsck_problem *p;

			p = fsck_report_add(r, FSCK_UNJOURNALED,
					    ctx->journal_damaged ? FSCK_FIX_NONE : FSCK_FIX_QUARANTINE,
					    ctx->store, acct, f->name, PATH(), "%s",
					    jm != NULL ? "in the store, but expunged in the journal "
					    "(put back behind the mount; never shipped)" :
					    ctx->journal_damaged ? "in the store with no journal record; "
					    "the journal is damaged, so it may be the lost record's: "
					    "left in place" :
					    "in the store with no journal record (made behind the "
					    "mount; never shipped)");
			(void)p;
		}
	} else if (jm->has_hash && inv->content && e->hashed &&
		   (memcmp(e->hash, jm->hash, 16) != 0 || e->size != jm->size)) {
		char got[33], want[33];
		struct fsck_problem *p;

		mm_hash_hex(e->hash, got);
		mm_hash_hex(jm->hash, want);
		p = fsck_report_add(r, FSCK_CORRUPT, FSCK_FIX_FETCH, ctx->store, acct, f->name, PATH(),
				    "content %s (%" PRIu64 " bytes), recorded %s (%" PRIu64 " bytes)",
				    got, e->size, want, jm->size);
		free(p->want);
		p->want = sub_path(e->sub, e->name);
	} else if (jm->has_hash && !inv->content && e->size != jm->size) {
		/* --quick reads no content, but a size that is not the recorded
		   one is enough (a file cut short behind the mount) */
		struct fsck_problem *p;

		p = fsck_report_add(r, FSCK_CORRUPT, FSCK_FIX_FETCH, ctx->store, acct, f->name, PATH(),
				    "%" PRIu64 " bytes, recorded %" PRIu64 " bytes (content not read)",
				    e->size, jm->size);
		free(p->want);
		p->want = sub_path(e->sub, e->name);
	}
	free(path);
}

#define EPATH() (path != NULL ? path : (path = e->kind == MM_INV_META ? mm_strdup(e->name) : \
			 sub_path(e->sub, e->name)))

void fsck_check_account(const struct fsck_store_ctx *ctx, const struct mm_inv *inv,
			struct fsck_report *r)
{
	const char *acct = inv->account;

	if (ctx->js != NULL)
		ctx->js->round++;	/* the messages met in this one are marked */

	for (size_t i = 0; i < inv->n; i++) {
		const struct mm_inv_folder *f = &inv->f[i];
		unsigned int all = MM_INV_HAS_CUR | MM_INV_HAS_NEW | MM_INV_HAS_TMP;

		if (f->subs != 0 && f->subs != all)
			fsck_report_add(r, FSCK_NO_SUBDIR, FSCK_FIX_MKDIR, ctx->store, acct, f->name,
					"", "the folder lacks%s%s%s",
					f->subs & MM_INV_HAS_CUR ? "" : " cur/",
					f->subs & MM_INV_HAS_NEW ? "" : " new/",
					f->subs & MM_INV_HAS_TMP ? "" : " tmp/");
		size_t prev_id = 0;	/* identity length of the message before */

		for (size_t k = 0; k < f->n; k++) {
			const struct mm_inv_entry *e = &f->e[k];
			char *path = NULL;
			bool dup = false;
			size_t id;

			switch (e->kind) {
			case MM_INV_MESSAGE:
				id = identity_len(e->name);
				if (k > 0 && f->e[k - 1].kind == MM_INV_MESSAGE && id == prev_id &&
				    memcmp(e->name, f->e[k - 1].name, id) == 0) {
					dup = true;
					fsck_report_add(r, FSCK_DUP_IDENTITY, FSCK_FIX_NONE, ctx->store,
							acct, f->name, EPATH(), "the identity of %s/%s "
							"again", mm_sub_str(f->e[k - 1].sub),
							f->e[k - 1].name);
				}
				prev_id = id;
				check_message(ctx, inv, f, e, dup, r);
				break;
			case MM_INV_TMP:
				if (ctx->now_ns - e->mtime_ns > (int64_t)FSCK_TMP_STALE_NS)
					fsck_report_add(r, FSCK_STALE_TMP, FSCK_FIX_QUARANTINE,
							ctx->store, acct, f->name, EPATH(),
							"in tmp/ for %lld hours",
							(long long)((ctx->now_ns - e->mtime_ns) / 3600000000000LL));
				break;
			case MM_INV_OTHER:
				fsck_report_add(r, FSCK_BAD_NAME, FSCK_FIX_QUARANTINE, ctx->store,
						acct, f->name, EPATH(), "%s",
						(e->mode & 0170000) == 0040000 ?
						"a directory in new/ or cur/" :
						(e->mode & 0170000) != 0100000 ?
						"not a regular file" : "not a message file name");
				break;
			case MM_INV_META:
				if (e->read_errno != 0)
					fsck_report_add(r, FSCK_UNREADABLE, FSCK_FIX_NONE, ctx->store,
							acct, f->name, EPATH(), "cannot be read: %s",
							strerror(e->read_errno));
				break;
			}
			free(path);
		}
	}
	if (ctx->js == NULL || !ctx->journaled)
		return;
	/* what the journal has here and the store does not */
	size_t pos = 0;
	const char *folder;
	const struct fsck_jmsg *jm;

	while ((jm = fsck_jstate_next(ctx->js, acct, &pos, &folder)) != NULL) {
		const struct jent *je = (const struct jent *)((const char *)jm -
							      offsetof(struct jent, m));
		const struct mm_inv_folder *f;
		struct fsck_problem *p;
		char *path;

		/* met in the walk (a message of its identity in its folder); if
		   not, one with the identity of its last name (a move that
		   renamed it) */
		if (jm->lsn > ctx->scan_lsn || je->seen == ctx->js->round)
			continue;
		f = mm_inv_folder_find(inv, folder);
		if (f != NULL && mm_inv_entry_find(f, MM_INV_MESSAGE, jm->name) != NULL)
			continue;
		path = sub_path(jm->sub, jm->name);
		p = fsck_report_add(r, FSCK_GONE, FSCK_FIX_FETCH, ctx->store, acct, folder, path,
				    "in the journal (LSN %" PRIu64 "), not in the store: removed "
				    "behind the mount", jm->lsn);
		free(p->want);
		p->want = mm_strdup(path);
		free(path);
	}
}

/* ---- two stores ---- */

static int cmp_entry_key(const struct mm_inv_entry *x, const struct mm_inv_entry *y)
{
	size_t lx, ly, l;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	lx = x->kind == MM_INV_MESSAGE ? identity_len(x->name) : strlen(x->name);
	ly = y->kind == MM_INV_MESSAGE ? identity_len(y->name) : strlen(y->name);
	l = lx < ly ? lx : ly;
	c = memcmp(x->name, y->name, l);
	return c != 0 ? c : (lx > ly) - (lx < ly);
}

static bool compared(const struct mm_inv_entry *e)
{
	return e->kind == MM_INV_MESSAGE || e->kind == MM_INV_META;
}

/* One difference: on which side, and what repair does about it. */
static void differ(const struct fsck_cmp *c, struct fsck_report *r, enum fsck_kind kind,
		   const char *folder, const struct mm_inv_entry *a,
		   const struct mm_inv_entry *b, const char *detail)
{
	/* the side that is wrong is the one that is not the reference;
	   with no reference among the two, the one that lacks the file (or
	   the peer, for a file both have) */
	bool a_wrong = c->b_is_ref || (!c->a_is_ref && a == NULL);
	const struct mm_inv_entry *wrong = a_wrong ? a : b, *right = a_wrong ? b : a;
	const struct mm_inv_entry *any = wrong != NULL ? wrong : right;
	enum fsck_fix fix = FSCK_FIX_NONE;
	struct fsck_problem *p;
	char *path;

	if (kind == FSCK_PEER_MISSING && wrong != NULL)
		kind = FSCK_PEER_EXTRA;
	if (!c->a_is_ref && !c->b_is_ref) {
		/* neither is the active store: reported, not repaired */
	} else if (a_wrong) {
		/* ours, fixed here from the reference */
		fix = kind == FSCK_PEER_EXTRA ? FSCK_FIX_QUARANTINE :
			kind == FSCK_PEER_FLAGS ? FSCK_FIX_RENAME : FSCK_FIX_FETCH;
	} else if (c->a_is_ref) {
		/* the peer's: its resync from us fixes what differs by name or
		   size; same-size content and strays are for fsck on the peer */
		if (kind == FSCK_PEER_MISSING || kind == FSCK_PEER_FLAGS ||
		    kind == FSCK_PEER_META ||
		    (kind == FSCK_PEER_CONTENT && a->size != b->size))
			fix = FSCK_FIX_RESYNC;
	}
	path = any->kind == MM_INV_META ? mm_strdup(any->name) :
		sub_path(any->sub, any->name);
	p = fsck_report_add(r, kind, fix, a_wrong ? c->a_store : c->b_store, c->account,
			    folder, path, "%s", detail);
	if (right != NULL) {
		free(p->want);
		p->want = right->kind == MM_INV_META ? mm_strdup(right->name) :
			sub_path(right->sub, right->name);
	}
	free(path);
}

size_t fsck_compare_folder(const struct fsck_cmp *c, const struct mm_inv_folder *a,
			   const struct mm_inv_folder *b, struct fsck_report *r)
{
	static const struct mm_inv_folder none = { .name = (char *)"" };
	const char *folder = a != NULL ? a->name : b->name;
	const char *ref = c->b_is_ref ? c->b_store : c->a_store;
	size_t i = 0, k = 0, before = r->n;

	if (a == NULL || b == NULL) {
		bool a_wrong = c->b_is_ref ? a != NULL : a == NULL;

		fsck_report_add(r, FSCK_PEER_FOLDER, FSCK_FIX_NONE, a_wrong ? c->a_store : c->b_store,
				c->account, folder, "", "the folder is on %s only",
				a != NULL ? c->a_store : c->b_store);
	}
	if (a == NULL)
		a = &none;
	if (b == NULL)
		b = &none;
	while (i < a->n || k < b->n) {
		const struct mm_inv_entry *x = i < a->n ? &a->e[i] : NULL;
		const struct mm_inv_entry *y = k < b->n ? &b->e[k] : NULL;
		int cmp;
		char detail[256];

		if (x != NULL && !compared(x)) {
			i++;
			continue;
		}
		if (y != NULL && !compared(y)) {
			k++;
			continue;
		}
		cmp = x == NULL ? 1 : y == NULL ? -1 : cmp_entry_key(x, y);
		if (cmp < 0) {
			snprintf(detail, sizeof(detail), "on %s, not on %s", c->a_store, c->b_store);
			differ(c, r, FSCK_PEER_MISSING, folder, x, NULL, detail);
			i++;
			continue;
		}
		if (cmp > 0) {
			snprintf(detail, sizeof(detail), "on %s, not on %s", c->b_store, c->a_store);
			differ(c, r, FSCK_PEER_MISSING, folder, NULL, y, detail);
			k++;
			continue;
		}
		i++;
		k++;
		if (x->kind == MM_INV_META) {
			if (x->size != y->size || x->hashed != y->hashed ||
			    memcmp(x->hash, y->hash, 16) != 0) {
				snprintf(detail, sizeof(detail), "%" PRIu64 " bytes on %s, %" PRIu64
					 " on %s, other content", x->size, c->a_store, y->size,
					 c->b_store);
				differ(c, r, FSCK_PEER_META, folder, x, y, detail);
			}
			continue;
		}
		if (x->size != y->size || (c->content && x->hashed && y->hashed &&
					   memcmp(x->hash, y->hash, 16) != 0)) {
			char hx[33] = "-", hy[33] = "-";

			if (x->hashed)
				mm_hash_hex(x->hash, hx);
			if (y->hashed)
				mm_hash_hex(y->hash, hy);
			snprintf(detail, sizeof(detail), "%" PRIu64 " bytes %s on %s, %" PRIu64
				 " bytes %s on %s%s", x->size, hx, c->a_store, y->size, hy, c->b_store,
				 !c->b_is_ref && !c->a_is_ref ? "" :
				 x->size == y->size && !c->b_is_ref ?
				 " (fsck --repair on that store fixes it)" : "");
			differ(c, r, FSCK_PEER_CONTENT, folder, x, y, detail);
		} else if (x->sub != y->sub || strcmp(x->name, y->name) != 0) {
			snprintf(detail, sizeof(detail), "%s/%s on %s", mm_sub_str(c->b_is_ref ?
				 y->sub : x->sub), c->b_is_ref ? y->name : x->name, ref);
			differ(c, r, FSCK_PEER_FLAGS, folder, x, y, detail);
		}
	}
	return r->n - before;
}

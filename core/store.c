/*
 * store.c - one thin function per server-side script (see store.h): each
 * builds its call's KEYS and ARGV as the script's header comment lays them
 * out, and starts it (store_call.c, the layer below, which hands a late
 * grant back through the call's late hook).  The wire format is
 * store_wire.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "name.h"
#include "script_iface.h"
#include "store_i.h"

/* ---- operations ---------------------------------------------------- */

static bool is_root(const char *path)
{
	return path[0] == '\0';
}

/*
 * The keys of one lock, for the layout at the top of lib.lua: with
 * `globals`, the fixed keys of script_iface.h's LOCK_KEYS_FIXED (token,
 * n:<ns>, n:<path>, wr, wseq); without, a lock-set member's
 * SET_MEMBER_KEYS (n:<ns>, n:<path>).  Then the keys of LOCK_KEYS_NODE
 * for the node itself and each ancestor, root first.  Returns the node of
 * `path` in `*node` and how many ancestors it has in `*nanc` (may be NULL).
 */
static int path_keys(struct call *c, const char *path, bool globals,
		     char **node, size_t *nanc)
{
	static const char *const per_node[LOCK_KEYS_STRIDE] = {
		[LOCK_KEY_L] = "l", [LOCK_KEY_TX] = "tx", [LOCK_KEY_TS] = "ts",
		[LOCK_KEY_Q] = "q", [LOCK_KEY_WX] = "wx", [LOCK_KEY_WS] = "ws",
	};
	struct store *st = c->st;
	size_t lens[NAME_DEPTH_MAX + 1], n;
	char *ns = NULL;
	int err;

	err = name_parent(path, &ns);
	if (err < 0)
		goto out;
	err = name_lock_node(path, node);
	if (err < 0)
		goto out;
	n = name_ancestor_lengths(*node, lens, NAME_DEPTH_MAX + 1);
	err = -ENAMETOOLONG;
	if (n > NAME_DEPTH_MAX + 1)
		goto out;
	if (globals) {
		const struct key fixed[LOCK_KEYS_NFIXED] = {
			[LOCK_KEY_TOKEN] = {"token", ""},
			[LOCK_KEY_NS] = {"n", ns},
			[LOCK_KEY_PATHNS] = {"n", path},
			[LOCK_KEY_WR] = {"wr", ""},
			[LOCK_KEY_WSEQ] = {"wseq", ""},
		};

		err = args_keys(&c->a, st, fixed, LOCK_KEYS_NFIXED);
	} else {
		const struct key member[SET_MEMBER_NKEYS] = {
			[SET_MEMBER_KEY_NS] = {"n", ns},
			[SET_MEMBER_KEY_PATHNS] = {"n", path},
		};

		err = args_keys(&c->a, st, member, SET_MEMBER_NKEYS);
	}
	if (err < 0)
		goto out;
	for (size_t i = 0; i <= n; i++) {
		/* the node itself first, then its ancestors, root first */
		size_t len = i == 0 ? strlen(*node) : lens[i - 1];

		for (size_t k = 0; k < LOCK_KEYS_STRIDE; k++)
			if ((err = args_key(&c->a, st, per_node[k], *node,
					    len)) < 0)
				goto out;
	}
	if (nanc)
		*nanc = n;
out:
	free(ns);
	return err;
}

/* Push `n` keys laid out by a script_iface.h enum as the call's KEYS. */
static int call_keys(struct call *c, const struct key *k, size_t n)
{
	c->nkeys = (int)n;
	return args_keys(&c->a, c->st, k, n);
}

/* The keys of acquire, renew, release and withdraw: one lock's layout. */
static int lock_keys(struct call *c, const char *path, char **node)
{
	int err = path_keys(c, path, true, node, NULL);

	c->nkeys = c->a.n;
	return err;
}

/* An acquire's grant arrived after its caller was told EIO: undo it. */
static void undo_late_grant(struct call *c, const struct store_result *res)
{
	if (c->comp_path == NULL || res->err != 0 || res->extra == NULL ||
	    res->word != WORD_NEW)
		return;
	store_disown(c->st, c->comp_path, c->comp_holder, res->lock.token,
		     "granted after its caller was told EIO");
}

/* acquire.lua for `h`: a take (store_acquire) or, with `probe`, a look */
static int acquire_call(struct store *st, const char *path,
			const struct store_holder *h, bool excl,
			const struct store_wait *wait, bool probe, store_cb *cb,
			void *arg)
{
	char flags[3] = "", ttl[24], uid[16], gid[16], pid[16], sid[16];
	char lease[24], delay[24];
	struct call *c = call_new(st, SCRIPT_ACQUIRE, cb, arg);
	char *node = NULL;
	const char *leaf = name_base(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if (excl)
		strcat(flags, "e");
	if (wait)
		strcat(flags, wait->confirm ? "c" : "w");
	if (probe)
		strcat(flags, "p");
	err = lock_keys(c, path, &node);
	if (err < 0)
		goto out;
	c->comp_path = strdup(path);
	c->comp_holder = strdup(h->id);
	c->late = undo_late_grant;
	if (c->comp_path == NULL || c->comp_holder == NULL) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(ttl, sizeof(ttl), "%lld", (long long)h->ttl_ms);
	snprintf(uid, sizeof(uid), "%u", (unsigned)h->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)h->gid);
	snprintf(pid, sizeof(pid), "%d", (int)h->pid);
	snprintf(sid, sizeof(sid), "%d", (int)h->session);
	snprintf(lease, sizeof(lease), "%lld",
		 (long long)(wait ? wait->lease_ms : 0));
	snprintf(delay, sizeof(delay), "%lld", (long long)h->lock_delay_ms);
	{
		const char *v[ACQUIRE_NARGS] = {
			[ACQUIRE_HOLDER_ID] = h->id,
			[ACQUIRE_MODE] = h->mode == LOCK_MODE_SHARED ? "s" : "x",
			[ACQUIRE_TTL_MS] = ttl,
			[ACQUIRE_FLAGS] = flags,
			[ACQUIRE_LEAF] = leaf,
			[ACQUIRE_NODE] = node,
			[ACQUIRE_NS_IS_ROOT] = strchr(path, '/') ? "0" : "1",
			[ACQUIRE_IS_DIR_LOCK] =
				name_is_dir_lock(leaf) ? "1" : "0",
			[ACQUIRE_HOLDER_NODE] = h->node,
			[ACQUIRE_UID] = uid,
			[ACQUIRE_GID] = gid,
			[ACQUIRE_PID] = pid,
			[ACQUIRE_SESSION] = sid,
			[ACQUIRE_KIND] = holder_kind_name(h->kind),
			[ACQUIRE_KEEPALIVE] = keepalive_name(h->keepalive),
			[ACQUIRE_NOTE] = h->note ? h->note : "",
			[ACQUIRE_LOCK_DELAY_MS] = delay,
			[ACQUIRE_WAITER_ID] = wait ? wait->waiter_id : "",
			[ACQUIRE_WAITER_LEASE_MS] = lease,
			[ACQUIRE_DAEMON_NODE] = wait ? wait->daemon_node : "",
			[ACQUIRE_ABSORB_ID] = h->absorb_id ? h->absorb_id : "",
		};

		err = args_vec(&c->a, v, ACQUIRE_NARGS);
	}
	if (err < 0)
		goto out;
	for (size_t i = 0; i < h->ngroups && err == 0; i++)
		err = args_fmt(&c->a, "%u", (unsigned)h->groups[i]);
out:
	free(node);
	return call_start(c, err);
}

int store_acquire(struct store *st, const char *path,
		  const struct store_holder *h, bool excl,
		  const struct store_wait *wait, store_cb *cb, void *arg)
{
	return acquire_call(st, path, h, excl, wait, false, cb, arg);
}

int store_acquire_probe(struct store *st, const char *path,
			const struct store_holder *h, store_cb *cb, void *arg)
{
	return acquire_call(st, path, h, false, NULL, true, cb, arg);
}

int store_renew(struct store *st, const char *path, const char *holder_id,
		int64_t token, const struct command *cmd, store_cb *cb,
		void *arg)
{
	struct call *c = call_new(st, SCRIPT_RENEW, cb, arg);
	static const struct command none;
	char tok[ARGS_NUM_MAX], ttl[ARGS_NUM_MAX], delay[ARGS_NUM_MAX];
	int64_t ttl_ms, lock_delay_ms;
	int keepalive;
	const char *note;
	char *node = NULL;
	int err;

	cmd = cmd ? cmd : &none;
	ttl_ms = cmd->has_ttl ? cmd->ttl_ms : 0;
	keepalive = cmd->has_keepalive ? (int)cmd->keepalive : -1;
	note = cmd->has_note ? cmd->note : NULL;
	lock_delay_ms = cmd->has_lock_delay ? cmd->lock_delay_ms : -1;

	if (c == NULL)
		return -ENOMEM;
	err = lock_keys(c, path, &node);
	if (err == 0) {
		const char *v[RENEW_NARGS] = {
			[RENEW_HOLDER_ID] = holder_id,
			[RENEW_TOKEN] = args_num(tok, token),
			[RENEW_TTL_MS] =
				ttl_ms > 0 ? args_num(ttl, ttl_ms) : "",
			[RENEW_KEEPALIVE] =
				keepalive >= 0 ? keepalive_name(keepalive) : "",
			[RENEW_SET_NOTE] = note ? "1" : "0",
			[RENEW_NOTE] = note ? note : "",
			[RENEW_LEAF] = name_base(path),
			[RENEW_NODE] = node,
			[RENEW_LOCK_DELAY_MS] =
				lock_delay_ms >= 0
					? args_num(delay, lock_delay_ms)
					: "",
		};

		err = args_vec_bin(&c->a, v, RENEW_NARGS, RENEW_NOTE,
				   note ? cmd->note_len : 0);
	}
	free(node);
	return call_start(c, err);
}

static int release_call(struct store *st, const char *path,
			const char *holder_id, int64_t token, bool force,
			bool unlink, bool undo, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_RELEASE, cb, arg);
	char *node = NULL, tok[24];
	int err;

	if (c == NULL)
		return -ENOMEM;
	c->undo = undo;
	err = lock_keys(c, path, &node);
	if (err < 0)
		goto out;
	snprintf(tok, sizeof(tok), "%lld", (long long)token);
	{
		const char *v[RELEASE_NARGS] = {
			[RELEASE_HOLDER_ID] = holder_id,
			[RELEASE_TOKEN] = tok,
			[RELEASE_FORCE] = force ? "1" : "0",
			[RELEASE_LEAF] = name_base(path),
			[RELEASE_NODE] = node,
			[RELEASE_UNLINK] = unlink ? "1" : "0",
		};

		err = args_vec(&c->a, v, RELEASE_NARGS);
	}
out:
	free(node);
	return call_start(c, err);
}

int store_release(struct store *st, const char *path, const char *holder_id,
		  int64_t token, bool force, store_cb *cb, void *arg)
{
	return release_call(st, path, holder_id, token, force, false, false,
			    cb, arg);
}

int store_unlink(struct store *st, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg)
{
	return release_call(st, path, holder_id, token, force, true, false, cb,
			    arg);
}

static void disowned(void *arg, const struct store_result *res)
{
	(void)arg;
	(void)res;
}

void store_disown(struct store *st, const char *path, const char *holder_id,
		  int64_t token, const char *why)
{
	log_info("%s: %s; releasing its grant %lld", path, why,
		 (long long)token);
	if (release_call(st, path, holder_id, token, false, false, true,
			 disowned, NULL) < 0)
		log_warnx("%s: could not release; it expires with its ttl",
			  path);
}

int store_acquire_set(struct store *st, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h,
		      const struct store_wait *wait, bool withdraw,
		      store_cb *cb, void *arg)
{
	/* the set's globals at the positions lib.lua's K_* give them (so its
	 * waiter helpers work unchanged); the per-lock namespace slots between
	 * them repeat the token key, unused: each member brings its own */
	static const struct key fixed[LOCK_KEYS_NFIXED] = {
		[LOCK_KEY_TOKEN] = {"token", ""}, [LOCK_KEY_NS] = {"token", ""},
		[LOCK_KEY_PATHNS] = {"token", ""}, [LOCK_KEY_WR] = {"wr", ""},
		[LOCK_KEY_WSEQ] = {"wseq", ""},
	};
	struct call *c = call_new(st, SCRIPT_ACQUIRE_SET, cb, arg);
	struct args members = {0};
	char flags[3] = "", ttl[ARGS_NUM_MAX], lease[ARGS_NUM_MAX];
	char uid[ARGS_NUM_MAX], gid[ARGS_NUM_MAX], pid[ARGS_NUM_MAX];
	char sid[ARGS_NUM_MAX], count[ARGS_NUM_MAX];
	int err;

	if (c == NULL)
		return -ENOMEM;
	c->undo = withdraw;
	if (wait)
		strcat(flags, "w");
	if (withdraw)
		strcat(flags, "d");
	err = args_keys(&c->a, st, fixed, LOCK_KEYS_NFIXED);
	for (size_t i = 0; i < n && err == 0; i++) {
		const char *leaf = name_base(paths[i]);
		char *node = NULL, nanc_s[ARGS_NUM_MAX];
		size_t nanc = 0;

		err = path_keys(c, paths[i], false, &node, &nanc);
		if (err == 0) {
			const char *v[SET_MEMBER_NARGS] = {
				[SET_MEMBER_MODE] = modes[i] == LOCK_MODE_SHARED
							    ? "s"
							    : "x",
				[SET_MEMBER_LEAF] = leaf,
				[SET_MEMBER_NODE] = node,
				[SET_MEMBER_NS_IS_ROOT] =
					strchr(paths[i], '/') ? "0" : "1",
				[SET_MEMBER_IS_DIR_LOCK] =
					name_is_dir_lock(leaf) ? "1" : "0",
				[SET_MEMBER_NANCESTORS] =
					args_num(nanc_s, (long long)nanc),
			};

			err = args_vec(&members, v, SET_MEMBER_NARGS);
		}
		free(node);
	}
	if (err < 0)
		goto out;
	c->nkeys = c->a.n;
	{
		const char *v[ACQUIRE_SET_NARGS] = {
			[ACQUIRE_SET_HOLDER_ID] = h->id,
			[ACQUIRE_SET_TTL_MS] = args_num(ttl, h->ttl_ms),
			[ACQUIRE_SET_FLAGS] = flags,
			[ACQUIRE_SET_WAITER_ID] = wait ? wait->waiter_id : "",
			[ACQUIRE_SET_WAITER_LEASE_MS] =
				args_num(lease, wait ? wait->lease_ms : 0),
			[ACQUIRE_SET_DAEMON_NODE] =
				wait ? wait->daemon_node : "",
			[ACQUIRE_SET_HOLDER_NODE] = h->node,
			[ACQUIRE_SET_UID] = args_num(uid, (unsigned)h->uid),
			[ACQUIRE_SET_GID] = args_num(gid, (unsigned)h->gid),
			[ACQUIRE_SET_PID] = args_num(pid, (int)h->pid),
			[ACQUIRE_SET_SESSION] = args_num(sid, (int)h->session),
			[ACQUIRE_SET_KEEPALIVE] = keepalive_name(h->keepalive),
			[ACQUIRE_SET_NMEMBERS] = args_num(count, (long long)n),
		};

		err = args_vec(&c->a, v, ACQUIRE_SET_NARGS);
	}
	for (int i = 0; i < members.n && err == 0; i++)
		err = args_add(&c->a, members.v[i], members.len[i]);
	for (size_t i = 0; i < h->ngroups && err == 0; i++)
		err = args_fmt(&c->a, "%u", (unsigned)h->groups[i]);
out:
	args_clear(&members);
	return call_start(c, err);
}

int store_withdraw(struct store *st, const char *path, const char *waiter_id,
		   store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_WITHDRAW, cb, arg);
	char *node = NULL;
	int err;

	if (c == NULL)
		return -ENOMEM;
	c->undo = true;
	err = lock_keys(c, path, &node);
	if (err == 0) {
		const char *v[WITHDRAW_NARGS] = {
			[WITHDRAW_WAITER_ID] = waiter_id,
			[WITHDRAW_LEAF] = name_base(path),
			[WITHDRAW_NODE] = node,
		};

		err = args_vec(&c->a, v, WITHDRAW_NARGS);
	}
	free(node);
	return call_start(c, err);
}

int store_stat(struct store *st, const char *path, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_STAT, cb, arg);
	char *ns = NULL, *node = NULL;
	const char *leaf = name_base(path);
	int err = 0;

	if (c == NULL)
		return -ENOMEM;
	/* the root: every key of the root namespace's own */
	if (!is_root(path) && ((err = name_parent(path, &ns)) < 0 ||
			       (err = name_lock_node(path, &node)) < 0))
		goto out;
	{
		const char *ns_name = ns ? ns : "", *lock = node ? node : "";
		const struct key k[STAT_NKEYS] = {
			[STAT_KEY_PATHNS] = {"n", path},
			[STAT_KEY_LOCK] = {"l", lock},
			[STAT_KEY_NS] = {"n", ns_name},
			[STAT_KEY_WR] = {"wr", ""},
			[STAT_KEY_Q] = {"q", lock},
			[STAT_KEY_FILES] = {"f", ns_name},
		};
		const char *v[STAT_NARGS] = {
			[STAT_IS_ROOT] = is_root(path) ? "1" : "0",
			[STAT_IS_DIR_LOCK] = name_is_dir_lock(leaf) ? "1" : "0",
			[STAT_NS_IS_ROOT] = ns && is_root(ns) ? "1" : "0",
			[STAT_LEAF] = leaf,
		};

		err = call_keys(c, k, STAT_NKEYS);
		if (err == 0)
			err = args_vec(&c->a, v, STAT_NARGS);
	}
	/* a name that is nothing is told without the script (call_send) */
	c->peek = !is_root(path) && !name_is_dir_lock(leaf);
out:
	free(ns);
	free(node);
	return call_start(c, err);
}

int store_list(struct store *st, const char *ns, bool flock_view,
	       store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_LIST, cb, arg);
	const struct key k[LIST_NKEYS] = {
		[LIST_KEY_NS] = {"n", ns},
		[LIST_KEY_CHILDREN] = {"c", ns},
		[LIST_KEY_TX] = {"tx", ns},
		[LIST_KEY_TS] = {"ts", ns},
		[LIST_KEY_FILES] = {"f", ns},
	};
	char *locks = NULL;
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = call_keys(c, k, LIST_NKEYS);
	locks = key_new(st, "l", ns, strlen(ns));
	if (err == 0 && locks == NULL)
		err = -ENOMEM;
	if (err == 0) {
		const char *v[LIST_NARGS] = {
			[LIST_IS_ROOT] = is_root(ns) ? "1" : "0",
			[LIST_VIEW] = flock_view ? "flock" : "lease",
			[LIST_LOCK_PREFIX] = locks,
		};

		err = args_vec(&c->a, v, LIST_NARGS);
	}
	free(locks);
	return call_start(c, err);
}

int store_mkdir(struct store *st, const char *path, mode_t mode, uid_t uid,
		gid_t gid, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_MKDIR, cb, arg);
	char *parent = NULL, mode_s[ARGS_NUM_MAX], uid_s[ARGS_NUM_MAX];
	char gid_s[ARGS_NUM_MAX];
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = name_parent(path, &parent);
	if (err == 0) {
		const struct key k[MKDIR_NKEYS] = {
			[MKDIR_KEY_PARENT_NS] = {"n", parent},
			[MKDIR_KEY_PARENT_CHILDREN] = {"c", parent},
			[MKDIR_KEY_NS] = {"n", path},
			[MKDIR_KEY_LOCK] = {"l", path},
			[MKDIR_KEY_PARENT_FILES] = {"f", parent},
		};
		const char *v[MKDIR_NARGS] = {
			[MKDIR_LEAF] = name_base(path),
			[MKDIR_MODE] = args_num(mode_s, (unsigned)mode),
			[MKDIR_UID] = args_num(uid_s, (unsigned)uid),
			[MKDIR_GID] = args_num(gid_s, (unsigned)gid),
			[MKDIR_PARENT_IS_ROOT] = is_root(parent) ? "1" : "0",
		};

		err = call_keys(c, k, MKDIR_NKEYS);
		if (err == 0)
			err = args_vec(&c->a, v, MKDIR_NARGS);
	}
	free(parent);
	return call_start(c, err);
}

int store_rmdir(struct store *st, const char *path, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_RMDIR, cb, arg);
	char *parent = NULL;
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = name_parent(path, &parent);
	if (err == 0) {
		const struct key k[RMDIR_NKEYS] = {
			[RMDIR_KEY_NS] = {"n", path},
			[RMDIR_KEY_CHILDREN] = {"c", path},
			[RMDIR_KEY_TX] = {"tx", path},
			[RMDIR_KEY_WR] = {"wr", ""},
			[RMDIR_KEY_TS] = {"ts", path},
			[RMDIR_KEY_LOCK] = {"l", path},
			[RMDIR_KEY_PARENT_NS] = {"n", parent},
			[RMDIR_KEY_PARENT_CHILDREN] = {"c", parent},
			[RMDIR_KEY_Q] = {"q", path},
			[RMDIR_KEY_WX] = {"wx", path},
			[RMDIR_KEY_WS] = {"ws", path},
			[RMDIR_KEY_FILES] = {"f", path},
		};
		const char *v[RMDIR_NARGS] = {
			[RMDIR_LEAF] = name_base(path),
			[RMDIR_PARENT_IS_ROOT] = is_root(parent) ? "1" : "0",
		};

		err = call_keys(c, k, RMDIR_NKEYS);
		if (err == 0)
			err = args_vec(&c->a, v, RMDIR_NARGS);
	}
	free(parent);
	return call_start(c, err);
}

/* `v` in decimal into `buf` when it is set (>= 0), else "": unchanged. */
static const char *num_or_unset(char buf[ARGS_NUM_MAX], long v)
{
	return v >= 0 ? args_num(buf, v) : "";
}

/* setattr.lua: each of mode, uid, gid, limit set when >= 0. */
static int setattr_call(struct store *st, const char *path, long mode,
			long uid, long gid, long limit, long caller_uid,
			store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_SETATTR, cb, arg);
	char mode_s[ARGS_NUM_MAX], uid_s[ARGS_NUM_MAX], gid_s[ARGS_NUM_MAX];
	char limit_s[ARGS_NUM_MAX], caller_s[ARGS_NUM_MAX];
	const struct key k[SETATTR_NKEYS] = {
		[SETATTR_KEY_NS] = {"n", path},
	};
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = call_keys(c, k, SETATTR_NKEYS);
	if (err == 0) {
		const char *v[SETATTR_NARGS] = {
			[SETATTR_IS_ROOT] = is_root(path) ? "1" : "0",
			[SETATTR_MODE] = num_or_unset(mode_s, mode),
			[SETATTR_UID] = num_or_unset(uid_s, uid),
			[SETATTR_GID] = num_or_unset(gid_s, gid),
			[SETATTR_LIMIT] = num_or_unset(limit_s, limit),
			[SETATTR_CALLER_UID] = args_num(caller_s, caller_uid),
		};

		err = args_vec(&c->a, v, SETATTR_NARGS);
	}
	return call_start(c, err);
}

int store_setattr(struct store *st, const char *path, long mode, long uid,
		  long gid, store_cb *cb, void *arg)
{
	return setattr_call(st, path, mode, uid, gid, -1, 0, cb, arg);
}

int store_set_limit(struct store *st, const char *path, long limit,
		    uid_t caller_uid, store_cb *cb, void *arg)
{
	return setattr_call(st, path, -1, -1, -1, limit, (long)caller_uid, cb,
			    arg);
}

int store_file(struct store *st, const char *path,
	       const struct file_change *fc, store_cb *cb, void *arg)
{
	static const char *const op_name[] = {
		[FILE_CREATE] = "create", [FILE_WRITE] = "write",
		[FILE_TRUNCATE] = "truncate", [FILE_ATTR] = "attr",
		[FILE_UNLINK] = "unlink",
	};
	struct call *c = call_new(st, SCRIPT_FILE, cb, arg);
	char *ns = NULL, *node = NULL, flags[4] = "";
	char id[ARGS_NUM_MAX], mode[ARGS_NUM_MAX], uid[ARGS_NUM_MAX];
	char gid[ARGS_NUM_MAX], offset[ARGS_NUM_MAX], mtime[ARGS_NUM_MAX];
	const char *leaf = name_base(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if (fc->excl)
		strcat(flags, "e");
	if (fc->append)
		strcat(flags, "a");
	if (fc->truncate)
		strcat(flags, "t");
	if ((err = name_parent(path, &ns)) < 0 ||
	    (err = name_lock_node(path, &node)) < 0)
		goto out;
	{
		const struct key k[FILE_NKEYS] = {
			[FILE_KEY_NS] = {"n", ns},
			[FILE_KEY_FILES] = {"f", ns},
			[FILE_KEY_LOCK] = {"l", node},
			[FILE_KEY_WR] = {"wr", ""},
			[FILE_KEY_Q] = {"q", node},
			[FILE_KEY_FSEQ] = {"fseq", ""},
			[FILE_KEY_PATHNS] = {"n", path},
		};
		const char *v[FILE_NARGS] = {
			[FILE_ARG_OP] = op_name[fc->op],
			[FILE_ARG_LEAF] = leaf,
			[FILE_ARG_NS_IS_ROOT] = is_root(ns) ? "1" : "0",
			[FILE_ARG_ID] = args_num(id, fc->id),
			[FILE_ARG_FLAGS] = flags,
			[FILE_ARG_MODE] = num_or_unset(mode, fc->mode),
			[FILE_ARG_UID] = num_or_unset(uid, fc->uid),
			[FILE_ARG_GID] = num_or_unset(gid, fc->gid),
			[FILE_ARG_OFFSET] = args_num(offset, fc->offset),
			[FILE_ARG_DATA] = fc->data ? fc->data : "",
			[FILE_ARG_MTIME] =
				fc->has_mtime ? args_num(mtime, fc->mtime_ms)
					      : "",
		};

		err = call_keys(c, k, FILE_NKEYS);
		if (err == 0)
			err = args_vec_bin(&c->a, v, FILE_NARGS, FILE_ARG_DATA,
					   fc->len);
	}
out:
	free(ns);
	free(node);
	return call_start(c, err);
}

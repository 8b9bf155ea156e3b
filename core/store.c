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

/*
 * Push `n` arguments laid out by one of script_iface.h's enums; every slot
 * must be filled, so a field declared there and forgotten here fails the
 * call (and the unit-store suite) instead of shifting the others.
 */
static int args_vec(struct args *a, const char *const *v, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && err == 0; i++)
		err = v[i] ? args_str(a, v[i]) : -EINVAL;
	return err;
}

/* ---- operations ---------------------------------------------------- */

static bool is_root(const char *path)
{
	return path[0] == '\0';
}

/*
 * The keys of one lock, for the layout at the top of lib.lua: with
 * `globals`, the fixed keys of script_iface.h's LOCK_KEYS_FIXED (token,
 * n:<ns>, n:<path>, wr, wseq); without, only the lock's namespace keys
 * n:<ns>, n:<path> (a lock-set member's).  Then the keys of
 * LOCK_KEYS_NODE for the node itself and each ancestor, root first.
 * Returns the node of `path` in `*node` and how many ancestors it has in
 * `*nanc` (may be NULL).
 */
static int path_keys(struct call *c, const char *path, bool globals,
		     char **node, size_t *nanc)
{
	/* script_iface.h's LOCK_KEYS_NODE, in its order */
	static const char *const per_node[] = {"l", "tx", "ts",
					       "q", "wx", "ws"};
	_Static_assert(sizeof(per_node) / sizeof(per_node[0]) ==
			       LOCK_KEYS_STRIDE,
		       "per-node keys as script_iface.h declares them");
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
	for (int k = 0; k < LOCK_KEYS_NFIXED; k++) {
		switch (k) {
		case LOCK_KEY_TOKEN:
			err = globals ? args_key(&c->a, st, "token", "", 0) : 0;
			break;
		case LOCK_KEY_NS:
			err = args_key(&c->a, st, "n", ns, strlen(ns));
			break;
		case LOCK_KEY_PATHNS:
			err = args_key(&c->a, st, "n", path, strlen(path));
			break;
		case LOCK_KEY_WR:
			err = globals ? args_key(&c->a, st, "wr", "", 0) : 0;
			break;
		case LOCK_KEY_WSEQ:
			err = globals ? args_key(&c->a, st, "wseq", "", 0) : 0;
			break;
		}
		if (err < 0)
			goto out;
	}
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
	    strcmp(res->extra, "new") != 0)
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
	int64_t ttl_ms, lock_delay_ms;
	int keepalive;
	const char *note;
	size_t note_len;
	char *node = NULL;
	int err;

	cmd = cmd ? cmd : &none;
	ttl_ms = cmd->has_ttl ? cmd->ttl_ms : 0;
	keepalive = cmd->has_keepalive ? (int)cmd->keepalive : -1;
	note = cmd->has_note ? cmd->note : NULL;
	note_len = cmd->note_len;
	lock_delay_ms = cmd->has_lock_delay ? cmd->lock_delay_ms : -1;

	if (c == NULL)
		return -ENOMEM;
	err = lock_keys(c, path, &node);
	if (err < 0)
		goto out;
	if ((err = args_str(&c->a, holder_id)) < 0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)token)) < 0)
		goto out;
	err = ttl_ms > 0 ? args_fmt(&c->a, "%lld", (long long)ttl_ms)
			 : args_str(&c->a, "");
	if (err < 0)
		goto out;
	err = keepalive >= 0 ? args_str(&c->a, keepalive_name(keepalive))
			     : args_str(&c->a, "");
	if (err < 0)
		goto out;
	if ((err = args_str(&c->a, note ? "1" : "0")) < 0 ||
	    (err = args_add(&c->a, note ? note : "", note ? note_len : 0)) <
		    0 ||
	    (err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_str(&c->a, node)) < 0)
		goto out;
	err = lock_delay_ms >= 0
		      ? args_fmt(&c->a, "%lld", (long long)lock_delay_ms)
		      : args_str(&c->a, "");
out:
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
	struct call *c = call_new(st, SCRIPT_ACQUIRE_SET, cb, arg);
	struct args members = {0};
	char flags[3] = "";
	int err = 0;

	if (c == NULL)
		return -ENOMEM;
	c->undo = withdraw;
	if (wait)
		strcat(flags, "w");
	if (withdraw)
		strcat(flags, "d");
	/*
	 * The set's globals at the positions lib.lua's K_* give them (so its
	 * waiter helpers work unchanged); the per-lock namespace slots between
	 * them repeat the token key, unused: each member brings its own.
	 */
	for (int k = 0; k < LOCK_KEYS_NFIXED && err == 0; k++)
		err = args_key(&c->a, st,
			       k == LOCK_KEY_WR	    ? "wr"
			       : k == LOCK_KEY_WSEQ ? "wseq"
						    : "token",
			       "", 0);
	for (size_t i = 0; i < n && err == 0; i++) {
		char *node = NULL;
		size_t nanc = 0;

		const char *leaf = name_base(paths[i]);

		err = path_keys(c, paths[i], false, &node, &nanc);
		if (err == 0)
			err = args_str(&members, modes[i] == LOCK_MODE_SHARED
							 ? "s"
							 : "x");
		if (err == 0)
			err = args_str(&members, leaf);
		if (err == 0)
			err = args_str(&members, node);
		if (err == 0)
			err = args_str(&members,
				       strchr(paths[i], '/') ? "0" : "1");
		if (err == 0)
			err = args_str(&members,
				       name_is_dir_lock(leaf) ? "1" : "0");
		if (err == 0)
			err = args_fmt(&members, "%zu", nanc);
		free(node);
	}
	if (err < 0)
		goto out;
	c->nkeys = c->a.n;
	if ((err = args_str(&c->a, h->id)) < 0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)h->ttl_ms)) < 0 ||
	    (err = args_str(&c->a, flags)) < 0 ||
	    (err = args_str(&c->a, wait ? wait->waiter_id : "")) < 0 ||
	    (err = args_fmt(&c->a, "%lld",
			    (long long)(wait ? wait->lease_ms : 0))) < 0 ||
	    (err = args_str(&c->a, wait ? wait->daemon_node : "")) < 0 ||
	    (err = args_str(&c->a, h->node)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)h->uid)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)h->gid)) < 0 ||
	    (err = args_fmt(&c->a, "%d", (int)h->pid)) < 0 ||
	    (err = args_fmt(&c->a, "%d", (int)h->session)) < 0 ||
	    (err = args_str(&c->a, keepalive_name(h->keepalive))) < 0 ||
	    (err = args_fmt(&c->a, "%zu", n)) < 0)
		goto out;
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
	if (err == 0)
		err = args_str(&c->a, waiter_id);
	if (err == 0)
		err = args_str(&c->a, name_base(path));
	if (err == 0)
		err = args_str(&c->a, node);
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
	if (is_root(path)) {
		err = args_key(&c->a, st, "n", "", 0);
		if (err < 0 || (err = args_key(&c->a, st, "l", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "n", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "wr", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "q", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "f", "", 0)) < 0)
			goto out;
	} else {
		if ((err = name_parent(path, &ns)) < 0 ||
		    (err = name_lock_node(path, &node)) < 0 ||
		    (err = args_key(&c->a, st, "n", path, strlen(path))) < 0 ||
		    (err = args_key(&c->a, st, "l", node, strlen(node))) < 0 ||
		    (err = args_key(&c->a, st, "n", ns, strlen(ns))) < 0 ||
		    (err = args_key(&c->a, st, "wr", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "q", node, strlen(node))) < 0 ||
		    (err = args_key(&c->a, st, "f", ns, strlen(ns))) < 0)
			goto out;
	}
	c->nkeys = 6;
	/* a name that is nothing is told without the script (call_send; the
	 * positions of these keys and arguments: store_call.c's STAT_*) */
	c->peek = !is_root(path) && !name_is_dir_lock(leaf);
	if ((err = args_str(&c->a, is_root(path) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, name_is_dir_lock(leaf) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, ns && is_root(ns) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, leaf)) < 0)
		goto out;
out:
	free(ns);
	free(node);
	return call_start(c, err);
}

int store_list(struct store *st, const char *ns, bool flock_view,
	       store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_LIST, cb, arg);
	size_t len = strlen(ns);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = args_key(&c->a, st, "n", ns, len)) < 0 ||
	    (err = args_key(&c->a, st, "c", ns, len)) < 0 ||
	    (err = args_key(&c->a, st, "tx", ns, len)) < 0 ||
	    (err = args_key(&c->a, st, "ts", ns, len)) < 0 ||
	    (err = args_key(&c->a, st, "f", ns, len)) < 0)
		goto out;
	c->nkeys = 5;
	if ((err = args_str(&c->a, is_root(ns) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, flock_view ? "flock" : "lease")) < 0 ||
	    (err = args_key(&c->a, st, "l", ns, len)) < 0)
		goto out;
out:
	return call_start(c, err);
}

int store_mkdir(struct store *st, const char *path, mode_t mode, uid_t uid,
		gid_t gid, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_MKDIR, cb, arg);
	char *parent = NULL;
	size_t len = strlen(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = name_parent(path, &parent)) < 0 ||
	    (err = args_key(&c->a, st, "n", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "c", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "n", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "l", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "f", parent, strlen(parent))) < 0)
		goto out;
	c->nkeys = 5;
	if ((err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)mode)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)uid)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)gid)) < 0 ||
	    (err = args_str(&c->a, is_root(parent) ? "1" : "0")) < 0)
		goto out;
out:
	free(parent);
	return call_start(c, err);
}

int store_rmdir(struct store *st, const char *path, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_RMDIR, cb, arg);
	char *parent = NULL;
	size_t len = strlen(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = name_parent(path, &parent)) < 0 ||
	    (err = args_key(&c->a, st, "n", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "c", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "tx", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "wr", "", 0)) < 0 ||
	    (err = args_key(&c->a, st, "ts", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "l", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "n", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "c", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "q", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "wx", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "ws", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "f", path, len)) < 0)
		goto out;
	c->nkeys = 12;
	if ((err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_str(&c->a, is_root(parent) ? "1" : "0")) < 0)
		goto out;
out:
	free(parent);
	return call_start(c, err);
}

/* setattr.lua: each of mode, uid, gid, limit set when >= 0. */
static int setattr_call(struct store *st, const char *path, long mode,
			long uid, long gid, long limit, long caller_uid,
			store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_SETATTR, cb, arg);
	const long v[] = {mode, uid, gid, limit};
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = args_key(&c->a, st, "n", path, strlen(path))) < 0)
		goto out;
	c->nkeys = 1;
	if ((err = args_str(&c->a, is_root(path) ? "1" : "0")) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]) && err == 0; i++)
		err = v[i] >= 0 ? args_fmt(&c->a, "%ld", v[i])
				: args_str(&c->a, "");
	if (err == 0)
		err = args_fmt(&c->a, "%ld", caller_uid);
out:
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
	    (err = name_lock_node(path, &node)) < 0 ||
	    (err = args_key(&c->a, st, "n", ns, strlen(ns))) < 0 ||
	    (err = args_key(&c->a, st, "f", ns, strlen(ns))) < 0 ||
	    (err = args_key(&c->a, st, "l", node, strlen(node))) < 0 ||
	    (err = args_key(&c->a, st, "wr", "", 0)) < 0 ||
	    (err = args_key(&c->a, st, "q", node, strlen(node))) < 0 ||
	    (err = args_key(&c->a, st, "fseq", "", 0)) < 0 ||
	    (err = args_key(&c->a, st, "n", path, strlen(path))) < 0)
		goto out;
	c->nkeys = c->a.n;
	if ((err = args_str(&c->a, op_name[fc->op])) < 0 ||
	    (err = args_str(&c->a, leaf)) < 0 ||
	    (err = args_str(&c->a, is_root(ns) ? "1" : "0")) < 0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)fc->id)) < 0 ||
	    (err = args_str(&c->a, flags)) < 0)
		goto out;
	{
		const long v[] = {fc->mode, fc->uid, fc->gid};

		for (size_t i = 0; i < 3 && err == 0; i++)
			err = v[i] >= 0 ? args_fmt(&c->a, "%ld", v[i])
					: args_str(&c->a, "");
	}
	if (err == 0)
		err = args_fmt(&c->a, "%lld", (long long)fc->offset);
	if (err == 0)
		err = args_add(&c->a, fc->data ? fc->data : "", fc->len);
	if (err == 0)
		err = fc->has_mtime ? args_fmt(&c->a, "%lld",
					       (long long)fc->mtime_ms)
				    : args_str(&c->a, "");
out:
	free(ns);
	free(node);
	return call_start(c, err);
}

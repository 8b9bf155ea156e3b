/*
 * script_iface.h - the one declaration of what the C side and the
 * server-side scripts exchange: the KEYS and ARGV of every script, the
 * fields of a holder in a lock reply, and the words a reply is made of
 * (its status, its extra word, its kind, the blockers it names).
 *
 * Both sides are built from these lists.  The store fills its argument
 * vectors and parses replies by the enums below; embed-lua writes the same
 * lists into the library as Lua constants (K_*, A_<SCRIPT>.*, STATUS.*,
 * WORD.*, ...), so adding a field is one edit here.  A script that names
 * an undeclared one reads nil: the unit-store suite runs every script.
 *
 * X-macros: each list calls X(NAME) once per entry, in order; the reply
 * lists call X(NAME, text) with the text the scripts send.
 */
#ifndef LOCKFS_SCRIPT_IFACE_H
#define LOCKFS_SCRIPT_IFACE_H

/* ---- the lock layout: KEYS of acquire, renew, release, withdraw ----- */

/* The lock layout's first keys (K_TOKEN ...), then per node, the lock's
 * own and each ancestor's, root first (K_L ... at K_ANCESTORS + i * stride).
 */
#define LOCK_KEYS_FIXED(X) X(TOKEN) X(NS) X(PATHNS) X(WR) X(WSEQ)
#define LOCK_KEYS_NODE(X) X(L) X(TX) X(TS) X(Q) X(WX) X(WS)

/* ---- ARGV (and KEYS) per script ------------------------------------- */

/* acquire.lua's ARGV; the caller's supplementary groups follow, one each */
#define ACQUIRE_ARGS(X)                                                       \
	X(HOLDER_ID) X(MODE) X(TTL_MS) X(FLAGS) X(LEAF) X(NODE) X(NS_IS_ROOT)  \
	X(IS_DIR_LOCK) X(HOLDER_NODE) X(UID) X(GID) X(PID) X(SESSION) X(KIND)  \
	X(KEEPALIVE) X(NOTE) X(LOCK_DELAY_MS) X(WAITER_ID) X(WAITER_LEASE_MS) \
	X(DAEMON_NODE) X(ABSORB_ID)

/*
 * acquire_set.lua: KEYS are the lock layout's fixed keys (its NS and
 * PATHNS slots repeat the token key, unused), then per member its
 * SET_MEMBER_KEYS and the LOCK_KEYS_NODE of its node and each ancestor.
 * ARGV are ACQUIRE_SET_ARGS, then SET_MEMBER_ARGS per member, then the
 * caller's supplementary groups, one each.
 */
#define ACQUIRE_SET_ARGS(X)                                                   \
	X(HOLDER_ID) X(TTL_MS) X(FLAGS) X(WAITER_ID) X(WAITER_LEASE_MS)       \
	X(DAEMON_NODE) X(HOLDER_NODE) X(UID) X(GID) X(PID) X(SESSION)         \
	X(KEEPALIVE) X(NMEMBERS)
#define SET_MEMBER_KEYS(X) X(NS) X(PATHNS)
#define SET_MEMBER_ARGS(X)                                                    \
	X(MODE) X(LEAF) X(NODE) X(NS_IS_ROOT) X(IS_DIR_LOCK) X(NANCESTORS)

/* renew.lua's ARGV (KEYS: the lock layout) */
#define RENEW_ARGS(X)                                                         \
	X(HOLDER_ID) X(TOKEN) X(TTL_MS) X(KEEPALIVE) X(SET_NOTE) X(NOTE)      \
	X(LEAF) X(NODE) X(LOCK_DELAY_MS)

/* release.lua's ARGV (KEYS: the lock layout) */
#define RELEASE_ARGS(X) X(HOLDER_ID) X(TOKEN) X(FORCE) X(LEAF) X(NODE) X(UNLINK)

/* withdraw.lua's ARGV (KEYS: the lock layout) */
#define WITHDRAW_ARGS(X) X(WAITER_ID) X(LEAF) X(NODE)

/* stat.lua; WR sits where the lock layout has it (for lib_wait.lua's
 * live_waiter) */
#define STAT_KEYS(X) X(PATHNS) X(LOCK) X(NS) X(WR) X(Q) X(FILES)
#define STAT_ARGS(X) X(IS_ROOT) X(IS_DIR_LOCK) X(NS_IS_ROOT) X(LEAF)

/* list.lua */
#define LIST_KEYS(X) X(NS) X(CHILDREN) X(TX) X(TS) X(FILES)
#define LIST_ARGS(X) X(IS_ROOT) X(VIEW) X(LOCK_PREFIX)

/* mkdir.lua */
#define MKDIR_KEYS(X)                                                         \
	X(PARENT_NS) X(PARENT_CHILDREN) X(NS) X(LOCK) X(PARENT_FILES)
#define MKDIR_ARGS(X) X(LEAF) X(MODE) X(UID) X(GID) X(PARENT_IS_ROOT)

/* rmdir.lua; WR sits where the lock layout has it */
#define RMDIR_KEYS(X)                                                         \
	X(NS) X(CHILDREN) X(TX) X(WR) X(TS) X(LOCK) X(PARENT_NS)              \
	X(PARENT_CHILDREN) X(Q) X(WX) X(WS) X(FILES)
#define RMDIR_ARGS(X) X(LEAF) X(PARENT_IS_ROOT)

/* setattr.lua */
#define SETATTR_KEYS(X) X(NS)
#define SETATTR_ARGS(X)                                                       \
	X(IS_ROOT) X(MODE) X(UID) X(GID) X(LIMIT) X(CALLER_UID)

/* file.lua; WR sits where the lock layout has it */
#define FILE_KEYS(X) X(NS) X(FILES) X(LOCK) X(WR) X(Q) X(FSEQ) X(PATHNS)
#define FILE_ARGS(X)                                                          \
	X(OP) X(LEAF) X(NS_IS_ROOT) X(ID) X(FLAGS) X(MODE) X(UID) X(GID)      \
	X(OFFSET) X(DATA) X(MTIME)

/* One holder in a lock reply (lib.lua's lock_reply): the record's keys. */
#define HOLDER_FIELDS(X)                                                      \
	X(id) X(node) X(uid) X(gid) X(pid) X(sid) X(kind) X(mode) X(tok)      \
	X(acq) X(ren) X(exp) X(ttl) X(ka) X(note)

/* ---- the words of a reply {status, now_ms, extra, kind, ...} -------- */

/* Its status: "OK" (Lua STATUS.OK), or one of these errno names. */
#define REPLY_ERRORS(X)                                                       \
	X(EEXIST) X(EAGAIN) X(ENOENT) X(EISDIR) X(ESTALE) X(EPERM)            \
	X(ENOTEMPTY) X(EINVAL) X(EACCES) X(EDEADLK) X(EFBIG)

/* Its extra, when not a blocker (Lua WORD.*); RELEASED and BROKEN are
 * also the names of the events they end a hold with.  WAKE marks a
 * notice among a reply's grants. */
#define REPLY_WORDS(X)                                                        \
	X(NONE, ) X(NEW, new) X(RENEWED, renewed) X(HELD, held)               \
	X(FREE, free) X(LOST, lost) X(RELEASED, released)                     \
	X(BROKEN, broken) X(UNLINKED, unlinked) X(REMOVED, removed)           \
	X(ABSENT, absent) X(CREATED, created) X(GONE, gone) X(WAKE, wake)

/* Its kind: what the payload after it is (Lua KIND.*). */
#define REPLY_KINDS(X)                                                        \
	X(NONE, -) X(LOCK, L) X(NAMESPACE, N) X(LISTING, D) X(TOKENS, T)

/* What holds a request back, as an extra "<kind>|<until ms>|<what>"
 * (Lua BLOCKER.*): a holder of lock node <what>, the queued request
 * <what> ahead of it, or the limit of namespace <what>. */
#define BLOCKER_KINDS(X) X(HOLDER, h) X(WAITER, w) X(SEMAPHORE, s)

/* ---- the C side's enums --------------------------------------------- */

#define SCRIPT_IFACE_ENUM(prefix, name) prefix##name,
#define ACQUIRE_ENUM(name) SCRIPT_IFACE_ENUM(ACQUIRE_, name)
#define ACQUIRE_SET_ENUM(name) SCRIPT_IFACE_ENUM(ACQUIRE_SET_, name)
#define SET_MEMBER_KEY_ENUM(name) SCRIPT_IFACE_ENUM(SET_MEMBER_KEY_, name)
#define SET_MEMBER_ENUM(name) SCRIPT_IFACE_ENUM(SET_MEMBER_, name)
#define RENEW_ENUM(name) SCRIPT_IFACE_ENUM(RENEW_, name)
#define RELEASE_ENUM(name) SCRIPT_IFACE_ENUM(RELEASE_, name)
#define WITHDRAW_ENUM(name) SCRIPT_IFACE_ENUM(WITHDRAW_, name)
#define STAT_KEY_ENUM(name) SCRIPT_IFACE_ENUM(STAT_KEY_, name)
#define STAT_ENUM(name) SCRIPT_IFACE_ENUM(STAT_, name)
#define LIST_KEY_ENUM(name) SCRIPT_IFACE_ENUM(LIST_KEY_, name)
#define LIST_ENUM(name) SCRIPT_IFACE_ENUM(LIST_, name)
#define MKDIR_KEY_ENUM(name) SCRIPT_IFACE_ENUM(MKDIR_KEY_, name)
#define MKDIR_ENUM(name) SCRIPT_IFACE_ENUM(MKDIR_, name)
#define RMDIR_KEY_ENUM(name) SCRIPT_IFACE_ENUM(RMDIR_KEY_, name)
#define RMDIR_ENUM(name) SCRIPT_IFACE_ENUM(RMDIR_, name)
#define SETATTR_KEY_ENUM(name) SCRIPT_IFACE_ENUM(SETATTR_KEY_, name)
#define SETATTR_ENUM(name) SCRIPT_IFACE_ENUM(SETATTR_, name)
#define FILE_KEY_ENUM(name) SCRIPT_IFACE_ENUM(FILE_KEY_, name)
#define FILE_ENUM(name) SCRIPT_IFACE_ENUM(FILE_ARG_, name)
#define HOLDER_ENUM(name) SCRIPT_IFACE_ENUM(HOLDER_F_, name)
#define LOCK_KEY_ENUM(name) SCRIPT_IFACE_ENUM(LOCK_KEY_, name)
#define WORD_ENUM(name, text) SCRIPT_IFACE_ENUM(WORD_, name)
#define REPLY_KIND_ENUM(name, text) SCRIPT_IFACE_ENUM(REPLY_KIND_, name)
#define BLOCKER_ENUM(name, text) SCRIPT_IFACE_ENUM(BLOCKER_, name)

enum acquire_arg { ACQUIRE_ARGS(ACQUIRE_ENUM) ACQUIRE_NARGS };
enum acquire_set_arg { ACQUIRE_SET_ARGS(ACQUIRE_SET_ENUM) ACQUIRE_SET_NARGS };
enum set_member_key { SET_MEMBER_KEYS(SET_MEMBER_KEY_ENUM) SET_MEMBER_NKEYS };
enum set_member_arg { SET_MEMBER_ARGS(SET_MEMBER_ENUM) SET_MEMBER_NARGS };
enum renew_arg { RENEW_ARGS(RENEW_ENUM) RENEW_NARGS };
enum release_arg { RELEASE_ARGS(RELEASE_ENUM) RELEASE_NARGS };
enum withdraw_arg { WITHDRAW_ARGS(WITHDRAW_ENUM) WITHDRAW_NARGS };
enum stat_key { STAT_KEYS(STAT_KEY_ENUM) STAT_NKEYS };
enum stat_arg { STAT_ARGS(STAT_ENUM) STAT_NARGS };
enum list_key { LIST_KEYS(LIST_KEY_ENUM) LIST_NKEYS };
enum list_arg { LIST_ARGS(LIST_ENUM) LIST_NARGS };
enum mkdir_key { MKDIR_KEYS(MKDIR_KEY_ENUM) MKDIR_NKEYS };
enum mkdir_arg { MKDIR_ARGS(MKDIR_ENUM) MKDIR_NARGS };
enum rmdir_key { RMDIR_KEYS(RMDIR_KEY_ENUM) RMDIR_NKEYS };
enum rmdir_arg { RMDIR_ARGS(RMDIR_ENUM) RMDIR_NARGS };
enum setattr_key { SETATTR_KEYS(SETATTR_KEY_ENUM) SETATTR_NKEYS };
enum setattr_arg { SETATTR_ARGS(SETATTR_ENUM) SETATTR_NARGS };
enum file_key { FILE_KEYS(FILE_KEY_ENUM) FILE_NKEYS };
enum file_arg { FILE_ARGS(FILE_ENUM) FILE_NARGS };
enum holder_field { HOLDER_FIELDS(HOLDER_ENUM) HOLDER_NFIELDS };
enum lock_key_fixed { LOCK_KEYS_FIXED(LOCK_KEY_ENUM) LOCK_KEYS_NFIXED };
enum lock_key_node { LOCK_KEYS_NODE(LOCK_KEY_ENUM) LOCK_KEYS_STRIDE };
/* a zeroed result is WORD_NONE, REPLY_KIND_NONE and BLOCKER_NONE */
enum reply_word { REPLY_WORDS(WORD_ENUM) REPLY_NWORDS };
enum reply_kind { REPLY_KINDS(REPLY_KIND_ENUM) REPLY_NKINDS };
enum blocker_kind { BLOCKER_NONE, BLOCKER_KINDS(BLOCKER_ENUM) BLOCKER_NKINDS };

/* The scripts that read waiters find wr where the lock layout has it. */
_Static_assert((int)STAT_KEY_WR == (int)LOCK_KEY_WR, "stat.lua's wr key");
_Static_assert((int)RMDIR_KEY_WR == (int)LOCK_KEY_WR, "rmdir.lua's wr key");
_Static_assert((int)FILE_KEY_WR == (int)LOCK_KEY_WR, "file.lua's wr key");

#endif

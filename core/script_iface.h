/*
 * script_iface.h - the one declaration of what the C side and the
 * server-side scripts exchange: the KEYS layout of a lock, the ARGV of the
 * scripts with many arguments, and the fields of a holder in a lock reply.
 *
 * Both sides are built from these lists.  The store fills its argument
 * vectors and parses replies by the enums below; embed-lua writes the same
 * lists into every script as Lua constants (K_*, A_ACQUIRE.*,
 * A_RELEASE.*, HOLDER_FIELDS), so adding a field is one edit here, and a
 * script that names an undeclared one fails the unit-store suite.
 *
 * X-macros: each list calls X(NAME) once per entry, in order.
 */
#ifndef LOCKFS_SCRIPT_IFACE_H
#define LOCKFS_SCRIPT_IFACE_H

/* The lock layout's first keys (K_TOKEN ...), then per node, the lock's
 * own and each ancestor's, root first (K_L ... at K_ANCESTORS + i * stride).
 */
#define LOCK_KEYS_FIXED(X) X(TOKEN) X(NS) X(PATHNS) X(WR) X(WSEQ)
#define LOCK_KEYS_NODE(X) X(L) X(TX) X(TS) X(Q) X(WX) X(WS)

/* acquire.lua's ARGV; the caller's supplementary groups follow, one each */
#define ACQUIRE_ARGS(X)                                                       \
	X(HOLDER_ID) X(MODE) X(TTL_MS) X(FLAGS) X(LEAF) X(NODE) X(NS_IS_ROOT)  \
	X(IS_DIR_LOCK) X(HOLDER_NODE) X(UID) X(GID) X(PID) X(SESSION) X(KIND)  \
	X(KEEPALIVE) X(NOTE) X(LOCK_DELAY_MS) X(WAITER_ID) X(WAITER_LEASE_MS) \
	X(DAEMON_NODE) X(ABSORB_ID)

/* release.lua's ARGV */
#define RELEASE_ARGS(X) X(HOLDER_ID) X(TOKEN) X(FORCE) X(LEAF) X(NODE) X(UNLINK)

/* One holder in a lock reply (lib.lua's lock_reply): the record's keys. */
#define HOLDER_FIELDS(X)                                                      \
	X(id) X(node) X(uid) X(gid) X(pid) X(sid) X(kind) X(mode) X(tok)      \
	X(acq) X(ren) X(exp) X(ttl) X(ka) X(note)

#define SCRIPT_IFACE_ENUM(prefix, name) prefix##name,
#define ACQUIRE_ENUM(name) SCRIPT_IFACE_ENUM(ACQUIRE_, name)
#define RELEASE_ENUM(name) SCRIPT_IFACE_ENUM(RELEASE_, name)
#define HOLDER_ENUM(name) SCRIPT_IFACE_ENUM(HOLDER_F_, name)
#define LOCK_KEY_ENUM(name) SCRIPT_IFACE_ENUM(LOCK_KEY_, name)

enum acquire_arg { ACQUIRE_ARGS(ACQUIRE_ENUM) ACQUIRE_NARGS };
enum release_arg { RELEASE_ARGS(RELEASE_ENUM) RELEASE_NARGS };
enum holder_field { HOLDER_FIELDS(HOLDER_ENUM) HOLDER_NFIELDS };
enum lock_key_fixed { LOCK_KEYS_FIXED(LOCK_KEY_ENUM) LOCK_KEYS_NFIXED };
enum lock_key_node { LOCK_KEYS_NODE(LOCK_KEY_ENUM) LOCK_KEYS_STRIDE };

#endif

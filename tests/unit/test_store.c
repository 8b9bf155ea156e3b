/*
 * test_store.c - the Redis store against a real, private redis-server
 * (store_fixture.h): what the README promises of locks: conflicts along
 * the hierarchy in both directions, shared mode, tokens that only grow,
 * expiry by the server's clock, renewal and release, lock files,
 * namespaces, and the scripts' library.  test_store_wait.c has waiting.
 */
#include "store_fixture.h"

static void test_acquire_table(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t tok;

	s = acquire(f, "job", "A");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "new");
	assert_int_equal(s.word, WORD_NEW);
	assert_true(s.token > 0);
	tok = s.token;
	s = acquire(f, "job", "A"); /* held by the caller: a renewal */
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "renewed");
	assert_int_equal(s.word, WORD_RENEWED);
	assert_int_equal(s.token, tok);
	s = acquire_as(f, "job", "A", LOCK_MODE_EXCLUSIVE, 10000, true);
	assert_int_equal(s.err, -EEXIST);
	s = acquire(f, "job", "B");
	assert_int_equal(s.err, -EAGAIN);
	s = acquire_as(f, "job", "B", LOCK_MODE_EXCLUSIVE, 10000, true);
	assert_int_equal(s.err, -EEXIST);
	s = stat_of(f, "job");
	assert_int_equal(s.kind, STORE_LOCK);
	assert_string_equal(s.holder0, "A");
	s = stat_of(f, "other");
	assert_int_equal(s.err, 0);
	assert_int_equal(s.kind, STORE_NONE);
}

/*
 * A probe says whether an acquire would wait, and changes nothing: no
 * hold, no queue entry.
 */
static void test_acquire_probe(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(mkdir_ns(f, "a", 0755).err, 0);
	s = probe(f, "a/x", "A");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "free");
	assert_int_equal(s.word, WORD_FREE);
	s = acquire(f, "a/.lock", "B");
	assert_int_equal(s.err, 0);
	t0 = s.token;
	/* blocked by an ancestor, the name itself free */
	assert_int_equal(probe(f, "a/x", "A").err, -EAGAIN);
	assert_int_equal(probe(f, "a/.lock", "A").err, -EAGAIN);
	assert_int_equal(probe(f, "a/.lock", "B").err, 0);
	assert_int_equal(release(f, "a/.lock", "B", 0, false).err, 0);
	/* nothing was queued or held by the probes: C gets it at once */
	s = acquire(f, "a/x", "C");
	assert_int_equal(s.err, 0);
	assert_true(s.token > t0);
	assert_string_equal(probe(f, "a/x", "C").extra, "held");
	assert_int_equal(probe(f, "a/x", "A").err, -EAGAIN);
	assert_int_equal(release(f, "a/x", "C", 0, false).err, 0);
	s = probe(f, "a/x", "A");
	assert_int_equal(s.err, 0);
	assert_int_equal(s.nholders, 0);
}

static void test_hierarchy_both_ways(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "a", 0755).err, 0);
	assert_int_equal(mkdir_ns(f, "a/b", 0755).err, 0);
	assert_int_equal(acquire(f, "a/b/c", "A").err, 0);
	/* a descendant held blocks its ancestors' directory locks */
	assert_int_equal(acquire(f, "a/b/.lock", "B").err, -EAGAIN);
	assert_int_equal(acquire(f, "a/.lock", "B").err, -EAGAIN);
	assert_int_equal(acquire(f, ".lock", "B").err, -EAGAIN);
	/* a sibling is unrelated */
	assert_int_equal(acquire(f, "a/b/d", "B").err, 0);
	assert_int_equal(release(f, "a/b/c", "A", 0, false).err, 0);
	assert_int_equal(release(f, "a/b/d", "B", 0, false).err, 0);
	/* now the ancestor's lock is free, and blocks what is below */
	s = acquire(f, "a/.lock", "B");
	assert_int_equal(s.err, 0);
	assert_int_equal(acquire(f, "a/b/c", "A").err, -EAGAIN);
	assert_int_equal(acquire(f, "a/b/.lock", "A").err, -EAGAIN);
	assert_int_equal(acquire(f, ".lock", "A").err, -EAGAIN);
	assert_int_equal(release(f, "a/.lock", "B", 0, false).err, 0);
	assert_int_equal(acquire(f, ".lock", "A").err, 0);
	assert_int_equal(acquire(f, "a/b/c", "B").err, -EAGAIN);
	assert_int_equal(release(f, ".lock", "A", 0, false).err, 0);
}

/*
 * The summaries of what is held below a namespace follow every change,
 * deep down and both ways: the blocker a waiter is told is the lock
 * itself, however deep; a release lowers them to what is left.
 */
static void test_summaries_deep(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "a", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "a/b", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "a/b/c", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "a/e", 0777).err, 0);
	assert_int_equal(acquire_as(f, "a/b/c/d", "A", LOCK_MODE_EXCLUSIVE,
				    20000, false).err, 0);
	assert_int_equal(acquire_as(f, "a/e/.lock", "B", LOCK_MODE_EXCLUSIVE,
				    90000, false).err, 0);
	s = acquire_wait(f, ".lock", "W", LOCK_MODE_EXCLUSIVE, "wW", false);
	assert_int_equal(s.err, -EAGAIN);
	/* the nearest expiry first: A's lock, named to the waiter */
	assert_true(strstr(s.extra, "|a/b/c/d") != NULL);
	assert_int_equal(s.blocker, BLOCKER_HOLDER);
	assert_string_equal(s.blocker_what, "a/b/c/d");
	assert_true(s.blocker_until > s.now);
	assert_int_equal(s.word, WORD_NONE);
	assert_int_equal(withdraw(f, ".lock", "wW").err, 0);
	/* a shared request below a shared summary is not blocked */
	assert_int_equal(acquire_as(f, "a/b/c/s", "S", LOCK_MODE_SHARED, 5000,
				    false).err, 0);
	assert_int_equal(acquire_as(f, "a/b/.lock", "T", LOCK_MODE_SHARED,
				    5000, false).err, -EAGAIN); /* A is x */
	assert_int_equal(release(f, "a/b/c/d", "A", 0, false).err, 0);
	assert_int_equal(acquire_as(f, "a/b/.lock", "T", LOCK_MODE_SHARED,
				    5000, false).err, 0);
	assert_int_equal(release(f, "a/b/.lock", "T", 0, false).err, 0);
	/* the later expiry went: the root still sees the other one */
	assert_int_equal(release(f, "a/e/.lock", "B", 0, false).err, 0);
	s = acquire_wait(f, "a/.lock", "W2", LOCK_MODE_EXCLUSIVE, "wW2",
			 false);
	assert_true(strstr(s.extra, "|a/b/c/s") != NULL);
	assert_string_equal(s.blocker_what, "a/b/c/s");
	assert_int_equal(withdraw(f, "a/.lock", "wW2").err, 0);
	assert_int_equal(release(f, "a/b/c/s", "S", 0, false).err, 0);
	/* nothing left below: the root is free, and a listing is empty */
	assert_int_equal(acquire(f, ".lock", "R").err, 0);
	assert_int_equal(list_ns(f, "a/b/c").nentries, 0);
	/* an expired hold counts as nothing, without anyone releasing it */
	assert_int_equal(release(f, ".lock", "R", 0, false).err, 0);
	assert_int_equal(acquire_as(f, "a/b/c/t", "E", LOCK_MODE_EXCLUSIVE,
				    200, false).err, 0);
	assert_int_equal(acquire(f, "a/.lock", "P").err, -EAGAIN);
	sleep_ms(300);
	assert_int_equal(acquire(f, "a/.lock", "P").err, 0);
	assert_int_equal(rmdir_ns(f, "a/b/c").err, 0);
}

static void test_shared_mode(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir_ns(f, "db", 0755).err, 0);
	assert_int_equal(
		acquire_as(f, "db/.lock", "A", LOCK_MODE_SHARED, 10000, false)
			.err,
		0);
	assert_int_equal(
		acquire_as(f, "db/.lock", "B", LOCK_MODE_SHARED, 10000, false)
			.err,
		0);
	assert_int_equal(
		acquire_as(f, "db/t1", "C", LOCK_MODE_SHARED, 10000, false).err,
		0);
	assert_int_equal(stat_of(f, "db/.lock").nholders, 2);
	/* exclusive conflicts with shared, on the node and below it */
	assert_int_equal(acquire(f, "db/.lock", "D").err, -EAGAIN);
	assert_int_equal(acquire(f, "db/t2", "D").err, -EAGAIN);
	assert_int_equal(acquire(f, ".lock", "D").err, -EAGAIN);
	/* a shared root lock coexists with shared ones below */
	assert_int_equal(
		acquire_as(f, ".lock", "D", LOCK_MODE_SHARED, 10000, false).err,
		0);
}

static void test_tokens_only_grow(void **state)
{
	struct fixture *f = *state;
	int64_t last = 0;
	struct seen s;

	for (int i = 0; i < 3; i++) {
		s = acquire(f, "t", "A");
		assert_int_equal(s.err, 0);
		assert_true(s.token > last);
		last = s.token;
		assert_int_equal(release(f, "t", "A", s.token, false).err, 0);
	}
	s = acquire_as(f, "t", "A", LOCK_MODE_EXCLUSIVE, 150, false);
	assert_true(s.token > last);
	last = s.token;
	sleep_ms(300);
	s = acquire(f, "t", "B"); /* after expiry */
	assert_int_equal(s.err, 0);
	assert_true(s.token > last);
}

static void test_expiry_by_server_clock(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "e", 0755).err, 0);
	s = acquire_as(f, "e/x", "A", LOCK_MODE_EXCLUSIVE, 200, false);
	assert_int_equal(s.err, 0);
	assert_int_equal(acquire(f, "e/.lock", "B").err, -EAGAIN);
	assert_int_equal(list_ns(f, "e").nentries, 1);
	sleep_ms(350);
	assert_int_equal(stat_of(f, "e/x").kind, STORE_NONE);
	assert_int_equal(list_ns(f, "e").nentries, 0);
	/* the expired descendant no longer blocks its ancestor */
	assert_int_equal(acquire(f, "e/.lock", "B").err, 0);
	/* and its owner learns it lost the lease */
	assert_int_equal(renew(f, "e/x", "A", s.token, 0, NULL).err, -ESTALE);
	assert_int_equal(release(f, "e/x", "A", 0, false).err, -ENOENT);
}

static void test_renew_and_release_rules(void **state)
{
	struct fixture *f = *state;
	struct seen s, r;

	s = acquire(f, "r", "A");
	r = renew(f, "r", "A", s.token, 30000, "backup of db1");
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ttl0, 30000);
	assert_string_equal(r.note0, "backup of db1");
	r = renew(f, "r", "A", s.token, 0, NULL); /* note kept */
	assert_string_equal(r.note0, "backup of db1");
	r = renew(f, "r", "B", 0, 0, NULL);
	assert_int_equal(r.err, -ESTALE);
	assert_string_equal(r.extra, "held");
	assert_int_equal(r.word, WORD_HELD);
	assert_int_equal(renew(f, "r", "A", s.token + 1000, 0, NULL).err,
			 -ESTALE);
	assert_int_equal(release(f, "r", "B", 0, false).err, -EPERM);
	assert_int_equal(release(f, "r", "A", s.token + 1000, false).err,
			 -ESTALE);
	r = release(f, "r", "B", 0, true);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.extra, "broken");
	assert_int_equal(r.word, WORD_BROKEN);
	assert_string_equal(r.holder0, "A");
	assert_int_equal(stat_of(f, "r").kind, STORE_NONE);
	assert_int_equal(renew(f, "r", "A", s.token, 0, NULL).err, -ESTALE);
	/* A names the grant it lost: ESTALE, free or retaken, forced or not,
	 * and the new holder keeps its lock */
	assert_int_equal(release(f, "r", "A", s.token, false).err, -ESTALE);
	assert_int_equal(release(f, "r", "A", s.token, true).err, -ESTALE);
	r = acquire(f, "r", "B");
	assert_int_equal(r.err, 0);
	r = release(f, "r", "A", s.token, true);
	assert_int_equal(r.err, -ESTALE);
	assert_string_equal(r.extra, "lost");
	assert_int_equal(r.word, WORD_LOST);
	assert_int_equal(release(f, "r", "A", s.token, false).err, -ESTALE);
	assert_int_equal(stat_of(f, "r").kind, STORE_LOCK);
	/* knowing of no grant, root breaks and others are refused */
	assert_int_equal(release(f, "r", "A", 0, false).err, -EPERM);
	assert_int_equal(release(f, "r", "A", 0, true).err, 0);
}

static void test_lock_files(void **state)
{
	struct fixture *f = *state;
	struct file_change create = {.op = FILE_CREATE, .mode = 0640,
				     .uid = 1000, .gid = 1000};
	struct file_change excl = create, unlink = {.op = FILE_UNLINK};
	char big[LOCK_FILE_DATA_MAX + 2];
	int64_t id;
	struct seen s;

	excl.excl = true;
	assert_int_equal(mkdir_ns(f, "d", 0777).err, 0);
	assert_int_equal(file_do(f, "nons/x", create).err, -ENOENT);
	assert_int_equal(file_do(f, "d", create).err, -EISDIR);
	s = file_do(f, "d/f", excl);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "created");
	assert_int_equal(s.word, WORD_CREATED);
	assert_true(s.file);
	assert_int_equal(s.file_mode, 0640);
	assert_int_equal(s.nholders, 0);
	id = s.file_id;
	/* it exists, unheld: O_EXCL fails, in both views */
	assert_int_equal(file_do(f, "d/f", excl).err, -EEXIST);
	assert_int_equal(file_do(f, "d/f", create).file_id, id);
	assert_int_equal(acquire_as(f, "d/f", "A", LOCK_MODE_EXCLUSIVE, 10000,
				    true).err, -EEXIST);
	s = stat_of(f, "d/f");
	assert_int_equal(s.kind, STORE_LOCK);
	assert_true(s.file);
	s = list_ns(f, "d");
	assert_int_equal(s.nentries, 1);
	assert_string_equal(s.entries[0], "f");
	assert_int_equal(rmdir_ns(f, "d").err, -ENOTEMPTY);
	/* a name is a file or a namespace, never both */
	assert_int_equal(mkdir_ns(f, "d/f", 0755).err, -EEXIST);
	/* content: written, appended, truncated; at most 1 KiB */
	assert_int_equal(file_write(f, "d/f", id, 0, "hello").err, 0);
	assert_int_equal(file_write(f, "d/f", id, 3, "p!").err, 0);
	s = file_write(f, "d/f", id, 7, "x");
	assert_int_equal(s.data_len, 8);
	assert_memory_equal(s.data, "help!\0\0x", 8);
	memset(big, 'b', sizeof(big));
	big[LOCK_FILE_DATA_MAX + 1] = '\0';
	assert_int_equal(file_write(f, "d/f", id, 0, big).err, -EFBIG);
	big[LOCK_FILE_DATA_MAX] = '\0';
	assert_int_equal(file_write(f, "d/f", id, 0, big).data_len,
			 LOCK_FILE_DATA_MAX);
	s = file_do(f, "d/f", (struct file_change){.op = FILE_TRUNCATE,
						   .id = id, .offset = 2});
	assert_int_equal(s.data_len, 2);
	assert_int_equal(stat_of(f, "d/f").data_len, 2);
	s = file_do(f, "d/f", (struct file_change){.op = FILE_ATTR,
						   .mode = 0600, .uid = -1,
						   .gid = -1});
	assert_int_equal(s.file_mode, 0600);
	assert_int_equal(s.file_uid, 1000);
	/* a lock taken on it leaves the file; unlink ends no lock, and a new
	 * file of the name is another file, the lock still held */
	assert_int_equal(acquire(f, "d/f", "A").err, 0);
	assert_int_equal(file_do(f, "d/f", unlink).err, 0);
	assert_int_equal(file_do(f, "d/f", unlink).err, -ENOENT);
	s = stat_of(f, "d/f");
	assert_false(s.file);
	assert_int_equal(s.nholders, 1);
	s = file_do(f, "d/f", create);
	assert_true(s.file_id != id);
	assert_int_equal(s.nholders, 1);
	s = file_write(f, "d/f", id, 0, "old descriptor");
	assert_string_equal(s.extra, "gone");
	assert_int_equal(s.word, WORD_GONE);
	assert_int_equal(s.data_len, 0);
	/* the lease view's unlink: a release first, the file stays ... */
	s = unlink_lock(f, "d/f", "A");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "released");
	assert_int_equal(s.word, WORD_RELEASED);
	assert_true(stat_of(f, "d/f").file);
	/* ... then, unheld, the file goes; a release never removes it */
	assert_int_equal(release(f, "d/f", "A", 0, false).err, -ENOENT);
	assert_true(stat_of(f, "d/f").file);
	s = unlink_lock(f, "d/f", "A");
	assert_string_equal(s.extra, "unlinked");
	assert_int_equal(s.word, WORD_UNLINKED);
	assert_int_equal(stat_of(f, "d/f").kind, STORE_NONE);
	assert_int_equal(unlink_lock(f, "d/f", "A").err, -ENOENT);
	/* O_TRUNC on a create empties a file that exists */
	assert_int_equal(file_do(f, "d/.lock", create).err, 0);
	assert_int_equal(file_write(f, "d/.lock", 0, 0, "abc").data_len, 3);
	create.truncate = true;
	assert_int_equal(file_do(f, "d/.lock", create).data_len, 0);
	assert_string_equal(list_ns(f, "d").entries[0], ".lock");
	assert_int_equal(file_do(f, "d/.lock", unlink).err, 0);
	assert_int_equal(rmdir_ns(f, "d").err, 0);
}

/* The server loses its functions (FUNCTION FLUSH, as after a restart
 * without persistence): the next call loads them again and is answered. */
static void test_library_lost_and_loaded_again(void **state)
{
	struct fixture *f = *state;
	char cmd[512];

	assert_int_equal(acquire(f, "x", "A").err, 0);
	snprintf(cmd, sizeof(cmd), "redis-cli -s %s FUNCTION FLUSH >/dev/null",
		 f->srv.sock);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(acquire(f, "y", "A").err, 0);
	assert_int_equal(stat_of(f, "x").nholders, 1);
	assert_int_equal(release(f, "x", "A", 0, false).err, 0);
}

/* The library lives on between calls: what a call keeps for itself must
 * not pile up in the server's Lua memory, call after call. */
static long functions_memory(struct fixture *f)
{
	char cmd[512];
	long bytes = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "redis-cli -s %s INFO memory | "
		 "sed -n 's/^used_memory_vm_functions:\\([0-9]*\\).*/\\1/p'",
		 f->srv.sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fscanf(p, "%ld", &bytes) != 1)
		bytes = -1;
	pclose(p);
	return bytes;
}

static void test_calls_leave_nothing_in_the_library(void **state)
{
	struct fixture *f = *state;
	char name[64];
	long before, after;

	assert_int_equal(acquire(f, "warm", "A").err, 0);
	before = functions_memory(f);
	assert_true(before > 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "leak-check-%d", i);
		assert_int_equal(acquire(f, name, "A").err, 0);
		assert_int_equal(release(f, name, "A", 0, false).err, 0);
	}
	after = functions_memory(f);
	/* 3000 names kept would be hundreds of kB; the GC's slack is less */
	assert_true(after - before < 128 * 1024);
}

static void test_namespaces(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	s = stat_of(f, "");
	assert_int_equal(s.kind, STORE_NAMESPACE);
	assert_int_equal(s.ns_mode, 01777);
	assert_int_equal(mkdir_ns(f, "n", 0750).err, 0);
	assert_int_equal(mkdir_ns(f, "n", 0750).err, -EEXIST);
	assert_int_equal(mkdir_ns(f, "x/y", 0750).err, -ENOENT);
	assert_int_equal(stat_of(f, "n").ns_mode, 0750);
	assert_int_equal(mkdir_ns(f, "n/sub", 0755).err, 0);
	assert_int_equal(rmdir_ns(f, "n").err, -ENOTEMPTY);
	assert_int_equal(rmdir_ns(f, "n/sub").err, 0);
	assert_int_equal(acquire(f, "n/held", "A").err, 0);
	assert_int_equal(mkdir_ns(f, "n/held", 0755).err, -EEXIST);
	s = list_ns(f, "n");
	assert_int_equal(s.nentries, 1);
	assert_string_equal(s.entries[0], "held");
	assert_int_equal(rmdir_ns(f, "n").err, -ENOTEMPTY);
	assert_int_equal(release(f, "n/held", "A", 0, false).err, 0);
	assert_int_equal(acquire(f, "n/.lock", "A").err, 0);
	assert_int_equal(rmdir_ns(f, "n").err, -ENOTEMPTY);
	assert_int_equal(release(f, "n/.lock", "A", 0, false).err, 0);
	assert_int_equal(rmdir_ns(f, "n").err, 0);
	assert_int_equal(stat_of(f, "n").kind, STORE_NONE);
	assert_int_equal(rmdir_ns(f, "n").err, -ENOENT);
	/* a lock in a namespace that is gone */
	assert_int_equal(acquire(f, "n/x", "A").err, -ENOENT);
	/* set-group-id directories pass on their group */
	assert_int_equal(mkdir_ns(f, "g", 02770).err, 0);
	s = mkdir_ns(f, "g/h", 0700);
	assert_int_equal(s.ns_mode, 02700);
	assert_int_equal(s.ns_gid, 1000);
	s = (struct seen){0};
	answer(f, store_setattr(f->st, "g", 0711, -1, 55, record, &s), &s);
	assert_int_equal(s.ns_mode, 0711);
	assert_int_equal(s.ns_gid, 55);
	/* a namespace name is not a lock file */
	assert_int_equal(acquire(f, "g", "A").err, -EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acquire_table, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_acquire_probe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hierarchy_both_ways,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tokens_only_grow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_by_server_clock,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_renew_and_release_rules,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_library_lost_and_loaded_again, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_calls_leave_nothing_in_the_library, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_lock_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_namespaces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_summaries_deep, setup,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemon: a dead server is EIO */
	return cmocka_run_group_tests(tests, NULL, NULL);
}

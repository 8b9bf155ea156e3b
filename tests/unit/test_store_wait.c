/*
 * test_store_wait.c - the Redis store against a real, private
 * redis-server (store_fixture.h): what the README promises of waiting:
 * lock sets, a release that hands the lock over to the queue, semaphores,
 * deadlocks refused, the queue in sight, lock-delay, and EIO within
 * backend_timeout from a frozen or unreachable server, with the late
 * grant undone and the breaker that fails calls at once meanwhile.
 */
#include "store_fixture.h"

static void test_lock_sets(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "db", 0755).err, 0);
	assert_int_equal(mkdir_ns(f, "cfg", 0755).err, 0);
	s = acquire_set(f, "A", NULL, false, 3, "db/customers",
			LOCK_MODE_EXCLUSIVE, "db/orders", LOCK_MODE_EXCLUSIVE,
			"cfg/.lock", LOCK_MODE_SHARED);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.kind, STORE_TOKENS);
	assert_int_equal(stat_of(f, "db/orders").kind, STORE_LOCK);
	assert_int_equal(stat_of(f, "cfg/.lock").kind, STORE_LOCK);
	/* shared members coexist with shared requests */
	assert_int_equal(acquire_as(f, "cfg/x", "B", LOCK_MODE_SHARED, 10000,
				    false)
				 .err,
			 0);
	/* all or nothing: one busy member takes nothing */
	s = acquire_set(f, "B", NULL, false, 2, "db/free", LOCK_MODE_EXCLUSIVE,
			"db/orders", LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, -EAGAIN);
	assert_int_equal(stat_of(f, "db/free").kind, STORE_NONE);
	/* queued, it holds nothing and blocks later conflicting requests */
	s = acquire_set(f, "B", "wB", false, 2, "db/free", LOCK_MODE_EXCLUSIVE,
			"db/orders", LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, -EAGAIN);
	assert_true(strncmp(s.extra, "h|", 2) == 0);
	assert_int_equal(s.blocker, BLOCKER_HOLDER);
	assert_int_equal(stat_of(f, "db/free").kind, STORE_NONE);
	assert_int_equal(acquire(f, "db/free", "C").err, -EAGAIN);
	assert_int_equal(release(f, "db/orders", "A", 0, false).err, 0);
	s = acquire_set(f, "B", "wB", false, 2, "db/free", LOCK_MODE_EXCLUSIVE,
			"db/orders", LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, 0);
	assert_string_equal(stat_of(f, "db/free").holder0, "B");
	/* a withdrawn set leaves nothing queued */
	s = acquire_set(f, "C", "wC", false, 1, "db/orders",
			LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, -EAGAIN);
	s = acquire_set(f, "C", "wC", true, 1, "db/orders",
			LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, 0);
	assert_int_equal(release(f, "db/orders", "B", 0, false).err, 0);
	assert_int_equal(acquire(f, "db/orders", "D").err, 0);
}

/*
 * A dead waiter at the head of a queue whose record is already gone (its
 * daemon died; another call met it first and dropped the record) is
 * skipped by the release that hands the lock on: the release answers,
 * grants the live waiter behind it, and Redis is not left looping in the
 * script (which stalled every client of the server for good).
 */
static void test_release_skips_waiter_without_record(void **state)
{
	struct fixture *f = *state;
	char cmd[512];
	struct seen s;

	assert_int_equal(mkdir_ns(f, "r", 0777).err, 0);
	assert_int_equal(acquire(f, "r/x", "A").err, 0);
	assert_int_equal(acquire_wait(f, "r/x", "B", LOCK_MODE_EXCLUSIVE, "wB",
				      false).err, -EAGAIN);
	assert_int_equal(acquire_wait(f, "r/x", "C", LOCK_MODE_EXCLUSIVE, "wC",
				      false).err, -EAGAIN);
	snprintf(cmd, sizeof(cmd),
		 "test \"$(redis-cli -s '%s' HDEL '{t}:wr:' wB)\" = 1",
		 f->srv.sock);
	assert_int_equal(system(cmd), 0);
	s = release(f, "r/x", "A", 0, false);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wC");
	assert_string_equal(stat_of(f, "r/x").holder0, "C");
}

/*
 * The call that ends a hold hands the lock to the head of its queue: a
 * provisional grant, named in the reply, that lasts as long as the queue
 * entry would have until the grantee's confirmation gives it its ttl; a
 * withdrawal undoes it and hands the lock on.
 */
static void test_release_hands_over(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t tok;

	assert_int_equal(mkdir_ns(f, "h", 0777).err, 0);
	assert_int_equal(acquire(f, "h/x", "A").err, 0);
	assert_int_equal(acquire_wait(f, "h/x", "B", LOCK_MODE_EXCLUSIVE, "wB",
				      false).err, -EAGAIN);
	assert_int_equal(acquire_wait(f, "h/x", "C", LOCK_MODE_EXCLUSIVE, "wC",
				      false).err, -EAGAIN);
	s = release(f, "h/x", "A", 0, false);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.ngrants, 1); /* B only: C still waits behind it */
	assert_string_equal(s.grant_wid[0], "wB");
	assert_string_equal(s.grant_daemon[0], "d-wB");
	tok = s.grant_token[0];
	s = stat_of(f, "h/x");
	assert_string_equal(s.holder0, "B");
	assert_int_equal(s.token, tok);
	/* provisional: as long as B's queue entry (a 3 s lease), not its ttl */
	assert_true(s.exp0 - s.now <= 3000);
	assert_true(s.exp0 - s.now > 2000);
	/* a newcomer is refused, a withdrawal of B hands it on to C */
	assert_int_equal(acquire(f, "h/x", "D").err, -EAGAIN);
	s = withdraw(f, "h/x", "wB");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "removed");
	assert_int_equal(s.word, WORD_REMOVED);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wC");
	assert_true(s.grant_token[0] > tok);
	assert_string_equal(stat_of(f, "h/x").holder0, "C");
	/* C's confirmation: 'new', with its full ttl; again: 'renewed' */
	s = acquire_wait(f, "h/x", "C", LOCK_MODE_EXCLUSIVE, "wC", true);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "new");
	assert_int_equal(s.word, WORD_NEW);
	assert_true(s.exp0 - s.now > 50000);
	s = acquire_wait(f, "h/x", "C", LOCK_MODE_EXCLUSIVE, "wC", true);
	assert_string_equal(s.extra, "renewed");
	assert_int_equal(s.word, WORD_RENEWED);
	/* a confirmed grant is not undone by a late withdrawal */
	assert_int_equal(withdraw(f, "h/x", "wC").err, 0);
	assert_string_equal(stat_of(f, "h/x").holder0, "C");
	/* a confirmation of a grant that is gone: ESTALE, nothing taken */
	assert_int_equal(release(f, "h/x", "C", 0, false).err, 0);
	s = acquire_wait(f, "h/x", "E", LOCK_MODE_EXCLUSIVE, "wE", true);
	assert_int_equal(s.err, -ESTALE);
	assert_int_equal(stat_of(f, "h/x").kind, STORE_NONE);
	/* shared requests at the head all go at once, up to an exclusive one */
	assert_int_equal(acquire(f, "h/y", "X").err, 0);
	acquire_wait(f, "h/y", "S1", LOCK_MODE_SHARED, "wS1", false);
	acquire_wait(f, "h/y", "S2", LOCK_MODE_SHARED, "wS2", false);
	acquire_wait(f, "h/y", "E2", LOCK_MODE_EXCLUSIVE, "wE2", false);
	s = release(f, "h/y", "X", 0, false);
	assert_int_equal(s.ngrants, 2);
	assert_string_equal(s.grant_wid[0], "wS1");
	assert_string_equal(s.grant_wid[1], "wS2");
	/* first come, first served along the tree: W queued before the
	 * directory lock P and goes first; P, waiting on another node of the
	 * tree, is not granted by W's release but by its own re-check */
	assert_int_equal(mkdir_ns(f, "g", 0777).err, 0);
	assert_int_equal(acquire(f, "g/z", "Z").err, 0);
	acquire_wait(f, "g/z", "W", LOCK_MODE_EXCLUSIVE, "wW", false);
	assert_int_equal(acquire_wait(f, "g/.lock", "P", LOCK_MODE_EXCLUSIVE,
				      "wP", false).err, -EAGAIN);
	s = release(f, "g/z", "Z", 0, false);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wW");
	assert_int_equal(release(f, "g/z", "W", 0, false).ngrants, 0);
	s = acquire_wait(f, "g/.lock", "P", LOCK_MODE_EXCLUSIVE, "wP", false);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "new");
	assert_int_equal(s.word, WORD_NEW);
}

/*
 * Semaphores: a namespace with a limit holds at most that many locks at
 * once directly in it; the next requests wait FIFO and a release wakes
 * them (a wake notice in its reply).
 */
static void test_semaphore(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "gpu", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "gpu/sub", 0777).err, 0);
	assert_int_equal(set_limit(f, "gpu", 2, 4242).err, -EPERM); /* not its owner */
	s = set_limit(f, "gpu", 2, 1000);
	assert_int_equal(s.err, 0);
	assert_int_equal(acquire(f, "gpu/a", "A").err, 0);
	assert_int_equal(acquire(f, "gpu/b", "B").err, 0);
	assert_int_equal(acquire(f, "gpu/c", "C").err, -EAGAIN); /* full */
	/* what is below, and the namespace's own lock, are not slots */
	assert_int_equal(acquire(f, "gpu/sub/x", "X").err, 0);
	assert_int_equal(release(f, "gpu/sub/x", "X", 0, false).err, 0);
	/* a second holder of a held shared lock takes no new slot */
	assert_int_equal(release(f, "gpu/b", "B", 0, false).ngrants, 1);
	assert_int_equal(acquire_as(f, "gpu/b", "B", LOCK_MODE_SHARED, 10000,
				    false).err, 0);
	assert_int_equal(acquire_as(f, "gpu/b", "B2", LOCK_MODE_SHARED, 10000,
				    false).err, 0);
	/* waiters: FIFO, held back by the limit */
	s = acquire_wait(f, "gpu/c", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	assert_int_equal(s.err, -EAGAIN);
	assert_true(strncmp(s.extra, "s|", 2) == 0);
	assert_true(strstr(s.extra, "|gpu") != NULL);
	assert_int_equal(s.blocker, BLOCKER_SEMAPHORE);
	assert_string_equal(s.blocker_what, "gpu");
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN);
	s = release(f, "gpu/a", "A", 0, false);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wake:gpu");
	/* D asks first, but C came first: D waits, C gets it */
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN);
	s = acquire_wait(f, "gpu/c", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.ngrants, 1); /* its leaving wakes those behind */
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN); /* still full */
	/* no limit any more: D goes */
	assert_int_equal(set_limit(f, "gpu", 0, 0).err, 0);
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, 0);
}

/*
 * Deadlocks: a wait that would close a cycle of owners waiting on each
 * other fails at once with EDEADLK, through holders and waiting requests,
 * and leaves nothing queued; a wait that closes none is queued.
 */
static void test_deadlock(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "k", 0777).err, 0);
	assert_int_equal(acquire(f, "k/x", "A").err, 0);
	assert_int_equal(acquire(f, "k/y", "B").err, 0);
	assert_int_equal(acquire(f, "k/z", "C").err, 0);
	/* A waits for y (B's), B for z (C's): no cycle yet */
	assert_int_equal(acquire_wait(f, "k/y", "A", LOCK_MODE_EXCLUSIVE, "wA",
				      false).err, -EAGAIN);
	assert_int_equal(acquire_wait(f, "k/z", "B", LOCK_MODE_EXCLUSIVE, "wB",
				      false).err, -EAGAIN);
	/* C asking for x (A's) would close C -> A -> B -> C */
	s = acquire_wait(f, "k/x", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	assert_int_equal(s.err, -EDEADLK);
	assert_int_equal(stat_of(f, "k/x").nholders, 1);
	/* not queued: the lock shows A's waiter-free state */
	assert_int_equal(stat_of(f, "k/x").nqueued, 0);
	/* a fourth owner waiting for x closes no cycle */
	assert_int_equal(acquire_wait(f, "k/x", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN);
	/* once A gives up waiting, C may wait for x */
	assert_int_equal(withdraw(f, "k/y", "wA").err, 0);
	assert_int_equal(acquire_wait(f, "k/x", "C", LOCK_MODE_EXCLUSIVE, "wC",
				      false).err, -EAGAIN);
}

/* Reading a lock lists its waiters in queue order, the count aside. */
static void test_queue_in_sight(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "q", 0777).err, 0);
	assert_int_equal(acquire(f, "q/x", "A").err, 0);
	assert_int_equal(stat_of(f, "q/x").nqueued, 0);
	acquire_wait(f, "q/x", "B", LOCK_MODE_SHARED, "wB", false);
	acquire_wait(f, "q/x", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	s = stat_of(f, "q/x");
	assert_int_equal(s.nqueued, 2);
	assert_int_equal(s.queued_mode[0], LOCK_MODE_SHARED); /* B first */
	assert_int_equal(s.queued_mode[1], LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.queued_pid[0], 43);
	assert_int_equal(withdraw(f, "q/x", "wB").err, 0);
	s = stat_of(f, "q/x");
	assert_int_equal(s.nqueued, 1);
	assert_int_equal(s.queued_mode[0], LOCK_MODE_EXCLUSIVE);
}

/*
 * Lock-delay: a hold that expires keeps its lock from everyone else for
 * its delay (the lock reads as held by nobody, delayed_until= set); one
 * released does not.
 */
static void test_lock_delay(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "d", 0777).err, 0);
	assert_int_equal(acquire_delayed(f, "d/x", "A", 200, 700).err, 0);
	sleep_ms(300); /* expired, in its delay */
	assert_int_equal(acquire(f, "d/x", "B").err, -EAGAIN);
	s = stat_of(f, "d/x");
	assert_int_equal(s.kind, STORE_LOCK);
	assert_int_equal(s.nholders, 0);
	assert_true(s.delayed_until > s.now && s.delayed_until - s.now <= 700);
	/* its namespace's lock waits for it too */
	assert_int_equal(acquire(f, "d/.lock", "C").err, -EAGAIN);
	s = acquire_wait(f, "d/x", "B", LOCK_MODE_EXCLUSIVE, "wB", false);
	assert_true(strncmp(s.extra, "h|", 2) == 0); /* wakes at its end */
	assert_int_equal(s.blocker, BLOCKER_HOLDER);
	assert_int_equal(withdraw(f, "d/x", "wB").err, 0);
	sleep_ms(700);
	assert_int_equal(acquire(f, "d/x", "B").err, 0);
	assert_int_equal(stat_of(f, "d/x").delayed_until, 0);
	/* released, not expired: no delay */
	assert_int_equal(release(f, "d/x", "B", 0, false).err, 0);
	assert_int_equal(acquire_delayed(f, "d/y", "A", 5000, 5000).err, 0);
	assert_int_equal(release(f, "d/y", "A", 0, false).err, 0);
	assert_int_equal(acquire(f, "d/y", "B").err, 0);
	assert_int_equal(acquire(f, "d/.lock", "C").err, -EAGAIN); /* B */
	assert_int_equal(release(f, "d/y", "B", 0, false).err, 0);
	assert_int_equal(acquire(f, "d/.lock", "C").err, 0);
}

static void test_frozen_server_gives_eio_and_undoes_late_grant(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(stat_of(f, "z").err, 0); /* connected */
	kill(f->srv.pid, SIGSTOP);
	t0 = now_ms();
	s = acquire(f, "z", "A");
	assert_int_equal(s.err, -EIO);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 2000);
	kill(f->srv.pid, SIGCONT);
	/* the late grant is released again by the store */
	for (int i = 0; i < 50; i++) {
		s = stat_of(f, "z");
		if (s.kind == STORE_NONE)
			break;
		pump(f->base, 20);
	}
	assert_int_equal(s.kind, STORE_NONE);
	assert_int_equal(acquire(f, "z", "B").err, 0);
}

/*
 * The breaker: once a call went unanswered for backend_timeout, the next
 * fails at once, and the store notices by itself when Redis answers again.
 */
static void test_breaker_fails_fast_until_redis_answers(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(stat_of(f, "z").err, 0);
	assert_true(store_connected(f->st));
	kill(f->srv.pid, SIGSTOP);
	assert_int_equal(stat_of(f, "z").err, -EIO); /* one backend_timeout */
	assert_false(store_connected(f->st));
	t0 = now_ms();
	s = acquire(f, "z", "A");
	assert_int_equal(s.err, -EIO);
	assert_true(now_ms() - t0 < 100); /* at once, not another timeout */
	kill(f->srv.pid, SIGCONT);
	for (int i = 0; i < 50 && !store_connected(f->st); i++)
		pump(f->base, 20);
	assert_true(store_connected(f->st)); /* its probe saw Redis answer */
	assert_int_equal(acquire(f, "z", "B").err, 0);
	assert_int_equal(stat_of(f, "z").kind, STORE_LOCK);
}

/*
 * Behind a partition late replies trickle in: a reply to a call sent
 * before Redis fell silent does not close the breaker, only an answer to
 * something sent since does; and an undo (a withdrawal) still goes while
 * it is open.
 */
static void test_breaker_ignores_late_replies(void **state)
{
	struct fixture *f = *state;
	struct store_stats before, now;
	struct seen w = {0};

	assert_int_equal(stat_of(f, "z").err, 0);
	kill(f->srv.pid, SIGSTOP);
	assert_int_equal(stat_of(f, "z").err, -EIO); /* the breaker opens */
	store_get_stats(f->st, &before);
	kill(f->srv.pid, SIGCONT);
	/* until the stat's late reply has come (its PING comes later) */
	for (int i = 0; i < 1000; i++) {
		store_get_stats(f->st, &now);
		if (now.calls > before.calls)
			break;
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(200);
	}
	assert_true(now.calls > before.calls);
	assert_false(store_connected(f->st));
	assert_int_equal(store_stat(f->st, "z", record, &w), -EIO);
	/* an undo is sent all the same, and its reply closes the breaker */
	assert_int_equal(store_withdraw(f->st, "z", "nobody", record, &w), 0);
	wait_for(f, &w);
	assert_int_equal(w.err, 0);
	assert_true(store_connected(f->st));
}

static void test_unreachable_server_gives_eio(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(stat_of(f, "z").err, 0);
	kill(f->srv.pid, SIGKILL);
	waitpid(f->srv.pid, NULL, 0);
	t0 = now_ms();
	s = acquire(f, "z", "A");
	assert_int_equal(s.err, -EIO);
	assert_true(now_ms() - t0 < 2000);
	s = stat_of(f, "z");
	assert_int_equal(s.err, -EIO);
	server_start(&f->srv); /* same socket path: the store reconnects */
	for (int i = 0; i < 100; i++) {
		s = stat_of(f, "z");
		if (s.err == 0)
			break;
		pump(f->base, 50);
	}
	assert_int_equal(s.err, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deadlock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_semaphore, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_in_sight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_delay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_release_skips_waiter_without_record, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_release_hands_over, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_sets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_frozen_server_gives_eio_and_undoes_late_grant,
			setup_short, teardown),
		cmocka_unit_test_setup_teardown(
			test_unreachable_server_gives_eio, setup_short,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_breaker_fails_fast_until_redis_answers,
			setup_short, teardown),
		cmocka_unit_test_setup_teardown(
			test_breaker_ignores_late_replies, setup_short,
			teardown),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemon: a dead server is EIO */
	return cmocka_run_group_tests(tests, NULL, NULL);
}

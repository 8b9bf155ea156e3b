/*
 * test_owner.c - owners from /proc (the README), on a fake procfs tree
 * and on the real one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "owner.h"

struct fake {
	char root[64];
};

static void fake_task(struct fake *f, int tid, int tgid, int sid,
		      const char *comm)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%d", f->root, tid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/stat", f->root, tid);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%d (%s) S 1 %d %d 0 -1 4194560 0 0 0\n", tid, comm, sid,
		sid);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/%d/status", f->root, tid);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "Name:\t%s\nUmask:\t0022\nState:\tS\nTgid:\t%d\nPid:\t%d\n",
		comm, tgid, tid);
	fclose(fp);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	snprintf(f->root, sizeof(f->root), "/tmp/lockfs-proc-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	fake_task(f, 100, 100, 90, "bash");
	fake_task(f, 101, 100, 90, "odd) name (x");
	fake_task(f, 200, 200, 200, "sleep");
	fake_task(f, 300, 300, 90, "cron job");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_ids_from_proc(void **state)
{
	struct fake *f = *state;
	pid_t tgid = 0, sid = 0;

	assert_int_equal(owner_proc_ids(f->root, 101, &tgid, &sid), 0);
	assert_int_equal(tgid, 100);
	assert_int_equal(sid, 90);
	assert_int_equal(owner_proc_ids(f->root, 999, &tgid, &sid), -ESRCH);
}

/* A kernel that shows NSsid in status: that one file is all it reads. */
static void test_ids_from_status_alone(void **state)
{
	struct fake *f = *state;
	pid_t tgid = 0, sid = 0;
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/400", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/400/status", f->root);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "Name:\tx\nTgid:\t399\nPid:\t400\nNSpid:\t400\n"
		    "NSpgid:\t380\nNSsid:\t370\n");
	fclose(fp);
	assert_int_equal(owner_proc_ids(f->root, 400, &tgid, &sid), 0);
	assert_int_equal(tgid, 399);
	assert_int_equal(sid, 370);
	/* and the real /proc agrees with the kernel */
	assert_int_equal(owner_proc_ids("/proc", getpid(), &tgid, &sid), 0);
	assert_int_equal(tgid, getpid());
	assert_int_equal(sid, getsid(0));
}

static void test_owner_ids(void **state)
{
	struct fake *f = *state;
	struct owner o;

	assert_int_equal(owner_from_request(f->root, "n1", 1000, 1000, 101,
					    OWNER_SESSION, &o),
			 0);
	assert_string_equal(o.id, "n1:1000:s90");
	assert_int_equal(o.pid, 100);
	assert_int_equal(owner_from_request(f->root, "n1", 1000, 1000, 101,
					    OWNER_PROCESS, &o),
			 0);
	assert_string_equal(o.id, "n1:1000:p100");
	assert_int_equal(owner_from_request(f->root, "n1", 1000, 1000, 101,
					    OWNER_USER, &o),
			 0);
	assert_string_equal(o.id, "n1:1000:u");
	/* two jobs on one node are two owners, one session's commands one */
	assert_int_equal(owner_from_request(f->root, "n1", 1000, 1000, 300,
					    OWNER_SESSION, &o),
			 0);
	assert_string_equal(o.id, "n1:1000:s90");
	assert_int_equal(owner_from_request(f->root, "n1", 1000, 1000, 200,
					    OWNER_SESSION, &o),
			 0);
	assert_string_equal(o.id, "n1:1000:s200");
	/* a request from the kernel itself, or from a task already gone */
	assert_int_equal(owner_from_request(f->root, "n1", 0, 0, 0,
					    OWNER_SESSION, &o),
			 0);
	assert_string_equal(o.id, "n1:0:s0");
	assert_int_equal(owner_from_request(f->root, "n1", 5, 5, 999,
					    OWNER_SESSION, &o),
			 0);
	assert_int_equal(o.session, 0);
}

static void test_nodes_and_scopes(void **state)
{
	enum owner_scope s;

	(void)state;
	assert_int_equal(owner_check_node("n1"), 0);
	assert_int_equal(owner_check_node("web-01.example_x"), 0);
	assert_int_equal(owner_check_node(""), -EINVAL);
	assert_int_equal(owner_check_node("a:b"), -EINVAL);
	assert_int_equal(owner_check_node("a b"), -EINVAL);
	assert_int_equal(owner_check_node(
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaaaaa"),
			 -EINVAL);
	assert_int_equal(owner_scope_parse("process", &s), 0);
	assert_int_equal(s, OWNER_PROCESS);
	assert_int_equal(owner_scope_parse("everyone", &s), -EINVAL);
	assert_string_equal(owner_scope_name(OWNER_USER), "user");
}

static void test_live_sessions(void **state)
{
	struct fake *f = *state;
	pid_t sids[8];
	pid_t few[1];

	assert_int_equal(owner_live_sessions(f->root, sids, 8), 2);
	assert_int_equal(sids[0], 90);
	assert_int_equal(sids[1], 200);
	assert_true(owner_session_in(sids, 2, 200));
	assert_false(owner_session_in(sids, 2, 100));
	/* too small an array says so */
	assert_int_equal(owner_live_sessions(f->root, few, 1), 1);
	/* 200 leads its session; 90 has members but no leader; 100 is no
	 * session id at all (process 100 is in session 90) */
	assert_true(owner_session_leader_alive(f->root, 200));
	assert_false(owner_session_leader_alive(f->root, 90));
	assert_false(owner_session_leader_alive(f->root, 100));
}

static void test_real_proc(void **state)
{
	pid_t sids[65536], tgid = 0, sid = 0;
	long n;

	(void)state;
	n = owner_live_sessions("/proc", sids, 65536);
	assert_true(n > 0);
	assert_true(owner_session_in(sids, n, getsid(0)));
	assert_int_equal(owner_proc_ids("/proc", getpid(), &tgid, &sid), 0);
	assert_int_equal(tgid, getpid());
	assert_int_equal(sid, getsid(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids_from_status_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_from_proc, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_owner_ids, setup,
						teardown),
		cmocka_unit_test(test_nodes_and_scopes),
		cmocka_unit_test_setup_teardown(test_live_sessions, setup,
						teardown),
		cmocka_unit_test(test_real_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

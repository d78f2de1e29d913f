// SPDX-License-Identifier: GPL-2.0
/*
 * What callbox shows of a sandbox of its own: a new one, the files sysfs
 * and debugfs hold, the limits and the transition table, the ring of
 * recent calls, init calls, a full sandbox; and that nothing dangles: a
 * call dropped, reaped or never looked at, a dup closed, ids never
 * reused, a debugfs file open across the close, failed ioctls.
 */
#include <dirent.h>

#include "inspect_box.h"
#include "stall.h"


/*
 * ==== A new sandbox, the limits, the transition table ====
 */
FIXTURE(fresh) {
	struct ibox ib;
};

FIXTURE_SETUP(fresh)
{
	ibox_open(_metadata, &self->ib);
}

FIXTURE_TEARDOWN(fresh)
{
	box_close(&self->ib.b);
}

TEST_F(fresh, nothing_yet)
{
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_fdinfo fi;
	struct dbg_call rows[1];
	struct dbg_recent rec[1];

	return_if_setup_skipped();
	fdinfo_read_ok(0, self->ib.b.fd, &fi);
	EXPECT_EQ(self->ib.id, fi.sandbox_id);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(0, fi.call_id);
	EXPECT_STREQ("NONE", fi.call_state);
	EXPECT_EQ(0, fi.calls);
	EXPECT_EQ(0, fi.exited);
	EXPECT_EQ(0, fi.aborted);
	EXPECT_EQ(0, fi.unconsumed);
	EXPECT_EQ(0, dbg_calls_read(self->ib.id, rows, 1));
	EXPECT_EQ(0, dbg_recent_read(self->ib.id, rec, 1));
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
}

/* The names in sysfs directory @dir, sorted, joined by spaces. */
static int list_dir(const char *dir, char *buf, size_t len)
{
	struct dirent **names;
	size_t n = 0;
	int nr, i;

	nr = scandir(dir, &names, NULL, alphasort);
	if (nr < 0)
		return -errno;
	buf[0] = 0;
	for (i = 0; i < nr; i++) {
		if (names[i]->d_name[0] != '.')
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
				      n ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return n < len ? 0 : -E2BIG;
}

/*
 * Exactly the files Documentation/ABI/testing/sysfs-class-misc-callbox
 * lists, each read-only for everyone; debugfs's for root only.
 */
TEST(file_layout)
{
	static const struct {
		const char *dir, *names;
	} dirs[] = {
		{ "calls", "entered exited hostcall queued total" },
		{ "aborted", "bad_port cancelled deadline entry_failed "
			     "guest_abort halt internal_error killed mmio "
			     "owner_exited run_failed sandbox_closed shutdown "
			     "unexpected_exit" },
		{ "kicks", "missed total" },
		{ "limits", "max_calls max_struct_size recent_calls" },
	};
	char path[256], buf[1024], *name, *save;
	struct stat st;
	size_t i;

	if (!path_exists(CALLBOX_SYSFS))
		SKIP(return, "callbox.ko is not loaded");
	ASSERT_EQ(0, stat(CALLBOX_SYSFS "/sandboxes", &st));
	EXPECT_EQ(0444, st.st_mode & 07777);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), CALLBOX_SYSFS "/%s", dirs[i].dir);
		ASSERT_OK(path, list_dir(path, buf, sizeof(buf)));
		EXPECT_STREQ(dirs[i].names, buf);
		for (name = strtok_r(buf, " ", &save); name;
		     name = strtok_r(NULL, " ", &save)) {
			snprintf(path, sizeof(path), CALLBOX_SYSFS "/%s/%s",
				 dirs[i].dir, name);
			ASSERT_EQ(0, stat(path, &st));
			EXPECT_EQ(0444, st.st_mode & 07777) {
				TH_LOG("%s", path);
			}
		}
	}
	if (debugfs_ready())
		return;
	ASSERT_OK(CALLBOX_DEBUGFS, list_dir(CALLBOX_DEBUGFS, buf, sizeof(buf)));
	/* No sandbox lives between tests. */
	EXPECT_STREQ("objects transitions", buf);
	ASSERT_EQ(0, stat(CALLBOX_DEBUGFS "/objects", &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
	ASSERT_EQ(0, stat(CALLBOX_DEBUGFS "/transitions", &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
}

TEST(limits)
{
	uint64_t v;

	if (!path_exists(CALLBOX_SYSFS))
		SKIP(return, "callbox.ko is not loaded");
	ASSERT_OK("limits/max_calls",
		  read_u64(CALLBOX_SYSFS "/limits/max_calls", &v));
	EXPECT_EQ(CALLBOX_MAX_CALLS, v);
	ASSERT_OK("limits/max_struct_size",
		  read_u64(CALLBOX_SYSFS "/limits/max_struct_size", &v));
	EXPECT_EQ(4096, v);	/* "@size above 4096 is always E2BIG" */
	ASSERT_OK("limits/recent_calls",
		  read_u64(CALLBOX_SYSFS "/limits/recent_calls", &v));
	EXPECT_EQ(16, v);	/* CALLBOX_NL_RECENT_CALLS */
}

/* Exactly the state diagram of the uapi header. */
TEST(transition_table)
{
	char buf[1024];

	if (debugfs_ready())
		SKIP(return, "no debugfs, or callbox.ko is not loaded");
	ASSERT_LT(0, read_text(CALLBOX_DEBUGFS "/transitions", buf,
			       sizeof(buf)));
	EXPECT_STREQ("QUEUED   -> ENTERED ABORTED\n"
		     "ENTERED  -> HOSTCALL EXITED ABORTED\n"
		     "HOSTCALL -> ENTERED ABORTED\n"
		     "EXITED   ->\n"
		     "ABORTED  ->\n", buf);
}

/*
 * ==== recent keeps the last 16 calls that ended ====
 */
#define RING_CALLS	20
#define RING_SIZE	16

TEST_F_TIMEOUT(fresh, recent_ring, 60)
{
	static const uint32_t states[] = { S_Q, S_E, S_X };
	struct callbox_call_info c;
	struct dbg_recent rec[RING_SIZE + 1];
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_fdinfo fi;
	uint64_t t0 = now_ns();
	int i, n;

	return_if_setup_skipped();
	script_set(self->ib.b.guest.mem, SCRIPT_DONE);
	for (i = 1; i <= RING_CALLS; i++) {
		call_sync(self->ib.b.fd, 0, &c);
		ASSERT_EQ(S_X, c.state);
		ASSERT_EQ((uint64_t)i, c.id);
	}
	n = dbg_recent_read(self->ib.id, rec, RING_SIZE + 1);
	ASSERT_EQ(RING_SIZE, n);
	for (i = 0; i < n; i++) {
		c.id = RING_CALLS - RING_SIZE + 1 + i;
		expect_recent_is_call(&rec[i], &c);
		expect_recent_states(&rec[i], states, 3, now_ns() - t0);
	}
	fdinfo_read_ok(0, self->ib.b.fd, &fi);
	EXPECT_EQ(RING_CALLS, fi.calls);
	EXPECT_EQ(RING_CALLS, fi.exited);
	EXPECT_EQ(0, fi.aborted);
	EXPECT_EQ(0, fi.unconsumed);
	counters_read_ok(&now);
	d.total = d.exited = RING_CALLS;
	expect_counters(&self->ib.base, &now, &d);
}

/*
 * ==== A reset's init call ====
 *
 * A guest abort poisons the sandbox; RESET queues init call 2 (flag
 * "init"), ahead of everything, and lifts the poison; it then exits.
 */
TEST_F_TIMEOUT(fresh, init_call, 60)
{
	static const uint32_t cancelled_states[] = { S_Q, S_A };
	struct box *b = &self->ib.b;
	struct callbox_call_info c1, c2, c3;
	struct dbg_call rows[4];
	struct dbg_recent rec[4];
	struct cb_fdinfo fi;
	struct cb_counters now, d = { .sandboxes = 1 };
	uint64_t init_id;

	return_if_setup_skipped();
	script_set(b->guest.mem, SCRIPT_ABORT);
	call_sync(b->fd, 0, &c1);	/* consumed: id 1 */
	ASSERT_EQ(S_A, c1.state);
	script_set(b->guest.mem, SCRIPT_DONE);
	ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &init_id));
	ASSERT_EQ(2, init_id);

	call_get(b->fd, 2, &c2);
	EXPECT_EQ(S_Q, c2.state);
	EXPECT_EQ(F_INIT, c2.flags);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(2, fi.call_id);
	EXPECT_STREQ("QUEUED", fi.call_state);
	EXPECT_EQ(2, fi.calls);
	EXPECT_EQ(1, fi.aborted);
	EXPECT_EQ(1, fi.unconsumed);
	ASSERT_EQ(1, dbg_calls_read(self->ib.id, rows, 4));
	expect_row_is_call(&rows[0], &c2);
	EXPECT_STREQ("init", rows[0].flags);
	counters_read_ok(&now);
	d.total = 2;
	d.queued = 1;
	d.aborted[CALLBOX_ABORT_GUEST_ABORT] = 1;
	expect_counters(&self->ib.base, &now, &d);

	call_run(b->fd, 2, 0, &c2);
	EXPECT_EQ(S_X, c2.state);
	EXPECT_EQ(F_INIT | F_RAN, c2.flags);
	ASSERT_EQ(2, dbg_recent_read(self->ib.id, rec, 4));
	expect_recent_is_call(&rec[0], &c1);
	expect_recent_is_call(&rec[1], &c2);
	EXPECT_STREQ("guest_ran,init", rec[1].flags);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(1, fi.exited);
	counters_read_ok(&now);
	d.queued = 0;
	d.exited = 1;
	expect_counters(&self->ib.base, &now, &d);

	/*
	 * An init call that does not exit, even cancelled before it ran,
	 * poisons the sandbox again: flags "poisoned,init", no guest_ran.
	 */
	ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &init_id));
	ASSERT_EQ(3, init_id);
	call_cancel(b->fd, 3);
	call_get(b->fd, 3, &c3);
	EXPECT_EQ(S_A, c3.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c3.reason);
	EXPECT_EQ(F_INIT | F_POIS, c3.flags);
	ASSERT_EQ(3, dbg_recent_read(self->ib.id, rec, 4));
	expect_recent_is_call(&rec[2], &c3);
	EXPECT_STREQ("poisoned,init", rec[2].flags);
	expect_recent_states(&rec[2], cancelled_states, 2, UINT64_MAX);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("poisoned", fi.state);
	EXPECT_EQ(3, fi.calls);
	EXPECT_EQ(2, fi.aborted);
	counters_read_ok(&now);
	d.total = 3;
	d.aborted[CALLBOX_ABORT_CANCELLED] = 1;
	expect_counters(&self->ib.base, &now, &d);
}

/*
 * ==== A full sandbox: 64 init calls and 64 calls, all unconsumed ====
 *
 * Init calls have CALLBOX_MAX_CALLS places of their own: debugfs shows
 * all 128, in order.
 */
TEST_F_TIMEOUT(fresh, full_sandbox, 120)
{
	struct box *b = &self->ib.b;
	struct callbox_call_info c;
	struct dbg_call rows[2 * CALLBOX_MAX_CALLS + 1];
	struct dbg_recent rec[RING_SIZE + 1];
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_fdinfo fi;
	uint64_t id;
	int i, n;

	return_if_setup_skipped();
	script_set(b->guest.mem, SCRIPT_DONE);
	for (i = 1; i <= CALLBOX_MAX_CALLS; i++) {
		ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &id));
		ASSERT_EQ((uint64_t)i, id);
		call_run(b->fd, id, 0, &c);
		ASSERT_EQ(S_X, c.state);
	}
	EXPECT_EQ(-EAGAIN, raw_guest_rewind(&b->guest, b->run, b->fd, &id));
	for (i = 1; i <= CALLBOX_MAX_CALLS; i++) {
		call_submit(b->fd, 0, &id);
		ASSERT_EQ((uint64_t)(CALLBOX_MAX_CALLS + i), id);
	}
	call_submit_err(EAGAIN, b->fd, 0, &id);

	n = dbg_calls_read(self->ib.id, rows, 2 * CALLBOX_MAX_CALLS + 1);
	ASSERT_EQ(2 * CALLBOX_MAX_CALLS, n);
	for (i = 0; i < n; i++) {
		bool init = i < CALLBOX_MAX_CALLS;

		EXPECT_EQ((uint64_t)i + 1, rows[i].id);
		EXPECT_STREQ(init ? "EXITED" : "QUEUED", rows[i].state);
		EXPECT_STREQ(init ? "guest_ran,init" : "-", rows[i].flags);
	}
	n = dbg_recent_read(self->ib.id, rec, RING_SIZE + 1);
	ASSERT_EQ(RING_SIZE, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ((uint64_t)(CALLBOX_MAX_CALLS - RING_SIZE + 1 + i),
			  rec[i].id);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(CALLBOX_MAX_CALLS + 1, fi.call_id);
	EXPECT_STREQ("QUEUED", fi.call_state);
	EXPECT_EQ(2 * CALLBOX_MAX_CALLS, fi.calls);
	EXPECT_EQ(CALLBOX_MAX_CALLS, fi.exited);
	EXPECT_EQ(2 * CALLBOX_MAX_CALLS, fi.unconsumed);
	counters_read_ok(&now);
	d.total = 2 * CALLBOX_MAX_CALLS;
	d.exited = CALLBOX_MAX_CALLS;
	d.queued = CALLBOX_MAX_CALLS;
	expect_counters(&self->ib.base, &now, &d);

	ibox_close_fd(&self->ib);
	counters_read_ok(&now);
	d.sandboxes = 0;
	d.queued = 0;
	d.aborted[CALLBOX_ABORT_SANDBOX_CLOSED] = CALLBOX_MAX_CALLS;
	expect_counters(&self->ib.base, &now, &d);
	expect_gone(_metadata, &self->ib);
}

/*
 * A call dropped before it was published: CALL_SYNC wrote its id back
 * (the write stalled meanwhile), then found kvm_run.immediate_exit set
 * and failed with EINTR. It was never seen: no count, no object, no row;
 * its id is used up (ESRCH), and the next call, id 2, is the first one
 * counted.
 */
TEST_F_TIMEOUT(fresh, dropped_call_leaves_nothing, 60)
{
	struct box *b = &self->ib.b;
	struct callbox_call_sync *cmd;
	struct callbox_call_info c;
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_objects o;
	struct cb_fdinfo fi;
	struct dbg_call rows[2];
	struct dbg_recent rec[2];
	struct stall st;

	return_if_setup_skipped();
	stall_open(_metadata, &st);
	return_if_setup_skipped();
	cmd = st.page;
	*cmd = (struct callbox_call_sync) { .size = sizeof(*cmd) };
	script_set(b->guest.mem, SCRIPT_DONE);
	stall_arm(&st);
	stall_ioctl(&st, b->fd, CALLBOX_CALL_SYNC);
	ASSERT_TRUE(stall_wait(&st, 5000));
	b->run->immediate_exit = 1;
	stall_release(&st);
	ASSERT_TRUE(stall_ioctl_join(&st, 5000));
	b->run->immediate_exit = 0;
	EXPECT_EQ(-EINTR, st.ret);
	EXPECT_EQ(1, cmd->out.id);

	call_get_err(ESRCH, b->fd, 1, &c);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_EQ(0, fi.calls);
	EXPECT_EQ(0, fi.unconsumed);
	EXPECT_EQ(0, fi.call_id);
	EXPECT_EQ(0, dbg_calls_read(self->ib.id, rows, 2));
	EXPECT_EQ(0, dbg_recent_read(self->ib.id, rec, 2));
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	objects_read_ok(&o);
	EXPECT_EQ(self->ib.obj_base.calls, o.calls);

	call_sync(b->fd, 0, &c);
	EXPECT_EQ(2, c.id);
	EXPECT_EQ(S_X, c.state);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_EQ(1, fi.calls);
	EXPECT_EQ(1, fi.exited);
	ASSERT_EQ(1, dbg_recent_read(self->ib.id, rec, 2));
	expect_recent_is_call(&rec[0], &c);
	d.total = d.exited = 1;
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	stall_close(_metadata, &st, -1);
}

/*
 * A call left in HOSTCALL by a thread that then exits ends OWNER_EXITED
 * even if no one looks at the sandbox: the module-wide counters, which
 * look at no sandbox, see it within about 100 ms (the reap work).
 */
TEST_F_TIMEOUT(fresh, reaped_without_looking, 60)
{
	struct tid_runner r = { .fd = self->ib.b.fd, .sync = true };
	struct cb_counters now, d = { .sandboxes = 1, .total = 1 };
	uint64_t t0;

	return_if_setup_skipped();
	script_set(self->ib.b.guest.mem, SCRIPT_HOSTCALL);
	tid_runner_start(&r);
	ASSERT_TRUE(tid_runner_join(&r, 10000));
	ASSERT_EQ(0, r.ret);
	ASSERT_EQ(S_H, r.c.state);
	t0 = now_ns();
	ASSERT_TRUE(WAIT_FOR(!counters_read(&now) &&
			     now.hostcall == self->ib.base.hostcall));
	TH_LOG("counted as ended %llu ms after the owner was joined",
	       (unsigned long long)(now_ns() - t0) / MS);
	EXPECT_GT(1000 * MS, now_ns() - t0);
	d.aborted[CALLBOX_ABORT_OWNER_EXITED] = 1;
	expect_counters(&self->ib.base, &now, &d);
}

TEST_F(fresh, dup_then_close)
{
	struct cb_counters now, d = { .sandboxes = 1 };
	int fd2;

	return_if_setup_skipped();
	fd2 = dup(self->ib.b.fd);
	ASSERT_LE(0, fd2);
	ibox_close_fd(&self->ib);
	EXPECT_TRUE(sandbox_dir_exists(self->ib.id));
	EXPECT_EQ(self->ib.id, sandbox_id_of(fd2));
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	close(fd2);
	d.sandboxes = 0;
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	expect_gone(_metadata, &self->ib);
}

/* Ids are never reused: the next sandbox, on the same vCPU, gets a new one. */
TEST_F(fresh, ids_not_reused)
{
	struct box *b = &self->ib.b;
	uint64_t first = self->ib.id, next;
	int i;

	return_if_setup_skipped();
	for (i = 0; i < 5; i++) {
		ibox_close_fd(&self->ib);
		EXPECT_FALSE(sandbox_dir_exists(first));
		b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				       b->guest.vm.vcpu_fd);
		next = sandbox_id_of(b->fd);
		EXPECT_LT(first, next);
		EXPECT_TRUE(sandbox_dir_exists(next));
		first = next;
	}
}

/*
 * A debugfs file opened while the sandbox lived, read after it is gone:
 * an error (debugfs refuses files of removed entries), never the freed
 * sandbox.
 */
TEST_F(fresh, debugfs_open_across_close)
{
	char path[128], buf[4096];
	int calls_fd, recent_fd;
	uint64_t id;

	return_if_setup_skipped();
	call_submit(self->ib.b.fd, 0, &id);
	snprintf(path, sizeof(path), CALLBOX_DEBUGFS "/%" PRIu64 "/calls",
		 self->ib.id);
	calls_fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, calls_fd);
	snprintf(path, sizeof(path), CALLBOX_DEBUGFS "/%" PRIu64 "/recent",
		 self->ib.id);
	recent_fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, recent_fd);

	ibox_close_fd(&self->ib);
	EXPECT_FALSE(sandbox_dir_exists(self->ib.id));
	EXPECT_EQ(-1, read(calls_fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, read(recent_fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	close(calls_fd);
	close(recent_fd);
	expect_gone(_metadata, &self->ib);
}

/*
 * A failed ioctl has no side effect: not on the counters, not on the
 * objects. A struct that can be read but not written back fails with
 * EFAULT after the kernel did its work: SANDBOX_CREATE's sandbox and
 * SUBMIT's call must vanish without a trace.
 */
TEST_F(fresh, failed_ioctls_leave_nothing)
{
	struct box *b = &self->ib.b;
	struct callbox_sandbox_create *cr;
	struct callbox_call_submit *sub;
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_objects o;
	struct cb_fdinfo fi;
	void *page;

	return_if_setup_skipped();
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	cr = page;
	sub = (void *)((char *)page + 256);
	*cr = (struct callbox_sandbox_create) {
		.size = sizeof(*cr), .vm_fd = b->guest.vm.vm_fd,
		.vcpu_fd = b->guest.vm.vcpu_fd,
	};
	*sub = (struct callbox_call_submit) { .size = sizeof(*sub) };
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));

	/* The vCPU is bound: unbind it first so that CREATE gets far. */
	ibox_close_fd(&self->ib);
	EXPECT_EQ(-1, ioctl(b->dev_fd, CALLBOX_SANDBOX_CREATE, cr));
	EXPECT_EQ(EFAULT, errno);
	counters_read_ok(&now);
	d.sandboxes = 0;
	expect_counters(&self->ib.base, &now, &d);
	objects_read_ok(&o);
	EXPECT_EQ(self->ib.obj_base.sandboxes, o.sandboxes);
	EXPECT_EQ(self->ib.obj_base.calls, o.calls);

	/* A new sandbox, and a SUBMIT whose id cannot be written back. */
	b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
			       b->guest.vm.vcpu_fd);
	EXPECT_EQ(-1, ioctl(b->fd, CALLBOX_CALL_SUBMIT, sub));
	EXPECT_EQ(EFAULT, errno);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_EQ(0, fi.calls);
	EXPECT_EQ(0, fi.unconsumed);
	counters_read_ok(&now);
	d.sandboxes = 1;
	expect_counters(&self->ib.base, &now, &d);
	objects_read_ok(&o);
	EXPECT_EQ(self->ib.obj_base.sandboxes + 1, o.sandboxes);
	EXPECT_EQ(self->ib.obj_base.calls, o.calls);
	munmap(page, 4096);
}
TEST_HARNESS_MAIN

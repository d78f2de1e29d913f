// SPDX-License-Identifier: GPL-2.0
/*
 * Every allocation inside each callbox entry point, failed in turn: the
 * technique syzkaller uses. Writing N to /proc/thread-self/fail-nth makes
 * the Nth fail-able allocation of this thread's next system calls fail;
 * reading it back gives 0 once that failure was injected. So for each
 * entry point, with N = 1, 2, ...: bring a fresh sandbox to where the
 * entry point starts, arm fail-nth, make exactly one system call, disarm,
 * and check the kernel contract:
 *
 *  - the call succeeded, or failed with a clean errno (ENOMEM: nothing
 *    else may leak out of an allocation failure). A call that ran ended
 *    as the guest made it, or ABORTED with RUN_FAILED and ENOMEM when
 *    the failed allocation was KVM_RUN's own; a new sandbox works;
 *  - a failed call had no side effect: no sandbox, fd or call appeared,
 *    the counters did not move, the vCPU is still free, the call it
 *    acted on is where it was;
 *  - once the sandbox is closed, the module's object counters are back
 *    where they started (kmemleak, scanned by tools/vm/run.sh at the end
 *    of the VM run, catches what they do not count);
 *
 * until an N is not reached: the call then made fewer allocations, each
 * of which was failed once. dmesg stays clean (tools/vm/run.sh).
 *
 * The entry points: SANDBOX_CREATE, close, CALL_SYNC, CALL_SUBMIT,
 * CALL_RUN (a new call, and continuing one after a host call),
 * CALL_BATCH, CALL_WAIT, CALL_GET, CALL_CANCEL, SANDBOX_RESET,
 * SANDBOX_SHUTDOWN, SANDBOX_RESTORE's BEGIN and COMMIT, and the netlink
 * family's SANDBOX_GET (do and dump); each also with a netlink events
 * listener,
 * whose events are recorded on the path of every transition (and built
 * into messages by a work item, in another thread). Arming a deadline
 * timer and queueing a kick allocate nothing (hrtimer_start(),
 * task_work_add() with an embedded callback_head), so there is nothing
 * to fail there: the calls with deadlines and cancels still go through
 * them here. close, WAIT, GET, CANCEL, SHUTDOWN and RESTORE allocate
 * nothing in the calling thread today (on the debug kernel, December
 * 2026): for them the loop stops at N = 1, and would go on if they
 * started to.
 *
 * Needs a kernel with CONFIG_FAULT_INJECTION and CONFIG_FAILSLAB (the
 * debug lane: make check-debug); skips elsewhere.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "inspect_util.h"
#include "nl_sandbox_util.h"
#include "nl_events_util.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FAILSLAB	"/sys/kernel/debug/failslab"
/* No entry point makes anywhere near this many allocations. */
#define MAX_NTH		200

enum fault_op {
	OP_CREATE,
	OP_CLOSE,
	OP_SYNC,
	OP_SUBMIT,
	OP_RUN,
	OP_RUN_AFTER_HOSTCALL,
	OP_BATCH,
	OP_WAIT,
	OP_GET,
	OP_CANCEL,
	OP_RESET,
	OP_SHUTDOWN,
	OP_RESTORE_BEGIN,
	OP_RESTORE_COMMIT,
	OP_NL_GET,
	OP_NL_DUMP,
};

FIXTURE(fail_nth) {
	int dev_fd;
	int fail_fd;
	struct cb_objects base;
	struct cbnl_events events;
};

FIXTURE_VARIANT(fail_nth) {
	enum fault_op op;
	bool listen;
};

#define FAIL_NTH_VARIANT(name, _op)					\
	FIXTURE_VARIANT_ADD(fail_nth, name) { .op = _op };		\
	FIXTURE_VARIANT_ADD(fail_nth, name##_listened) {		\
		.op = _op, .listen = true,				\
	}

FAIL_NTH_VARIANT(create, OP_CREATE);
FAIL_NTH_VARIANT(close, OP_CLOSE);
FAIL_NTH_VARIANT(sync, OP_SYNC);
FAIL_NTH_VARIANT(submit, OP_SUBMIT);
FAIL_NTH_VARIANT(run, OP_RUN);
FAIL_NTH_VARIANT(run_after_hostcall, OP_RUN_AFTER_HOSTCALL);
FAIL_NTH_VARIANT(batch, OP_BATCH);
FAIL_NTH_VARIANT(wait, OP_WAIT);
FAIL_NTH_VARIANT(get, OP_GET);
FAIL_NTH_VARIANT(cancel, OP_CANCEL);
FAIL_NTH_VARIANT(reset, OP_RESET);
FAIL_NTH_VARIANT(shutdown, OP_SHUTDOWN);
FAIL_NTH_VARIANT(restore_begin, OP_RESTORE_BEGIN);
FAIL_NTH_VARIANT(restore_commit, OP_RESTORE_COMMIT);
FAIL_NTH_VARIANT(nl_get, OP_NL_GET);
FAIL_NTH_VARIANT(nl_dump, OP_NL_DUMP);

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

FIXTURE_SETUP(fail_nth)
{
	self->dev_fd = -1;
	self->fail_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (self->fail_fd < 0)
		SKIP(return, "%s: %s (needs CONFIG_FAULT_INJECTION: make check-debug)",
		     FAIL_NTH, strerror(errno));
	if (access(FAILSLAB, F_OK))
		SKIP(return, "%s is missing (needs CONFIG_FAILSLAB and debugfs)",
		     FAILSLAB);
	/*
	 * failslab skips allocations that may sleep unless told otherwise:
	 * nearly all of ours. Injected failures are silent (verbose 0), so
	 * that any stack trace in dmesg is a real report.
	 */
	ASSERT_OK("failslab ignore-gfp-wait",
		  write_str(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_OK("failslab verbose", write_str(FAILSLAB "/verbose", "0"));
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	return_if_setup_skipped();
	objects_read_ok(&self->base);
	if (variant->listen)
		ASSERT_OK("joining the events group",
			  cbnl_events_open(&self->events, 1 << 20));
}

FIXTURE_TEARDOWN(fail_nth)
{
	if (self->events.sk)
		cbnl_events_close(&self->events);
	if (self->dev_fd >= 0)
		close(self->dev_fd);
	if (self->fail_fd >= 0)
		close(self->fail_fd);
}

/* Fail the @nth fail-able allocation of this thread from now on. */
static void fail_nth_arm(struct __test_metadata *_metadata, int fd,
			 unsigned int nth)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", nth);
	ASSERT_EQ((ssize_t)strlen(buf), pwrite(fd, buf, strlen(buf), 0));
}

/* Disarm; true if the failure was injected since fail_nth_arm(). */
static bool fail_nth_disarm(struct __test_metadata *_metadata, int fd)
{
	char buf[16] = "";
	long left;

	ASSERT_LT(0, pread(fd, buf, sizeof(buf) - 1, 0));
	left = strtol(buf, NULL, 10);
	ASSERT_EQ(1, pwrite(fd, "0", 1, 0));
	return left == 0;
}

/* The lowest free fd: what the next fd the kernel hands out will be. */
static int next_fd(void)
{
	int fd = dup(0), ret = fd;

	if (fd >= 0)
		close(fd);
	return ret;
}

struct step {
	struct raw_guest guest;
	int sb_fd;
	uint64_t id;
	uint64_t batch_ids[2];		/* BATCH's calls; id is the first */
	uint64_t restore_id;		/* the restore COMMIT ends */
	struct cb_counters before;
	struct callbox_call_info call_before;
	struct callbox_call_info out;	/* what a SYNC, RUN or BATCH returned */
	uint32_t batch_done;		/* BATCH's @done, written back */
};

static int restore_step(int sb_fd, uint32_t op, uint64_t *id)
{
	struct callbox_sandbox_restore cmd = {
		.size = sizeof(cmd), .op = op, .id = *id,
	};

	if (ioctl(sb_fd, CALLBOX_SANDBOX_RESTORE, &cmd))
		return -errno;
	*id = cmd.id;
	return 0;
}

/* A call runs, so no restore is in progress and the guest is ready. */
static void expect_call_runs(struct __test_metadata *_metadata, int sb_fd)
{
	struct callbox_call_info out;

	EXPECT_EQ(0, _call_sync(sb_fd, 0, &out));
	EXPECT_EQ(CALLBOX_STATE_EXITED, out.state);
	EXPECT_EQ(SCRIPT_STATUS, out.status);
}

/* Bring a fresh sandbox to where @op starts; no fault is armed. */
static void step_prepare(struct __test_metadata *_metadata,
			 FIXTURE_DATA(fail_nth) *self, enum fault_op op,
			 struct step *s)
{
	struct callbox_call_info out;

	memset(s, 0, sizeof(*s));
	s->sb_fd = -1;
	raw_guest_create_ok(&s->guest, guest_script, sizeof(guest_script));
	script_set(s->guest.mem, SCRIPT_DONE);
	if (op != OP_CREATE)
		s->sb_fd = sandbox_create(self->dev_fd, s->guest.vm.vm_fd,
					  s->guest.vm.vcpu_fd);
	switch (op) {
	case OP_RUN:
	case OP_CANCEL:
	case OP_SHUTDOWN:
		/* A deadline, so that its timer is armed and disarmed. */
		call_submit(s->sb_fd, now_ns() + 60000 * MS, &s->id);
		break;
	case OP_BATCH:
		call_submit(s->sb_fd, 0, &s->batch_ids[0]);
		call_submit(s->sb_fd, 0, &s->batch_ids[1]);
		s->id = s->batch_ids[0];
		break;
	case OP_RESTORE_COMMIT:
		ASSERT_EQ(0, restore_step(s->sb_fd, CALLBOX_RESTORE_BEGIN,
					  &s->restore_id));
		break;
	case OP_RUN_AFTER_HOSTCALL:
		script_set(s->guest.mem, SCRIPT_HOSTCALL);
		call_submit(s->sb_fd, 0, &s->id);
		call_run(s->sb_fd, s->id, 0, &out);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, out.state);
		break;
	case OP_WAIT:
	case OP_GET:
		call_submit(s->sb_fd, 0, &s->id);
		call_run(s->sb_fd, s->id, 0, &out);
		ASSERT_EQ(CALLBOX_STATE_EXITED, out.state);
		break;
	default:
		break;
	}
	counters_read_ok(&s->before);
	if (s->id)
		call_get(s->sb_fd, s->id, &s->call_before);
}

/* The one system call under fault injection: 0 or -errno. */
static int step_op(FIXTURE_DATA(fail_nth) *self, enum fault_op op,
		   struct step *s, struct cbnl *nl, struct nl_msg *msg)
{
	struct callbox_call_batch batch = {
		.size = sizeof(batch), .ids = (uintptr_t)s->batch_ids, .nr = 2,
	};
	struct callbox_call_info out;
	uint64_t id = 0;
	int ret;

	switch (op) {
	case OP_CREATE:
		ret = _sandbox_create(self->dev_fd, s->guest.vm.vm_fd,
				      s->guest.vm.vcpu_fd);
		if (ret >= 0)
			s->sb_fd = ret;
		return ret < 0 ? ret : 0;
	case OP_CLOSE:
		ret = close(s->sb_fd) ? -errno : 0;
		s->sb_fd = -1;
		return ret;
	case OP_SYNC:
		return _call_sync(s->sb_fd, now_ns() + 60000 * MS, &s->out);
	case OP_SUBMIT:
		return _call_submit(s->sb_fd, now_ns() + 60000 * MS, &id);
	case OP_RUN:
	case OP_RUN_AFTER_HOSTCALL:
		return _call_run(s->sb_fd, s->id, 0, &s->out);
	case OP_BATCH:
		ret = ioctl(s->sb_fd, CALLBOX_CALL_BATCH, &batch) ? -errno : 0;
		s->out = batch.out;
		s->batch_done = batch.done;
		return ret;
	case OP_WAIT:
		return _call_wait(s->sb_fd, s->id, 0, &out);
	case OP_GET:
		return _call_get(s->sb_fd, s->id, &out);
	case OP_CANCEL:
		return _call_cancel(s->sb_fd, s->id);
	case OP_RESET:
		return _sandbox_reset(s->sb_fd, 0, &id);
	case OP_SHUTDOWN:
		return _sandbox_shutdown(s->sb_fd);
	case OP_RESTORE_BEGIN:
		return restore_step(s->sb_fd, CALLBOX_RESTORE_BEGIN,
				    &s->restore_id);
	case OP_RESTORE_COMMIT:
		return restore_step(s->sb_fd, CALLBOX_RESTORE_COMMIT,
				    &s->restore_id);
	case OP_NL_GET:
	case OP_NL_DUMP:
		ret = nl_send_auto(nl->sk, msg);
		if (ret >= 0)
			return 0;
		return ret == -NLE_NOMEM ? -ENOMEM : -EPROTO;
	}
	return -EINVAL;
}

/* After @op failed: nothing it would have done is there. */
static void step_unchanged(struct __test_metadata *_metadata,
			   FIXTURE_DATA(fail_nth) *self, enum fault_op op,
			   struct step *s, int fd_before)
{
	struct callbox_call_info now;
	struct cb_counters c;
	struct cb_objects o;
	int fd;

	counters_read_ok(&c);
	EXPECT_EQ(s->before.sandboxes, c.sandboxes);
	EXPECT_EQ(s->before.total, c.total);
	EXPECT_EQ(s->before.queued, c.queued);
	EXPECT_EQ(s->before.exited, c.exited);
	objects_read_ok(&o);
	switch (op) {
	case OP_CREATE:
		EXPECT_EQ(fd_before, next_fd());
		EXPECT_EQ(self->base.sandboxes, o.sandboxes);
		/* The vCPU was not left claimed. */
		fd = sandbox_create(self->dev_fd, s->guest.vm.vm_fd,
				    s->guest.vm.vcpu_fd);
		close(fd);
		break;
	case OP_RUN:
	case OP_RUN_AFTER_HOSTCALL:
	case OP_WAIT:
	case OP_GET:
	case OP_CANCEL:
	case OP_SHUTDOWN:
		call_get(s->sb_fd, s->id, &now);
		EXPECT_EQ(s->call_before.state, now.state);
		EXPECT_EQ(s->call_before.flags, now.flags);
		break;
	case OP_BATCH:
		/*
		 * The calls before @done ran to EXITED; the one at @done was
		 * not entered (the input 0 if @done was never written).
		 */
		ASSERT_GT(2, s->batch_done);
		if (s->batch_done)
			EXPECT_EQ(CALLBOX_STATE_EXITED,
				  call_state(s->sb_fd, s->batch_ids[0]));
		EXPECT_EQ(CALLBOX_STATE_QUEUED,
			  call_state(s->sb_fd, s->batch_ids[s->batch_done]));
		break;
	case OP_RESTORE_BEGIN:
		/* No restore began: nothing fences the next call. */
		expect_call_runs(_metadata, s->sb_fd);
		break;
	case OP_RESTORE_COMMIT:
		/* The restore goes on, and can still be committed. */
		EXPECT_EQ(-EBUSY, _call_sync(s->sb_fd, 0, &now));
		EXPECT_EQ(0, restore_step(s->sb_fd, CALLBOX_RESTORE_COMMIT,
					  &s->restore_id));
		expect_call_runs(_metadata, s->sb_fd);
		break;
	default:
		break;
	}
}

/*
 * After @op succeeded under fault injection: a call that ran ended as
 * the guest made it, or, if KVM_RUN itself could not allocate (KVM's MMU
 * caches are filled on entry), ABORTED with RUN_FAILED and ENOMEM; a new
 * sandbox works. Returns true for a RUN_FAILED call.
 */
static bool step_succeeded(struct __test_metadata *_metadata,
			   enum fault_op op, struct step *s)
{
	struct callbox_call_info out;
	uint64_t id = s->restore_id;

	switch (op) {
	case OP_CREATE:
		call_sync(s->sb_fd, 0, &out);
		EXPECT_EQ(CALLBOX_STATE_EXITED, out.state);
		EXPECT_EQ(SCRIPT_STATUS, out.status);
		return false;
	case OP_BATCH:
		/* Both ran, or it stopped at the call KVM_RUN failed. */
		if (s->out.state == CALLBOX_STATE_EXITED)
			EXPECT_EQ(2, s->batch_done);
		/* fall through */
	case OP_SYNC:
	case OP_RUN:
	case OP_RUN_AFTER_HOSTCALL:
		if (s->out.state == CALLBOX_STATE_ABORTED) {
			EXPECT_EQ(CALLBOX_ABORT_RUN_FAILED, s->out.reason);
			EXPECT_EQ((uint64_t)-ENOMEM, s->out.detail);
			/* KVM reported no exit: KVM_EXIT_UNKNOWN. */
			EXPECT_EQ(0, s->out.exit_reason);
			return true;
		}
		EXPECT_EQ(CALLBOX_STATE_EXITED, s->out.state);
		EXPECT_EQ(SCRIPT_STATUS, s->out.status);
		return false;
	case OP_SHUTDOWN:
		call_get(s->sb_fd, s->id, &out);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, out.state);
		return false;
	case OP_RESTORE_BEGIN:
		/* A restore began: it fences calls until it is committed. */
		EXPECT_EQ(-EBUSY, _call_sync(s->sb_fd, 0, &out));
		EXPECT_EQ(0, restore_step(s->sb_fd, CALLBOX_RESTORE_COMMIT,
					  &id));
		expect_call_runs(_metadata, s->sb_fd);
		return false;
	case OP_RESTORE_COMMIT:
		expect_call_runs(_metadata, s->sb_fd);
		return false;
	default:
		return false;
	}
}

/* Everything of the step gone, the module's objects back where they were. */
static void step_finish(struct __test_metadata *_metadata,
			FIXTURE_DATA(fail_nth) *self, struct step *s)
{
	struct cb_objects o;

	if (s->sb_fd >= 0)
		close(s->sb_fd);
	raw_guest_destroy(&s->guest);
	EXPECT_TRUE(WAIT_FOR(!objects_read(&o) &&
			     o.sandboxes == self->base.sandboxes &&
			     o.calls == self->base.calls)) {
		TH_LOG("objects: %ld sandboxes, %ld calls; %ld and %ld before",
		       o.sandboxes, o.calls, self->base.sandboxes,
		       self->base.calls);
	}
}

/* The reply to a netlink request sent under fault injection. */
static void nl_finish(struct __test_metadata *_metadata, enum fault_op op,
		      int sent, struct cbnl *nl, uint64_t sb_id)
{
	struct cbnl_sandbox *sb;
	struct cbnl_dump d;
	struct cbnl_reply r;
	int ret, count;

	if (!sent) {
		ret = cbnl_read_reply(nl, NULL, NULL, &r);
		/*
		 * What an allocation failure may say: ENOMEM from the
		 * family, or ENOBUFS when netlink could not queue the
		 * answer (libnl's NLE_NOMEM).
		 */
		if (ret == -EPROTO && r.nl_ret == -NLE_NOMEM)
			ret = -ENOBUFS;
		if (ret && ret != -ENOMEM && ret != -ENOBUFS)
			EXPECT_EQ(0, ret) {
				TH_LOG("reply: %s (libnl %d), extack '%s'",
				       strerror(-ret), r.nl_ret, r.msg);
			}
	}
	/* The family still answers, on a fresh socket. */
	cbnl_close(nl);
	cbnl_open_ok(nl);
	if (op == OP_NL_GET) {
		sb = cbnl_get_ok(nl, sb_id);
		free(sb);
	} else {
		memset(&d, 0, sizeof(d));
		EXPECT_EQ(0, cbnl_dump(nl, &d));
		cbnl_dump_find(&d, sb_id, &count);
		EXPECT_EQ(1, count);
		cbnl_dump_free(&d);
	}
}

TEST_F_TIMEOUT(fail_nth, every_allocation, 600)
{
	enum fault_op op = variant->op;
	unsigned int nth, failed = 0, run_failed = 0;
	struct cbnl nl = { 0 };
	struct nl_msg *msg = NULL;
	bool injected = true;
	struct step s;
	uint64_t sb_id = 0;
	int ret, fd_before;

	return_if_setup_skipped();
	for (nth = 1; injected && nth <= MAX_NTH; nth++) {
		step_prepare(_metadata, self, op, &s);
		if (op == OP_NL_GET || op == OP_NL_DUMP) {
			cbnl_open_ok(&nl);
			sb_id = sandbox_id_of(s.sb_fd);
			msg = cbnl_get_msg(&nl, op == OP_NL_DUMP);
			ASSERT_NE(NULL, msg);
			if (op == OP_NL_GET)
				ASSERT_EQ(0, nla_put_u64(msg, CALLBOX_NL_A_SANDBOX_ID,
							 sb_id));
		}
		fd_before = next_fd();

		fail_nth_arm(_metadata, self->fail_fd, nth);
		ret = step_op(self, op, &s, &nl, msg);
		injected = fail_nth_disarm(_metadata, self->fail_fd);

		if (msg) {
			nlmsg_free(msg);
			msg = NULL;
		}
		if (ret) {
			failed++;
			EXPECT_EQ(-ENOMEM, ret) {
				TH_LOG("allocation %u failed: the call said %s",
				       nth, strerror(-ret));
			}
			EXPECT_TRUE(injected) {
				TH_LOG("no failure injected, yet %s",
				       strerror(-ret));
			}
			if (op != OP_NL_GET && op != OP_NL_DUMP)
				step_unchanged(_metadata, self, op, &s,
					       fd_before);
		} else if (injected) {
			run_failed += step_succeeded(_metadata, op, &s);
		}
		if (op == OP_NL_GET || op == OP_NL_DUMP) {
			nl_finish(_metadata, op, ret, &nl, sb_id);
			cbnl_close(&nl);
		}
		if (self->events.sk)
			cbnl_events_read(&self->events, 0, NULL, NULL);
		step_finish(_metadata, self, &s);
		if (!_metadata->passed)
			break;
	}
	EXPECT_FALSE(injected) {
		TH_LOG("still allocating after %u allocations", MAX_NTH);
	}
	TH_LOG("%u allocations failed in turn: the call failed %u times, and KVM_RUN %u times",
	       nth - 2, failed, run_failed);
}

TEST_HARNESS_MAIN

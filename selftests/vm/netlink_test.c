// SPDX-License-Identifier: GPL-2.0
/*
 * The "callbox" generic netlink family, through libnl-genl-3: what
 * SANDBOX_GET and its dump say of a sandbox and its calls, checked
 * against the ioctls (CALLBOX_CALL_GET) and the clock, with each call held
 * deterministically in one state (QUEUED: submitted, no runner; ENTERED:
 * a spinning guest run by a thread of ours; HOSTCALL; ended). What a
 * malformed request gets is netlink_malformed_test's.
 */
#include "nl_sandbox_util.h"

#define S_Q	CALLBOX_STATE_QUEUED
#define S_E	CALLBOX_STATE_ENTERED
#define S_X	CALLBOX_STATE_EXITED
#define S_A	CALLBOX_STATE_ABORTED
#define S_H	CALLBOX_STATE_HOSTCALL
#define BIT_OF(a)	(1u << (a))

FIXTURE(sandbox) {
	struct box b;
	struct cbnl nl;
	uint64_t id;		/* the sandbox's */
	uint64_t created_before, created_after;
	struct cbnl_runner runner;
};

FIXTURE_SETUP(sandbox)
{
	self->nl.sk = NULL;
	self->runner.started = false;
	self->created_before = now_ns();
	box_open(_metadata, &self->b, guest_script, sizeof(guest_script),
		 true);
	return_if_setup_skipped();
	self->created_after = now_ns();
	self->id = cbnl_sandbox_id(self->b.fd);
	ASSERT_NE(0, self->id);
	cbnl_open_ok(&self->nl);
}

FIXTURE_TEARDOWN(sandbox)
{
	/* A runner left spinning: shutting the sandbox down ends its call. */
	if (self->runner.started) {
		if (self->b.fd >= 0)
			_sandbox_shutdown(self->b.fd);
		cbnl_runner_join(&self->runner, 10000);
	}
	cbnl_close(&self->nl);
	box_close(&self->b);
}

static void runner_start(struct __test_metadata *_metadata,
			 struct cbnl_runner *r, int fd, uint64_t deadline_ns)
{
	r->fd = fd;
	r->deadline_ns = deadline_ns;
	cbnl_runner_start(r);
}

static void runner_join(struct __test_metadata *_metadata,
			struct cbnl_runner *r)
{
	ASSERT_TRUE(cbnl_runner_join(r, 10000)) {
		TH_LOG("the runner is still in CALL_SYNC after 10 s");
	}
}

/*
 * What the sandbox-level attributes must be, in a GET or a dump entry
 * alike. @present is exactly the set that must be there.
 */
struct want_sb {
	uint32_t present;
	uint32_t state;
	uint64_t calls, exited, aborted, current_call;
};

#define expect_sandbox(sb, self, w, t_asked_after)			\
	do {								\
		EXPECT_EQ((w)->present, (sb)->present);			\
		EXPECT_EQ((self)->id, (sb)->id);			\
		EXPECT_EQ((uint32_t)getpid(), (sb)->owner_pid);		\
		EXPECT_EQ((uint32_t)geteuid(), (sb)->owner_uid);	\
		EXPECT_EQ((w)->state, (sb)->state);			\
		EXPECT_EQ((w)->calls, (sb)->calls);			\
		EXPECT_EQ((w)->exited, (sb)->exited);			\
		EXPECT_EQ((w)->aborted, (sb)->aborted);			\
		EXPECT_EQ((w)->current_call, (sb)->current_call);	\
		/* Created between the two stamps, read before the last. */ \
		EXPECT_GE((t_asked_after) - (self)->created_before,	\
			  (sb)->age_ns);				\
		EXPECT_LT(0, (sb)->age_ns);				\
	} while (0)

/* @c agrees with what CALLBOX_CALL_GET says of the same call now. */
#define expect_as_ioctl(fd, c)						\
	do {								\
		struct callbox_call_info __ci;				\
									\
		call_get(fd, (c)->id, &__ci);				\
		EXPECT_EQ(__ci.state, (c)->state);			\
		EXPECT_EQ(__ci.reason, (c)->reason);			\
		EXPECT_EQ(__ci.flags, (c)->flags);			\
	} while (0)

/*
 * @c's transitions are @states, in that order, at non-decreasing times,
 * the first at or after @t_first; its age is the whole span if @ended.
 */
static void expect_transitions(struct __test_metadata *_metadata,
			       const struct cbnl_call *c,
			       const uint32_t *states, uint32_t total,
			       uint64_t t_first, bool ended)
{
	uint32_t n = total < CALLBOX_NL_MAX_TRANSITIONS ?
		     total : CALLBOX_NL_MAX_TRANSITIONS;
	uint32_t i;

	EXPECT_EQ(total, c->transitions);
	ASSERT_EQ(n, c->nr_trans);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(states[i], c->trans[i].state) {
			TH_LOG("call %llu, transition %u",
			       (unsigned long long)c->id, i);
		}
		if (i)
			EXPECT_LE(c->trans[i - 1].time_ns, c->trans[i].time_ns);
	}
	EXPECT_LE(t_first, c->trans[0].time_ns);
	if (ended)
		EXPECT_EQ(c->trans[n - 1].time_ns - c->trans[0].time_ns,
			  c->age_ns);
}

/* The dump lists the sandbox once, with the GET's sandbox attributes. */
static void expect_dump_as_get(struct __test_metadata *_metadata,
			       FIXTURE_DATA(sandbox) *self,
			       const struct cbnl_sandbox *get)
{
	struct cbnl_dump d = { 0 };
	struct cbnl_sandbox_head *h;
	uint64_t t0 = now_ns(), t1;
	int n, ret;

	ret = cbnl_dump(&self->nl, &d);
	t1 = now_ns();
	ASSERT_EQ(0, ret) {
		TH_LOG("dump: %s (%s)", strerror(-ret), d.r.msg);
	}
	EXPECT_STREQ("", d.r.bad);
	EXPECT_FALSE(d.r.dump_intr);
	h = cbnl_dump_find(&d, self->id, &n);
	EXPECT_EQ(1, n);
	if (h) {
		/* The dump carries no calls. */
		EXPECT_EQ(get->present & ~(BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL) |
				BIT_OF(CALLBOX_NL_A_SANDBOX_RECENT_CALL)),
			  h->present);
		EXPECT_EQ(get->owner_pid, h->owner_pid);
		EXPECT_EQ(get->owner_uid, h->owner_uid);
		EXPECT_EQ(get->state, h->state);
		EXPECT_EQ(get->calls, h->calls);
		EXPECT_EQ(get->exited, h->exited);
		EXPECT_EQ(get->aborted, h->aborted);
		EXPECT_EQ(get->current_call, h->current_call);
		EXPECT_GE(t1 - self->created_before, h->age_ns);
		EXPECT_LE(t0 - self->created_after, h->age_ns);
	}
	cbnl_dump_free(&d);
}

/* A sandbox with no call yet. */
TEST_F(sandbox, fresh)
{
	struct want_sb w = { .present = CBNL_SANDBOX_ALWAYS,
			     .state = CALLBOX_NL_SANDBOX_IDLE };
	struct cbnl_sandbox *sb;
	uint64_t t0, t1;

	return_if_setup_skipped();
	t0 = now_ns();
	sb = cbnl_get_ok(&self->nl, self->id);
	t1 = now_ns();
	expect_sandbox(sb, self, &w, t1);
	EXPECT_LE(t0 - self->created_after, sb->age_ns);
	EXPECT_EQ(0, sb->nr_live);
	EXPECT_EQ(0, sb->nr_recent);
	expect_dump_as_get(_metadata, self, sb);
	free(sb);
}

/* Submitted, with no runner: QUEUED, its deadline counting down. */
TEST_F(sandbox, queued)
{
	struct want_sb w = { .present = CBNL_SANDBOX_ALWAYS |
				BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL),
			     .state = CALLBOX_NL_SANDBOX_IDLE, .calls = 1 };
	uint32_t states[] = { S_Q };
	uint64_t deadline, t_sub, t_sub1, t0, t1, id;
	struct cbnl_sandbox *sb;
	struct cbnl_call *c;

	return_if_setup_skipped();
	deadline = now_ns() + 60000 * MS;
	t_sub = now_ns();
	call_submit(self->b.fd, deadline, &id);
	t_sub1 = now_ns();
	ASSERT_EQ(1, id);

	t0 = now_ns();
	sb = cbnl_get_ok(&self->nl, self->id);
	t1 = now_ns();
	expect_sandbox(sb, self, &w, t1);
	ASSERT_EQ(1, sb->nr_live);
	EXPECT_EQ(0, sb->nr_recent);
	c = &sb->live[0];
	EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION) |
		  BIT_OF(CALLBOX_NL_A_CALL_DEADLINE_NS), c->present);
	EXPECT_EQ(1, c->id);
	EXPECT_EQ(S_Q, c->state);
	EXPECT_EQ(CALLBOX_ABORT_NONE, c->reason);
	EXPECT_EQ(0, c->flags);
	expect_as_ioctl(self->b.fd, c);
	/* Time left, read between t0 and t1. */
	EXPECT_GE(deadline - t0, c->deadline_ns);
	EXPECT_LE(deadline - t1, c->deadline_ns);
	EXPECT_GE(t1 - t_sub, c->age_ns);
	EXPECT_LE(t0 - t_sub1, c->age_ns);
	expect_transitions(_metadata, c, states, 1, t_sub, false);
	EXPECT_GE(t_sub1, c->trans[0].time_ns);
	expect_dump_as_get(_metadata, self, sb);
	free(sb);
}

/*
 * Entered: a thread of ours spins in the guest. RUNNER_TID is that
 * thread, DEADLINE_NS what is left of the deadline; once cancelled, the
 * call is among the recent ones, ABORTED.
 */
TEST_F_TIMEOUT(sandbox, entered_then_cancelled, 60)
{
	struct want_sb w = { .present = CBNL_SANDBOX_ALWAYS |
				BIT_OF(CALLBOX_NL_A_SANDBOX_CURRENT_CALL) |
				BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL),
			     .state = CALLBOX_NL_SANDBOX_RUNNING, .calls = 1,
			     .current_call = 1 };
	uint32_t live_states[] = { S_Q, S_E };
	uint32_t end_states[] = { S_Q, S_E, S_A };
	struct callbox_call_info before, after;
	uint64_t deadline, t_start, t0, t1;
	struct cbnl_sandbox *sb;
	struct cbnl_call *c;

	return_if_setup_skipped();
	script_set(self->b.guest.mem, SCRIPT_SPIN);
	deadline = now_ns() + 60000 * MS;
	t_start = now_ns();
	runner_start(_metadata, &self->runner, self->b.fd, deadline);
	ASSERT_TRUE(WAIT_FOR(script_spinning(self->b.guest.mem)));
	ASSERT_TRUE(wait_for_state(self->b.fd, 1, S_E));

	call_get(self->b.fd, 1, &before);
	t0 = now_ns();
	sb = cbnl_get_ok(&self->nl, self->id);
	t1 = now_ns();
	call_get(self->b.fd, 1, &after);
	expect_sandbox(sb, self, &w, t1);
	ASSERT_EQ(1, sb->nr_live);
	EXPECT_EQ(0, sb->nr_recent);
	c = &sb->live[0];
	EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION) |
		  BIT_OF(CALLBOX_NL_A_CALL_RUNNER_TID) |
		  BIT_OF(CALLBOX_NL_A_CALL_DEADLINE_NS), c->present);
	EXPECT_EQ(1, c->id);
	EXPECT_EQ(S_E, c->state);
	EXPECT_EQ(before.state, c->state);
	EXPECT_EQ(CALLBOX_ABORT_NONE, c->reason);
	/* Nothing changed the call meanwhile: the ioctl agrees. */
	EXPECT_EQ(before.flags, after.flags);
	EXPECT_EQ(before.flags, c->flags);
	EXPECT_EQ((uint32_t)atomic_load(&self->runner.tid), c->runner_tid);
	EXPECT_NE((uint32_t)getpid(), c->runner_tid);
	EXPECT_GE(deadline - t0, c->deadline_ns);
	EXPECT_LE(deadline - t1, c->deadline_ns);
	expect_transitions(_metadata, c, live_states, 2, t_start, false);
	expect_dump_as_get(_metadata, self, sb);
	free(sb);

	call_cancel(self->b.fd, 1);
	runner_join(_metadata, &self->runner);
	ASSERT_EQ(0, self->runner.ret);
	ASSERT_EQ(S_A, self->runner.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, self->runner.c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  self->runner.c.flags);

	/* CALL_SYNC consumed it: only the recent ring has it. */
	w.present = CBNL_SANDBOX_ALWAYS | BIT_OF(CALLBOX_NL_A_SANDBOX_RECENT_CALL);
	w.state = CALLBOX_NL_SANDBOX_POISONED;
	w.current_call = 0;
	w.aborted = 1;
	sb = cbnl_get_ok(&self->nl, self->id);
	expect_sandbox(sb, self, &w, now_ns());
	EXPECT_EQ(0, sb->nr_live);
	ASSERT_EQ(1, sb->nr_recent);
	c = &sb->recent[0];
	EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION),
		  c->present);
	EXPECT_EQ(1, c->id);
	EXPECT_EQ(self->runner.c.state, c->state);
	EXPECT_EQ(self->runner.c.reason, c->reason);
	EXPECT_EQ(self->runner.c.flags, c->flags);
	expect_transitions(_metadata, c, end_states, 3, t_start, true);
	expect_dump_as_get(_metadata, self, sb);
	free(sb);
}

/*
 * HOSTCALL: parked, so no runner; continued, it EXITs, and is both live
 * (not yet consumed) and recent; consumed, only recent.
 */
TEST_F_TIMEOUT(sandbox, hostcall_then_exited, 60)
{
	struct want_sb w = { .present = CBNL_SANDBOX_ALWAYS |
				BIT_OF(CALLBOX_NL_A_SANDBOX_CURRENT_CALL) |
				BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL),
			     .state = CALLBOX_NL_SANDBOX_RUNNING, .calls = 1,
			     .current_call = 1 };
	uint32_t h_states[] = { S_Q, S_E, S_H };
	uint32_t x_states[] = { S_Q, S_E, S_H, S_E, S_X };
	struct callbox_call_info ci;
	struct cbnl_sandbox *sb;
	struct cbnl_call *c;
	uint64_t t_start;
	uint32_t i;

	return_if_setup_skipped();
	script_set(self->b.guest.mem, SCRIPT_HOSTCALL);
	t_start = now_ns();
	call_sync(self->b.fd, 0, &ci);
	ASSERT_EQ(S_H, ci.state);
	ASSERT_EQ(SCRIPT_HOSTCALL_VALUE, ci.status);

	sb = cbnl_get_ok(&self->nl, self->id);
	expect_sandbox(sb, self, &w, now_ns());
	ASSERT_EQ(1, sb->nr_live);
	c = &sb->live[0];
	/* Parked: no thread runs it. No deadline was set. */
	EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION),
		  c->present);
	EXPECT_EQ(S_H, c->state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c->flags);
	expect_as_ioctl(self->b.fd, c);
	expect_transitions(_metadata, c, h_states, 3, t_start, false);
	expect_dump_as_get(_metadata, self, sb);
	free(sb);

	call_run(self->b.fd, 1, 0, &ci);
	ASSERT_EQ(S_X, ci.state);
	ASSERT_EQ(SCRIPT_STATUS, ci.status);

	/* Ended, not consumed: live and recent, the same record. */
	w.present = CBNL_SANDBOX_ALWAYS | BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL) |
		    BIT_OF(CALLBOX_NL_A_SANDBOX_RECENT_CALL);
	w.state = CALLBOX_NL_SANDBOX_IDLE;
	w.current_call = 0;
	w.exited = 1;
	sb = cbnl_get_ok(&self->nl, self->id);
	expect_sandbox(sb, self, &w, now_ns());
	ASSERT_EQ(1, sb->nr_live);
	ASSERT_EQ(1, sb->nr_recent);
	for (i = 0; i < 2; i++) {
		c = i ? &sb->recent[0] : &sb->live[0];
		EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION),
			  c->present);
		EXPECT_EQ(1, c->id);
		EXPECT_EQ(S_X, c->state);
		EXPECT_EQ(CALLBOX_ABORT_NONE, c->reason);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c->flags);
		expect_as_ioctl(self->b.fd, c);
		expect_transitions(_metadata, c, x_states, 5, t_start, true);
	}
	EXPECT_EQ(0, memcmp(&sb->live[0], &sb->recent[0], sizeof(*c)));
	free(sb);

	call_wait(self->b.fd, 1, 0, &ci);
	w.present &= ~BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL);
	sb = cbnl_get_ok(&self->nl, self->id);
	expect_sandbox(sb, self, &w, now_ns());
	EXPECT_EQ(0, sb->nr_live);
	ASSERT_EQ(1, sb->nr_recent);
	EXPECT_EQ(S_X, sb->recent[0].state);
	expect_transitions(_metadata, &sb->recent[0], x_states, 5, t_start,
			   true);
	expect_dump_as_get(_metadata, self, sb);
	free(sb);
}

/*
 * More changes of state than are kept: the first ones and the last, and
 * TRANSITIONS counts them all. Five host calls: QUEUED, ENTERED, five
 * times HOSTCALL and ENTERED, EXITED: 13.
 */
TEST_F_TIMEOUT(sandbox, many_transitions, 60)
{
	uint32_t kept[CALLBOX_NL_MAX_TRANSITIONS] = {
		S_Q, S_E, S_H, S_E, S_H, S_E, S_H, S_X,
	};
	volatile uint8_t *mem = self->b.guest.mem;
	struct callbox_call_info ci;
	struct cbnl_sandbox *sb;
	uint64_t t_start;
	int n;

	return_if_setup_skipped();
	script_set(self->b.guest.mem, SCRIPT_MULTI);
	mem[SCRIPT_NR_HOSTCALLS] = 5;
	t_start = now_ns();
	call_sync(self->b.fd, 0, &ci);
	for (n = 5; ci.state == S_H; n--) {
		ASSERT_EQ((uint32_t)n, ci.status);
		call_run(self->b.fd, 1, 0, &ci);
	}
	ASSERT_EQ(0, n);
	ASSERT_EQ(S_X, ci.state);
	call_wait(self->b.fd, 1, 0, &ci);

	sb = cbnl_get_ok(&self->nl, self->id);
	ASSERT_EQ(1, sb->nr_recent);
	EXPECT_EQ(1, sb->exited);
	expect_transitions(_metadata, &sb->recent[0], kept, 13, t_start,
			   true);
	free(sb);
}

/*
 * The recent ring keeps the last CALLBOX_NL_RECENT_CALLS, oldest first;
 * a full queue of CALLBOX_MAX_CALLS live calls fits one GET reply.
 */
TEST_F_TIMEOUT(sandbox, recent_ring_and_full_queue, 120)
{
	uint32_t x_states[] = { S_Q, S_E, S_X };
	uint32_t q_states[] = { S_Q };
	const uint64_t done = 20;
	struct callbox_call_info ci;
	struct cbnl_sandbox *sb;
	uint64_t i, id, t_start;
	struct want_sb w = {
		.present = CBNL_SANDBOX_ALWAYS |
			   BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL) |
			   BIT_OF(CALLBOX_NL_A_SANDBOX_RECENT_CALL),
		.state = CALLBOX_NL_SANDBOX_IDLE,
		.calls = done + CALLBOX_MAX_CALLS, .exited = done,
	};

	return_if_setup_skipped();
	script_set(self->b.guest.mem, SCRIPT_DONE);
	t_start = now_ns();
	for (i = 1; i <= done; i++) {
		call_sync(self->b.fd, 0, &ci);
		ASSERT_EQ(S_X, ci.state);
		ASSERT_EQ(i, ci.id);
	}
	for (i = 0; i < CALLBOX_MAX_CALLS; i++) {
		call_submit(self->b.fd, 0, &id);
		ASSERT_EQ(done + 1 + i, id);
	}
	call_submit_err(EAGAIN, self->b.fd, 0, &id);

	sb = cbnl_get_ok(&self->nl, self->id);
	expect_sandbox(sb, self, &w, now_ns());
	ASSERT_EQ(CALLBOX_NL_RECENT_CALLS, sb->nr_recent);
	for (i = 0; i < CALLBOX_NL_RECENT_CALLS; i++) {
		struct cbnl_call *c = &sb->recent[i];

		EXPECT_EQ(done - CALLBOX_NL_RECENT_CALLS + 1 + i, c->id);
		EXPECT_EQ(S_X, c->state);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c->flags);
		expect_transitions(_metadata, c, x_states, 3, t_start, true);
		if (i)
			EXPECT_LE(sb->recent[i - 1].trans[2].time_ns,
				  c->trans[0].time_ns);
	}
	ASSERT_EQ(CALLBOX_MAX_CALLS, sb->nr_live);
	for (i = 0; i < CALLBOX_MAX_CALLS; i++) {
		struct cbnl_call *c = &sb->live[i];

		EXPECT_EQ(done + 1 + i, c->id);
		EXPECT_EQ(S_Q, c->state);
		EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION),
			  c->present);
		expect_transitions(_metadata, c, q_states, 1, t_start, false);
	}
	expect_dump_as_get(_metadata, self, sb);
	free(sb);
}

/* A deadline that passes while the call is QUEUED: ABORTED, not run. */
TEST_F_TIMEOUT(sandbox, queued_deadline, 60)
{
	uint32_t states[] = { S_Q, S_A };
	struct want_sb w = {
		.present = CBNL_SANDBOX_ALWAYS |
			   BIT_OF(CALLBOX_NL_A_SANDBOX_LIVE_CALL) |
			   BIT_OF(CALLBOX_NL_A_SANDBOX_RECENT_CALL),
		.state = CALLBOX_NL_SANDBOX_IDLE, .calls = 1, .aborted = 1,
	};
	uint64_t deadline, id, t_start;
	struct cbnl_sandbox *sb;
	uint32_t i;

	return_if_setup_skipped();
	t_start = now_ns();
	deadline = t_start + 30 * MS;
	call_submit(self->b.fd, deadline, &id);
	ASSERT_TRUE(wait_for_state(self->b.fd, id, S_A));

	sb = cbnl_get_ok(&self->nl, self->id);
	expect_sandbox(sb, self, &w, now_ns());
	ASSERT_EQ(1, sb->nr_live);
	ASSERT_EQ(1, sb->nr_recent);
	for (i = 0; i < 2; i++) {
		struct cbnl_call *c = i ? &sb->recent[0] : &sb->live[0];

		/* Ended: no deadline left to show. */
		EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION),
			  c->present);
		EXPECT_EQ(S_A, c->state);
		EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c->reason);
		EXPECT_EQ(0, c->flags);
		expect_as_ioctl(self->b.fd, c);
		expect_transitions(_metadata, c, states, 2, t_start, true);
		EXPECT_LE(deadline, c->trans[1].time_ns);
	}
	free(sb);
}

TEST_HARNESS_MAIN

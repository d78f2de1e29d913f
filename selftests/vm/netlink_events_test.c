// SPDX-License-Identifier: GPL-2.0
/*
 * The "events" group of the "callbox" netlink family, joined as root:
 * a scripted life of a sandbox (every way a call ends, host calls, two
 * resets, a shutdown) must come out as exactly the expected stream, in
 * order, each call following the transition table; and nothing is
 * recorded while no one listens. That no event vanishes without a LOST
 * event that counts it is netlink_events_lost_test's. The kernel sends
 * events from a work item shortly after the fact: the tests wait for
 * them, with a bound, and never assume they are there at once.
 */
#include "nl_sandbox_util.h"
#include "nl_events_util.h"

#define S_Q	CALLBOX_STATE_QUEUED
#define S_E	CALLBOX_STATE_ENTERED
#define S_X	CALLBOX_STATE_EXITED
#define S_A	CALLBOX_STATE_ABORTED
#define S_H	CALLBOX_STATE_HOSTCALL
#define GR	CALLBOX_CALL_GUEST_RAN
#define POIS	CALLBOX_CALL_POISONED
#define INIT	CALLBOX_CALL_INIT
#define EV_CREATE	CALLBOX_NL_EVENT_SANDBOX_CREATE
#define EV_SHUTDOWN	CALLBOX_NL_EVENT_SANDBOX_SHUTDOWN
#define EV_CALL		CALLBOX_NL_EVENT_CALL_TRANSITION
#define EV_LOST		CALLBOX_NL_EVENT_LOST
#define BIT_OF(a)	(1u << (a))

/* What each kind of event carries, exactly. */
#define SANDBOX_EVENT_ATTRS						\
	(BIT_OF(CALLBOX_NL_A_EVENT_TYPE) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_SANDBOX_ID) |			\
	 BIT_OF(CALLBOX_NL_A_EVENT_TIME_NS) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_OWNER_UID))
#define CALL_EVENT_ATTRS						\
	(SANDBOX_EVENT_ATTRS |						\
	 BIT_OF(CALLBOX_NL_A_EVENT_CALL_ID) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_FROM) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_TO) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_REASON) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_FLAGS))

/* The uapi's transition table (uapi/linux/callbox.h, "Call states"). */
static bool transition_allowed(uint32_t from, uint32_t to)
{
	switch (from) {
	case 0:
		return to == S_Q;
	case S_Q:
		return to == S_E || to == S_A;
	case S_E:
		return to == S_H || to == S_X || to == S_A;
	case S_H:
		return to == S_E || to == S_A;
	default:
		return false;
	}
}

/* One expected event of our sandbox. */
struct want {
	uint32_t type;
	uint64_t call;
	uint32_t from, to, reason, flags;
};

FIXTURE(events) {
	struct cbnl_events es;
	struct box b;
	uint64_t id;
	uint64_t t_start;
	struct cbnl_runner runner;
};

FIXTURE_SETUP(events)
{
	self->runner.started = false;
	/* Before the sandbox is created: its creation is in the stream. */
	self->t_start = now_ns();
	cbnl_events_box_open(_metadata, &self->es, &self->b, &self->id);
}

FIXTURE_TEARDOWN(events)
{
	if (self->runner.started) {
		if (self->b.fd >= 0)
			_sandbox_shutdown(self->b.fd);
		cbnl_runner_join(&self->runner, 10000);
	}
	box_close(&self->b);
	cbnl_events_close(&self->es);
}

/* The events of sandbox @id so far; how many in *@n. */
static uint32_t count_of(struct cbnl_events *es, uint64_t id)
{
	uint32_t i, n = 0;

	for (i = 0; i < es->nr; i++)
		n += es->ev[i].type != EV_LOST && es->ev[i].sandbox_id == id;
	return n;
}

struct enough_arg {
	uint64_t id;
	uint32_t n;
};

static bool have_enough(struct cbnl_events *es, void *p)
{
	struct enough_arg *a = p;

	return count_of(es, a->id) >= a->n;
}

/* Wait up to 10 s for @n events of sandbox @id, then 300 ms for more. */
static void collect(struct __test_metadata *_metadata,
		    struct cbnl_events *es, uint64_t id, uint32_t n)
{
	struct enough_arg a = { .id = id, .n = n };
	int ret;

	ret = cbnl_events_read(es, 10000, have_enough, &a);
	ASSERT_LE(0, ret) {
		TH_LOG("reading events: %s (libnl %d)", strerror(-ret),
		       es->r.nl_ret);
	}
	EXPECT_EQ(1, ret) {
		TH_LOG("%u of the %u events of sandbox %llu came in 10 s",
		       count_of(es, id), n, (unsigned long long)id);
	}
	/* Anything more would be wrong: give it the time to show. */
	ASSERT_LE(0, cbnl_events_read(es, 300, NULL, NULL));
	EXPECT_STREQ("", es->r.bad);
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case EV_CREATE: return "CREATE";
	case EV_SHUTDOWN: return "SHUTDOWN";
	case EV_CALL: return "CALL";
	case EV_LOST: return "LOST";
	default: return "?";
	}
}

static void log_events(struct __test_metadata *_metadata,
		       struct cbnl_events *es, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < es->nr; i++) {
		struct cbnl_event *e = &es->ev[i];

		if (e->type != EV_LOST && e->sandbox_id != id)
			continue;
		TH_LOG("event %u: %s call %llu %s -> %s reason %u flags 0x%x lost %llu",
		       i, type_name(e->type), (unsigned long long)e->call_id,
		       cbnl_state_name(e->from), cbnl_state_name(e->to), e->reason,
		       e->flags, (unsigned long long)e->lost);
	}
}

/*
 * The events of sandbox @id are exactly @want, in order; none is LOST;
 * each carries what its kind carries, at non-decreasing times between
 * @t0 and @t1, with owner uid @uid; and each call's transitions follow
 * the table, starting from 0 -> QUEUED and ending in a terminal state.
 */
static void expect_stream(struct __test_metadata *_metadata,
			  struct cbnl_events *es, uint64_t id,
			  const struct want *want, uint32_t nr_want,
			  uint64_t t0, uint64_t t1, uint32_t uid)
{
	uint32_t last_state[64] = { 0 };
	uint64_t last_time = t0;
	uint32_t i, k = 0;
	bool ok = true;

	for (i = 0; i < es->nr; i++) {
		const struct cbnl_event *e = &es->ev[i];
		const struct want *w = k < nr_want ? &want[k] : NULL;

		EXPECT_NE(EV_LOST, e->type) {
			TH_LOG("%llu events lost", (unsigned long long)e->lost);
			ok = false;
		}
		if (e->type == EV_LOST || e->sandbox_id != id)
			continue;
		k++;
		EXPECT_NE(NULL, w) {
			TH_LOG("event %u is one too many", i);
			ok = false;
			continue;
		}
		EXPECT_EQ(w->type, e->type) {
			TH_LOG("event %u of sandbox %llu is %s, not %s", k - 1,
			       (unsigned long long)id, type_name(e->type),
			       type_name(w->type));
			ok = false;
		}
		EXPECT_EQ(uid, e->owner_uid);
		EXPECT_LE(last_time, e->time_ns);
		EXPECT_GE(t1, e->time_ns);
		last_time = e->time_ns;
		if (e->type != EV_CALL) {
			EXPECT_EQ(SANDBOX_EVENT_ATTRS, e->present);
			continue;
		}
		EXPECT_EQ(CALL_EVENT_ATTRS, e->present);
		if (e->call_id != w->call || e->from != w->from ||
		    e->to != w->to || e->reason != w->reason ||
		    e->flags != w->flags) {
			TH_LOG("event %u: call %llu %s -> %s reason %u flags 0x%x; expected call %llu %s -> %s reason %u flags 0x%x",
			       k - 1, (unsigned long long)e->call_id,
			       cbnl_state_name(e->from), cbnl_state_name(e->to),
			       e->reason, e->flags,
			       (unsigned long long)w->call,
			       cbnl_state_name(w->from), cbnl_state_name(w->to),
			       w->reason, w->flags);
			ok = false;
			_metadata->passed = 0;
		}
		/* The table, whatever was expected. */
		if (e->call_id < 64) {
			EXPECT_EQ(last_state[e->call_id], e->from) {
				TH_LOG("call %llu left %s, but was in %s",
				       (unsigned long long)e->call_id,
				       cbnl_state_name(e->from),
				       cbnl_state_name(last_state[e->call_id]));
			}
			EXPECT_TRUE(transition_allowed(e->from, e->to)) {
				TH_LOG("call %llu: %s -> %s is not in the table",
				       (unsigned long long)e->call_id,
				       cbnl_state_name(e->from), cbnl_state_name(e->to));
			}
			last_state[e->call_id] = e->to;
		}
		/* A reason exactly when it entered ABORTED. */
		EXPECT_EQ(e->to == S_A, e->reason != CALLBOX_ABORT_NONE);
	}
	EXPECT_EQ(nr_want, k) {
		TH_LOG("sandbox %llu: %u events, %u expected",
		       (unsigned long long)id, k, nr_want);
		ok = false;
	}
	/* Every call that was heard of ended. */
	for (i = 1; i < 64; i++) {
		if (last_state[i])
			EXPECT_TRUE(last_state[i] == S_X ||
				    last_state[i] == S_A) {
				TH_LOG("call %u last heard of in %s", i,
				       cbnl_state_name(last_state[i]));
			}
	}
	if (!ok)
		log_events(_metadata, es, id);
}

/*
 * The script. Calls are numbered as the sandbox numbers them:
 *   1  DONE, by CALL_SYNC
 *   2  a host call, continued by RUN: EXITED
 *   3  a host call cancelled while the host "runs" it, then continued:
 *      HOSTCALL -> ABORTED; the sandbox is poisoned
 *   4  the reset's init call, run to its DONE
 *   5  a spinning guest, run by a thread, cancelled: poisoned again
 *   6  the second reset's init call
 *   7  a spinning guest whose deadline passes: poisoned again
 *   8  QUEUED, cancelled
 *   9  QUEUED, its deadline passes
 *  10  QUEUED with a deadline already past: aborted at once
 *  11  QUEUED when the sandbox shuts down
 * then SHUTDOWN, and the fd is closed (no second SHUTDOWN event).
 */
static const struct want script[] = {
	{ .type = EV_CREATE },
	{ EV_CALL, 1, 0, S_Q, 0, 0 },
	{ EV_CALL, 1, S_Q, S_E, 0, 0 },
	{ EV_CALL, 1, S_E, S_X, 0, GR },
	{ EV_CALL, 2, 0, S_Q, 0, 0 },
	{ EV_CALL, 2, S_Q, S_E, 0, 0 },
	{ EV_CALL, 2, S_E, S_H, 0, GR },
	{ EV_CALL, 2, S_H, S_E, 0, GR },
	{ EV_CALL, 2, S_E, S_X, 0, GR },
	{ EV_CALL, 3, 0, S_Q, 0, 0 },
	{ EV_CALL, 3, S_Q, S_E, 0, 0 },
	{ EV_CALL, 3, S_E, S_H, 0, GR },
	{ EV_CALL, 3, S_H, S_A, CALLBOX_ABORT_CANCELLED, GR | POIS },
	{ EV_CALL, 4, 0, S_Q, 0, INIT },
	{ EV_CALL, 4, S_Q, S_E, 0, INIT },
	{ EV_CALL, 4, S_E, S_X, 0, INIT | GR },
	{ EV_CALL, 5, 0, S_Q, 0, 0 },
	{ EV_CALL, 5, S_Q, S_E, 0, 0 },
	{ EV_CALL, 5, S_E, S_A, CALLBOX_ABORT_CANCELLED, GR | POIS },
	{ EV_CALL, 6, 0, S_Q, 0, INIT },
	{ EV_CALL, 6, S_Q, S_E, 0, INIT },
	{ EV_CALL, 6, S_E, S_X, 0, INIT | GR },
	{ EV_CALL, 7, 0, S_Q, 0, 0 },
	{ EV_CALL, 7, S_Q, S_E, 0, 0 },
	{ EV_CALL, 7, S_E, S_A, CALLBOX_ABORT_DEADLINE, GR | POIS },
	{ EV_CALL, 8, 0, S_Q, 0, 0 },
	{ EV_CALL, 8, S_Q, S_A, CALLBOX_ABORT_CANCELLED, 0 },
	{ EV_CALL, 9, 0, S_Q, 0, 0 },
	{ EV_CALL, 9, S_Q, S_A, CALLBOX_ABORT_DEADLINE, 0 },
	{ EV_CALL, 10, 0, S_Q, 0, 0 },
	{ EV_CALL, 10, S_Q, S_A, CALLBOX_ABORT_DEADLINE, 0 },
	{ EV_CALL, 11, 0, S_Q, 0, 0 },
	/* Shutdown ends what is queued, then says so. */
	{ EV_CALL, 11, S_Q, S_A, CALLBOX_ABORT_SANDBOX_CLOSED, 0 },
	{ .type = EV_SHUTDOWN },
};

#define NR_SCRIPT	(sizeof(script) / sizeof(script[0]))

/* Rewind the guest and reset; run the init call @want_id to its DONE. */
static void reset_and_init(struct __test_metadata *_metadata, struct box *b,
			   uint64_t want_id)
{
	struct callbox_call_info ci;
	uint64_t id;

	ASSERT_OK("rewinding the guest",
		  raw_guest_rewind(&b->guest, b->run, b->fd, &id));
	ASSERT_EQ(want_id, id);
	call_run(b->fd, id, 0, &ci);
	ASSERT_EQ(S_X, ci.state);
	call_wait(b->fd, id, 0, &ci);
	ASSERT_EQ(S_X, ci.state);
	EXPECT_EQ(INIT | GR, ci.flags);
}

/*
 * The recent ring, read before the shutdown, tells each call's
 * transitions: the same states as its events, in the same order.
 */
static void expect_ring_as_stream(struct __test_metadata *_metadata,
				  FIXTURE_DATA(events) *self)
{
	struct cbnl_sandbox *sb;
	struct cbnl nl;
	uint32_t i, j, k;

	cbnl_open_ok(&nl);
	sb = cbnl_get_ok(&nl, self->id);
	cbnl_close(&nl);
	ASSERT_EQ(10, sb->nr_recent);
	for (i = 0; i < sb->nr_recent; i++) {
		const struct cbnl_call *c = &sb->recent[i];

		EXPECT_EQ(i + 1, c->id);
		for (j = 0, k = 0; j < NR_SCRIPT; j++) {
			if (script[j].type != EV_CALL || script[j].call != c->id)
				continue;
			ASSERT_GT(c->nr_trans, k);
			EXPECT_EQ(script[j].to, c->trans[k].state) {
				TH_LOG("call %llu, transition %u",
				       (unsigned long long)c->id, k);
			}
			k++;
		}
		EXPECT_EQ(k, c->transitions);
	}
	free(sb);
}

TEST_F_TIMEOUT(events, scripted_stream, 120)
{
	struct callbox_call_info ci;
	uint64_t id, t_end;

	return_if_setup_skipped();

	/* 1 */
	script_set(self->b.guest.mem, SCRIPT_DONE);
	call_sync(self->b.fd, 0, &ci);
	ASSERT_EQ(S_X, ci.state);

	/* 2 */
	script_set(self->b.guest.mem, SCRIPT_HOSTCALL);
	call_sync(self->b.fd, 0, &ci);
	ASSERT_EQ(S_H, ci.state);
	call_run(self->b.fd, 2, 0, &ci);
	ASSERT_EQ(S_X, ci.state);
	call_wait(self->b.fd, 2, 0, &ci);

	/* 3: cancelled in HOSTCALL, it ends when continued. */
	call_sync(self->b.fd, 0, &ci);
	ASSERT_EQ(S_H, ci.state);
	ASSERT_EQ(3, ci.id);
	call_cancel(self->b.fd, 3);
	call_run(self->b.fd, 3, 0, &ci);
	ASSERT_EQ(S_A, ci.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, ci.reason);
	EXPECT_EQ(GR | POIS, ci.flags);
	call_wait(self->b.fd, 3, 0, &ci);

	/* 4 */
	reset_and_init(_metadata, &self->b, 4);

	/* 5: a thread spins in the guest, cancelled from here. */
	script_set(self->b.guest.mem, SCRIPT_SPIN);
	self->runner.fd = self->b.fd;
	cbnl_runner_start(&self->runner);
	ASSERT_TRUE(WAIT_FOR(script_spinning(self->b.guest.mem)));
	ASSERT_TRUE(wait_for_state(self->b.fd, 5, S_E));
	call_cancel(self->b.fd, 5);
	ASSERT_TRUE(cbnl_runner_join(&self->runner, 10000));
	ASSERT_EQ(0, self->runner.ret);
	ASSERT_EQ(S_A, self->runner.c.state);
	EXPECT_EQ(GR | POIS, self->runner.c.flags);

	/* 6 */
	reset_and_init(_metadata, &self->b, 6);

	/* 7: the deadline stops the spinning guest. */
	script_set(self->b.guest.mem, SCRIPT_SPIN);
	call_sync(self->b.fd, now_ns() + 100 * MS, &ci);
	ASSERT_EQ(S_A, ci.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, ci.reason);
	EXPECT_EQ(GR | POIS, ci.flags);

	/* 8, 9, 10: never run (the sandbox is poisoned, and no runner). */
	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(8, id);
	call_cancel(self->b.fd, 8);
	call_submit(self->b.fd, now_ns() + 50 * MS, &id);
	ASSERT_EQ(9, id);
	ASSERT_TRUE(wait_for_state(self->b.fd, 9, S_A));
	call_submit(self->b.fd, 1, &id);
	ASSERT_EQ(10, id);
	ASSERT_EQ(S_A, call_state(self->b.fd, 10));

	expect_ring_as_stream(_metadata, self);

	/* 11, and the end. */
	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(11, id);
	sandbox_shutdown(self->b.fd);
	close(self->b.fd);
	self->b.fd = -1;
	t_end = now_ns();

	collect(_metadata, &self->es, self->id, NR_SCRIPT);
	expect_stream(_metadata, &self->es, self->id, script, NR_SCRIPT,
		      self->t_start, t_end, 0);
}

/* The last fd's close is the shutdown: the same two events. */
TEST_F_TIMEOUT(events, close_is_shutdown, 60)
{
	static const struct want want[] = {
		{ .type = EV_CREATE },
		{ EV_CALL, 1, 0, S_Q, 0, 0 },
		{ EV_CALL, 1, S_Q, S_A, CALLBOX_ABORT_SANDBOX_CLOSED, 0 },
		{ .type = EV_SHUTDOWN },
	};
	uint64_t id, t_end;

	return_if_setup_skipped();
	call_submit(self->b.fd, 0, &id);
	close(self->b.fd);
	self->b.fd = -1;
	t_end = now_ns();
	collect(_metadata, &self->es, self->id, 4);
	expect_stream(_metadata, &self->es, self->id, want, 4, self->t_start,
		      t_end, 0);
}

/*
 * Nothing is recorded while no one listens: what happened before the
 * group was joined never comes, only what happens after.
 */
TEST_F_TIMEOUT(events, nothing_before_joining, 60)
{
	static const struct want want[] = {
		{ EV_CALL, 2, 0, S_Q, 0, 0 },
		{ EV_CALL, 2, S_Q, S_E, 0, 0 },
		{ EV_CALL, 2, S_E, S_X, 0, GR },
		{ .type = EV_SHUTDOWN },
	};
	struct callbox_call_info ci;
	uint64_t t0, t_end;
	int ret;

	return_if_setup_skipped();
	/* Leave the group: no one listens now. */
	cbnl_events_close(&self->es);
	script_set(self->b.guest.mem, SCRIPT_DONE);
	call_sync(self->b.fd, 0, &ci);
	/* Long enough for the work to have sent anything it had. */
	usleep(200 * 1000);

	t0 = now_ns();
	ret = cbnl_events_open(&self->es, 16 << 20);
	ASSERT_EQ(0, ret);
	call_sync(self->b.fd, 0, &ci);
	ASSERT_EQ(2, ci.id);
	sandbox_shutdown(self->b.fd);
	t_end = now_ns();
	collect(_metadata, &self->es, self->id, 4);
	expect_stream(_metadata, &self->es, self->id, want, 4, t0, t_end, 0);
}

TEST_HARNESS_MAIN

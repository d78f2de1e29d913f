/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stress_test's records, one per call id, and everything that must hold
 * for each call once every thread is joined (see stress_test.c).
 */
#ifndef CALLBOX_STRESS_CHECK_H
#define CALLBOX_STRESS_CHECK_H

#include "inspect_util.h"

#define MAX_LOGGED		10

enum deadline_kind { DEADLINE_NONE, DEADLINE_PAST, DEADLINE_AHEAD };

/*
 * Everything seen about one call, indexed by id. Each field is written by
 * one thread only (the submitter that owns the call, the runner, or the
 * canceller) and read after all of them are joined.
 */
struct call_rec {
	/* the submitter */
	uint8_t submitted;
	uint8_t deadline;	/* enum deadline_kind */
	uint8_t waited;		/* successful WAITs */
	uint8_t rewait_ok;	/* the second WAIT gave ESRCH */
	struct callbox_call_info out;
	/* the runner */
	uint8_t runs;		/* RUN outcomes for this call */
	uint8_t run_consumed;	/* its restarted RUN found it consumed */
	uint8_t run_state;
	uint8_t run_flags;
	uint32_t run_status;
	/* the runner's resets: an init call, and how it ended */
	uint8_t init;
	uint8_t init_state;
	/* the canceller */
	uint16_t cancel_won;
	uint16_t cancel_lost;	/* EALREADY */
	uint16_t cancel_other;
};

struct tally {
	uint64_t submitted;
	uint64_t exited;
	uint64_t aborted[CALLBOX_ABORT_SANDBOX_CLOSED + 1];
	/* ... of which after the guest had started */
	uint64_t aborted_ran[CALLBOX_ABORT_SANDBOX_CLOSED + 1];
	uint64_t nr_aborted_ran;
	uint64_t cancels_won;
	uint64_t cancels_lost;
	uint64_t init_calls;	/* of the runner's resets */
	uint64_t consumed;	/* ran, and were consumed under a restarted RUN */
	uint64_t violations;
};

#define violation(t, id, fmt, ...)                                      \
	do {                                                            \
		if ((t)->violations++ < MAX_LOGGED)                     \
			TH_LOG("call %llu: " fmt,                       \
			       (unsigned long long)(id), ##__VA_ARGS__); \
	} while (0)

#define check(t, id, cond)                                              \
	do {                                                            \
		if (!(cond))                                            \
			violation(t, id, "%s", #cond);                  \
	} while (0)

/* Everything that must hold for one call, from all the threads' records. */
static void check_call(struct __test_metadata *_metadata, struct tally *t,
		       uint64_t id, const struct call_rec *rec)
{
	const struct callbox_call_info *c = &rec->out;
	bool ran = c->flags & CALLBOX_CALL_GUEST_RAN;

	/* A reset's init call: it exited, or the canceller ended it. */
	if (rec->init) {
		check(t, id, !rec->submitted && !rec->waited && !rec->runs);
		check(t, id, rec->init_state == CALLBOX_STATE_EXITED ||
			     (rec->init_state == CALLBOX_STATE_ABORTED &&
			      rec->cancel_won == 1));
		t->init_calls++;
		return;
	}
	check(t, id, rec->submitted == 1);
	check(t, id, rec->waited == 1);
	check(t, id, rec->rewait_ok);
	check(t, id, c->id == id);
	check(t, id, !(c->flags & CALLBOX_CALL_CANCEL_PENDING));
	check(t, id, rec->cancel_other == 0);
	check(t, id, rec->cancel_won <= 1);
	t->submitted++;
	t->cancels_won += rec->cancel_won;
	t->cancels_lost += rec->cancel_lost;

	/* The kernel's CANCELLED and the canceller's 0 are one decision. */
	if (rec->cancel_won)
		check(t, id, c->state == CALLBOX_STATE_ABORTED &&
			     c->reason == CALLBOX_ABORT_CANCELLED);
	else
		check(t, id, c->reason != CALLBOX_ABORT_CANCELLED);

	switch (rec->deadline) {
	case DEADLINE_NONE:
		check(t, id, c->reason != CALLBOX_ABORT_DEADLINE);
		break;
	case DEADLINE_PAST:
		/* Aborted inside SUBMIT: nothing could ever reach it. */
		check(t, id, c->state == CALLBOX_STATE_ABORTED &&
			     c->reason == CALLBOX_ABORT_DEADLINE && !ran &&
			     !rec->runs && !rec->cancel_won);
		break;
	}

	switch (c->state) {
	case CALLBOX_STATE_EXITED:
		t->exited++;
		check(t, id, c->reason == CALLBOX_ABORT_NONE);
		check(t, id, c->flags == CALLBOX_CALL_GUEST_RAN);
		check(t, id, c->exit_reason == KVM_EXIT_IO);
		/* The result is the one the guest gave the runner. */
		if (rec->runs != 1 || rec->run_state != CALLBOX_STATE_EXITED ||
		    rec->run_status != c->status || !c->status)
			violation(t, id, "EXITED with status %u; the runner saw %u runs, state %u, status %u",
				  c->status, rec->runs, rec->run_state,
				  rec->run_status);
		break;
	case CALLBOX_STATE_ABORTED:
		check(t, id, c->reason == CALLBOX_ABORT_CANCELLED ||
			     c->reason == CALLBOX_ABORT_DEADLINE);
		if (c->reason < ARRAY_SIZE(t->aborted))
			t->aborted[c->reason]++;
		check(t, id, !c->status);
		if (ran) {
			if (c->reason < ARRAY_SIZE(t->aborted_ran))
				t->aborted_ran[c->reason]++;
			t->nr_aborted_ran++;
			if (rec->run_consumed) {
				/* Its RUN restarted after it was gone. */
				check(t, id, rec->runs == 0 &&
					     rec->run_consumed == 1);
				t->consumed++;
				break;
			}
			check(t, id, rec->runs == 1 &&
				     rec->run_state == CALLBOX_STATE_ABORTED &&
				     (rec->run_flags &
				      CALLBOX_CALL_GUEST_RAN));
		} else {
			/*
			 * RUN may return a call that ended as it took it,
			 * or, restarted, find it gone before it ran.
			 */
			check(t, id, rec->runs + rec->run_consumed == 0 ||
				     (rec->runs == 0 && rec->run_consumed == 1) ||
				     (rec->runs == 1 &&
				      rec->run_state == CALLBOX_STATE_ABORTED &&
				      !(rec->run_flags &
					CALLBOX_CALL_GUEST_RAN)));
		}
		break;
	default:
		violation(t, id, "ended in state %u", c->state);
	}
}

#endif /* CALLBOX_STRESS_CHECK_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the state of a call.
 *
 * Every change of a call's state goes through
 * callbox_call_transition_locked(), under the sandbox's spinlock, and is
 * checked against one table. A transition the table does not allow is a
 * kernel bug and warns.
 */
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/lockdep.h>

#include "callbox.h"

/* For each state, the set of states it may move to. */
static const u8 callbox_call_next_states[] = {
	[CALLBOX_STATE_QUEUED] = BIT(CALLBOX_STATE_ENTERED) |
				 BIT(CALLBOX_STATE_ABORTED),
	[CALLBOX_STATE_ENTERED] = BIT(CALLBOX_STATE_EXITED) |
				  BIT(CALLBOX_STATE_ABORTED),
	[CALLBOX_STATE_EXITED] = 0,
	[CALLBOX_STATE_ABORTED] = 0,
};

/* Start a new call: a fresh id, QUEUED, no outcome yet. */
void callbox_call_init_locked(struct callbox_sandbox *sb,
			      struct callbox_call *call)
{
	lockdep_assert_held(&sb->lock);

	*call = (struct callbox_call) {
		.id = sb->next_call_id++,
		.state = CALLBOX_STATE_QUEUED,
		.reason = CALLBOX_ABORT_NONE,
	};
}

void callbox_call_transition_locked(struct callbox_sandbox *sb,
				    struct callbox_call *call, u32 new_state)
{
	lockdep_assert_held(&sb->lock);

	if (WARN_ON_ONCE(call->state >= ARRAY_SIZE(callbox_call_next_states) ||
			 !(callbox_call_next_states[call->state] &
			   BIT(new_state))))
		return;

	call->state = new_state;
	if (new_state == CALLBOX_STATE_ENTERED)
		call->flags |= CALLBOX_CALL_GUEST_RAN;
}

/*
 * End a call ABORTED. If guest code ran for it, the guest stopped at an
 * arbitrary point: its memory and registers can no longer be trusted, so
 * the sandbox refuses further calls.
 */
void callbox_call_abort_locked(struct callbox_sandbox *sb,
			       struct callbox_call *call, u32 reason,
			       u64 detail)
{
	lockdep_assert_held(&sb->lock);

	callbox_call_transition_locked(sb, call, CALLBOX_STATE_ABORTED);
	call->reason = reason;
	call->detail = detail;
	if (call->flags & CALLBOX_CALL_GUEST_RAN)
		sb->poisoned = true;
}

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: async calls. Any thread submits a call (its request goes
 * into a slot, and the kernel queues it), waits for it or cancels it, by
 * id; runner threads take the submitted calls in the order they were
 * submitted and run them, serving their host calls. The outcome of a call
 * goes to whoever waits for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "sandbox.h"

int callbox_call_submit(struct callbox_sandbox *sb, const char *function,
			const struct callbox_wire_value *args,
			unsigned int nr_args, uint64_t deadline_ns,
			uint64_t *id)
{
	int slot, ret;

	sandbox_begin(sb);
	/*
	 * A queued request waits in guest memory, where the call that runs
	 * meanwhile could read it, or a result not collected yet, and change
	 * it: no fresh call may share the guest with another's.
	 */
	if (sb->cfg.flags & CALLBOX_CONFIG_FRESH_CALLS)
		return sandbox_fail(sb, -EOPNOTSUPP,
				    "%s: fresh calls (CALLBOX_CONFIG_FRESH_CALLS) are not submitted: use callbox_call()",
				    function);
	slot = sandbox_request(sb, function, args, nr_args);
	if (slot < 0)
		return slot;

	/* Under the lock, so runners see the slots in id order. */
	pthread_mutex_lock(&sb->lock);
	ret = callbox_call_submit_fd(sb->sandbox_fd, deadline_ns, id);
	if (ret) {
		sb->slots[slot].used = false;
	} else {
		sb->slots[slot].id = *id;
		pthread_cond_broadcast(&sb->submitted);
	}
	pthread_mutex_unlock(&sb->lock);
	if (ret)
		return sandbox_fail(sb, ret, "%s: CALLBOX_CALL_SUBMIT: %s",
				    function, strerror(-ret));
	return 0;
}

void callbox_call_run_stop(struct callbox_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	sb->stopping = true;
	pthread_cond_broadcast(&sb->submitted);
	pthread_mutex_unlock(&sb->lock);
}

/*
 * Wait until a submitted call waits for a runner (or stop, or @until),
 * then take the turn to run (run_lock) and the oldest such call: with
 * several runners, calls are entered in the order they were submitted.
 * Returns its slot with run_lock held, or -errno.
 */
static int async_take(struct callbox_sandbox *sb, uint64_t deadline_ns,
		      uint64_t *id, char *function)
{
	struct timespec until = {
		.tv_sec = deadline_ns / 1000000000ull,
		.tv_nsec = deadline_ns % 1000000000ull,
	};
	bool stopping;
	int slot, ret = 0;

	for (;;) {
		pthread_mutex_lock(&sb->lock);
		while (!sb->stopping &&
		       sandbox_slot_next_locked(sb) < 0 && !ret)
			ret = deadline_ns ?
			      -pthread_cond_timedwait(&sb->submitted, &sb->lock,
						      &until) :
			      -pthread_cond_wait(&sb->submitted, &sb->lock);
		stopping = sb->stopping;
		pthread_mutex_unlock(&sb->lock);
		if (stopping)
			return sandbox_fail(sb, -ESHUTDOWN,
					    "the runners were stopped");
		if (ret == -ETIMEDOUT)
			return sandbox_fail(sb, -ETIME,
					    "no call was submitted in time");
		if (ret)
			return sandbox_fail(sb, ret, "waiting for a call: %s",
					    strerror(-ret));

		ret = sandbox_run_lock(sb, "run");
		if (ret)
			return ret;
		pthread_mutex_lock(&sb->lock);
		slot = sandbox_slot_next_locked(sb);
		if (slot >= 0) {
			/*
			 * Its waiter may collect it, and free the slot, as
			 * soon as it ends: keep what the runner needs.
			 */
			sb->slots[slot].started = true;
			*id = sb->slots[slot].id;
			memcpy(function, sb->slots[slot].function,
			       CALLBOX_FUNCTION_NAME_MAX);
		}
		pthread_mutex_unlock(&sb->lock);
		if (slot >= 0)
			return slot;
		/* Another runner took it meanwhile. */
		pthread_mutex_unlock(&sb->run_lock);
	}
}

int callbox_call_run(struct callbox_sandbox *sb, uint64_t deadline_ns)
{
	char function[CALLBOX_FUNCTION_NAME_MAX];
	struct sandbox_slot *s;
	struct callbox_call_info c;
	bool entered = false;
	uint64_t id = 0;
	int slot, ret;

	sandbox_begin(sb);
	slot = async_take(sb, deadline_ns, &id, function);
	if (slot < 0)
		return slot;
	s = &sb->slots[slot];

	ret = sandbox_prepare_call(sb, function);
	if (!ret) {
		sandbox_mailbox(sb)->slot = slot;
		ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, &c);
		entered = !ret;
		if (ret && ret != -ESRCH)
			sandbox_run_error(sb, function, ret);
	}
	if (entered) {
		ret = sandbox_check_outcome(sb, function, id, &c);
		if (!ret)
			ret = sandbox_serve_host_calls(sb, &c);
		if (!ret)
			sandbox_note_abort(sb, &c, &s->abort);
	}
	pthread_mutex_unlock(&sb->run_lock);

	if (ret == -ESRCH) {
		/* Cancelled and collected before its turn. */
		sandbox_begin(sb);
		return 0;
	}
	if (ret && !entered) {
		/*
		 * Not run (poisoned, interrupted...): it stays queued, for
		 * another runner or for after the reset.
		 */
		pthread_mutex_lock(&sb->lock);
		if (s->used && s->id == id)
			s->started = false;
		pthread_mutex_unlock(&sb->lock);
	}
	return ret;
}

int callbox_call_wait(struct callbox_sandbox *sb, uint64_t id,
		      uint64_t deadline_ns, struct callbox_wire_value *result,
		      struct callbox_outcome *outcome)
{
	char function[CALLBOX_FUNCTION_NAME_MAX] = "call";
	struct callbox_call_info c;
	int slot, ret;

	sandbox_begin(sb);
	if (result)
		memset(result, 0, sizeof(*result));
	ret = callbox_call_wait_fd(sb->sandbox_fd, id, deadline_ns, &c);
	/* Not -ETIMEDOUT, which says the call's own deadline ended it. */
	if (ret == -ETIMEDOUT)
		ret = sandbox_fail(sb, -ETIME,
				   "call %" PRIu64 " has not ended yet", id);
	else if (ret)
		ret = sandbox_fail(sb, ret, "call %" PRIu64 ": %s", id,
				   strerror(-ret));
	else
		ret = sandbox_check_outcome(sb, "wait", id, &c);
	if (ret)
		goto out;

	/* The kernel consumed the call: its slot is ours to read and free. */
	pthread_mutex_lock(&sb->lock);
	slot = sandbox_slot_find_locked(sb, id);
	if (slot >= 0)
		memcpy(function, sb->slots[slot].function, sizeof(function));
	pthread_mutex_unlock(&sb->lock);

	/*
	 * A guest abort ends a call while its runner holds run_lock, and the
	 * runner keeps the abort's details before it lets go: wait for that.
	 */
	if (c.state == CALLBOX_STATE_ABORTED &&
	    c.reason == CALLBOX_ABORT_GUEST_ABORT) {
		pthread_mutex_lock(&sb->run_lock);
		pthread_mutex_unlock(&sb->run_lock);
	}

	ret = sandbox_outcome(sb, function, &c, slot,
			      slot >= 0 ? &sb->slots[slot].abort : NULL,
			      result);
	if (slot >= 0)
		sandbox_slot_free(sb, slot);
out:
	if (outcome)
		*outcome = *callbox_sandbox_last_outcome(sb);
	return ret;
}

int callbox_call_cancel(struct callbox_sandbox *sb, uint64_t id)
{
	int ret;

	sandbox_begin(sb);
	ret = callbox_call_cancel_fd(sb->sandbox_fd, id);
	if (ret == -EALREADY)
		return sandbox_fail(sb, ret,
				    "call %" PRIu64 " had ended already, or another cancellation won",
				    id);
	if (ret)
		return sandbox_fail(sb, ret, "call %" PRIu64 ": %s", id,
				    strerror(-ret));
	return 0;
}

int callbox_call_get(struct callbox_sandbox *sb, uint64_t id,
		     struct callbox_call_info *info)
{
	int ret;

	sandbox_begin(sb);
	ret = callbox_call_get_fd(sb->sandbox_fd, id, info);
	if (ret)
		return sandbox_fail(sb, ret, "call %" PRIu64 ": %s", id,
				    strerror(-ret));
	sandbox_set_call(sb, info);
	return 0;
}

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
	slot = sandbox_request(sb, function, sandbox_find_export(sb, function),
			       args, nr_args);
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
 * What one runner takes at once: every submitted call that waits for a
 * runner, oldest first, to run back to back in one CALLBOX_CALL_BATCH.
 * The names are kept for messages: a call's waiter may collect it, and
 * free its slot, as soon as it ends.
 */
struct async_batch {
	unsigned int nr;
	int slots[CALLBOX_MAX_SLOTS];
	uint64_t ids[CALLBOX_MAX_SLOTS];
	char functions[CALLBOX_MAX_SLOTS][CALLBOX_FUNCTION_NAME_MAX];
};

/*
 * Wait until a submitted call waits for a runner (or stop, or @until),
 * then take the turn to run (run_lock) and up to @max such calls: with
 * several runners, calls are entered in the order they were submitted.
 * Returns 0 with run_lock held and @b filled, or -errno.
 */
static int async_take(struct callbox_sandbox *sb, uint64_t deadline_ns,
		      unsigned int max, struct async_batch *b)
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
		b->nr = 0;
		while (b->nr < max &&
		       (slot = sandbox_slot_next_locked(sb)) >= 0) {
			sb->slots[slot].started = true;
			b->slots[b->nr] = slot;
			b->ids[b->nr] = sb->slots[slot].id;
			memcpy(b->functions[b->nr], sb->slots[slot].function,
			       CALLBOX_FUNCTION_NAME_MAX);
			b->nr++;
		}
		pthread_mutex_unlock(&sb->lock);
		if (b->nr)
			return 0;
		/* Another runner took them meanwhile. */
		pthread_mutex_unlock(&sb->run_lock);
	}
}

/* Calls @from on were not entered: they stay queued, for a runner. */
static void async_untake(struct callbox_sandbox *sb,
			 const struct async_batch *b, unsigned int from)
{
	struct sandbox_slot *s;
	unsigned int i;

	pthread_mutex_lock(&sb->lock);
	for (i = from; i < b->nr; i++) {
		s = &sb->slots[b->slots[i]];
		if (s->used && s->id == b->ids[i])
			s->started = false;
	}
	pthread_mutex_unlock(&sb->lock);
}

/*
 * Run the calls of @b, with run_lock held: chained in the mailbox (see
 * callbox/abi.h), so that the guest finds each one's request while the
 * kernel runs them one after another. A batch stops at a call that makes
 * a host call (served here, with RUN, to its end), that aborts, or that
 * ended before its turn; the next batch goes on after it. *@done: the
 * calls dealt with. Returns 0; the error of the call at *@done, which was
 * not entered and stays queued, if it is the first (else 0: the calls
 * before it count); or the error of serving a call's host calls, which
 * then ends cancelled for its waiter.
 */
static int async_run_batch(struct callbox_sandbox *sb,
			   const struct async_batch *b, uint32_t *done)
{
	struct callbox_mailbox *mb = sandbox_mailbox(sb);
	struct callbox_call_info c = { 0 };
	unsigned int i;
	uint32_t k;
	int ret;

	for (i = 0; i + 1 < b->nr; i++)
		mb->next_slot[b->slots[i]] = b->slots[i + 1];
	*done = 0;
	while (*done < b->nr) {
		/* The guest is between calls: it reads the next one's slot. */
		mb->slot = b->slots[*done];
		ret = callbox_call_batch_fd(sb->sandbox_fd, b->ids, b->nr, done,
					    &c);
		if (ret == -ESRCH) {
			/* Cancelled and collected before its turn. */
			(*done)++;
			continue;
		}
		if (ret && *done)
			return 0;
		if (ret)
			return sandbox_run_error(sb, b->functions[*done], ret);
		if (*done == b->nr)
			break;
		k = (*done)++;
		ret = sandbox_check_outcome(sb, b->functions[k], b->ids[k], &c);
		if (!ret)
			ret = sandbox_serve_host_calls(sb, &c);
		if (ret) {
			sandbox_end_call(sb, b->ids[k]);
			return ret;
		}
		sandbox_note_abort(sb, &c, &sb->slots[b->slots[k]].abort);
	}
	return 0;
}

/* Run up to @max submitted calls; how many were dealt with, or -errno. */
static int async_run(struct callbox_sandbox *sb, uint64_t deadline_ns,
		     unsigned int max)
{
	struct async_batch b;
	uint32_t done = 0;
	int ret;

	sandbox_begin(sb);
	ret = async_take(sb, deadline_ns, max, &b);
	if (ret)
		return ret;
	ret = sandbox_prepare_call(sb, b.functions[0]);
	if (!ret)
		ret = async_run_batch(sb, &b, &done);
	pthread_mutex_unlock(&sb->run_lock);

	/*
	 * Not run (poisoned, interrupted...): they stay queued, for another
	 * runner or for after the reset.
	 */
	async_untake(sb, &b, done);
	return ret ? ret : (int)done;
}

int callbox_call_run(struct callbox_sandbox *sb, uint64_t deadline_ns)
{
	int ret = async_run(sb, deadline_ns, 1);

	return ret < 0 ? ret : 0;
}

int callbox_call_run_all(struct callbox_sandbox *sb, uint64_t deadline_ns)
{
	return async_run(sb, deadline_ns, CALLBOX_MAX_SLOTS);
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
	 * (From a host function of this sandbox, which a runner calls with
	 * run_lock held, the lock fails with EDEADLK: there is no waiting.)
	 */
	if (c.state == CALLBOX_STATE_ABORTED &&
	    c.reason == CALLBOX_ABORT_GUEST_ABORT &&
	    !pthread_mutex_lock(&sb->run_lock))
		pthread_mutex_unlock(&sb->run_lock);

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

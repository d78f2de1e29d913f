// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: sync calls. The calling thread writes the request into a
 * slot, runs the call with CALLBOX_CALL_SYNC (one ioctl unless the guest
 * makes host calls, which it serves itself), and reads the result from
 * the slot only when the kernel says the call EXITED.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

/*
 * With run_lock held, before a call enters the guest: refuse if the guest's
 * init failed; with CALLBOX_CONFIG_FRESH_CALLS, put the guest back first
 * if a call entered it since it was last put back.
 */
int sandbox_prepare_call(struct callbox_sandbox *sb, const char *what)
{
	int ret;

	if (!sb->ready)
		return sandbox_fail(sb, -ENOTRECOVERABLE,
				    "%s: the guest is not ready: its init failed at the last reset, or a restore failed; reset or restore the sandbox",
				    what);
	if ((sb->cfg.flags & CALLBOX_CONFIG_FRESH_CALLS) &&
	    sb->memory.entered) {
		ret = sandbox_restore_locked(sb);
		if (ret)
			return ret;
	}
	sb->memory.entered = true;
	return 0;
}

/*
 * Serve the host calls of call @c, which is in HOSTCALL, until it ends,
 * then collect it, checking that every outcome is its own.
 */
static int call_finish(struct callbox_sandbox *sb, const char *what,
		       struct callbox_call_info *c)
{
	uint64_t id = c->id;
	int ret;

	ret = sandbox_serve_host_calls(sb, c);
	if (ret)
		return ret;
	ret = callbox_call_wait_fd(sb->sandbox_fd, id, 0, c);
	if (ret)
		return sandbox_run_error(sb, what, ret);
	return sandbox_check_outcome(sb, what, id, c);
}

/*
 * callbox_call() of the export @e found for @function (NULL if none), so
 * that callbox_call_int() need not look it up again.
 */
static int sandbox_call(struct callbox_sandbox *sb, const char *function,
			const struct sandbox_export *e,
			const struct callbox_wire_value *args,
			unsigned int nr_args, struct callbox_wire_value *result)
{
	/* This call's own outcome: other threads may run calls meanwhile. */
	struct callbox_wire_value value = { .type = CALLBOX_WIRE_VOID };
	bool fresh = sb->cfg.flags & CALLBOX_CONFIG_FRESH_CALLS;
	struct callbox_call_info c = { 0 };
	uint64_t deadline = 0;
	int slot, ret;

	/*
	 * A fresh call holds the sandbox from before its request is written
	 * (after the restore, which zeroes every free slot) until its result
	 * is read: no other request is ever in the guest with it.
	 */
	if (fresh) {
		ret = sandbox_run_lock(sb, function);
		if (ret)
			goto out;
		ret = sandbox_prepare_call(sb, function);
		if (ret)
			goto out_unlock_fresh;
	}
	slot = sandbox_request(sb, function, e, args, nr_args);
	if (slot < 0) {
		ret = slot;
		goto out_unlock_fresh;
	}
	if (sb->cfg.call_timeout_ns)
		deadline = callbox_deadline_after(sb->cfg.call_timeout_ns);

	if (!fresh) {
		ret = sandbox_run_lock(sb, function);
		if (ret) {
			sandbox_slot_free(sb, slot);
			goto out;
		}
		ret = sandbox_prepare_call(sb, function);
	}
	if (!ret) {
		sandbox_mailbox(sb)->slot = slot;
		ret = callbox_call_sync_fd(sb->sandbox_fd, deadline, &c);
		if (ret)
			ret = sandbox_run_error(sb, function, ret);
	}
	/*
	 * A CALL_SYNC that ended consumed its call. One that stopped in a
	 * host call hands it over: serve it to the end, then collect it.
	 */
	if (!ret && c.state == CALLBOX_STATE_HOSTCALL)
		ret = call_finish(sb, function, &c);
	if (!ret)
		sandbox_note_abort(sb, &c, &sb->slots[slot].abort);
	if (!fresh)
		pthread_mutex_unlock(&sb->run_lock);

	if (!ret)
		ret = sandbox_outcome(sb, function, &c, slot,
				      &sb->slots[slot].abort,
				      result ? &value : NULL);
	sandbox_slot_free(sb, slot);
out_unlock_fresh:
	if (fresh)
		pthread_mutex_unlock(&sb->run_lock);
out:
	/* Written last, on every path: @result may be one of @args. */
	if (result)
		*result = value;
	return ret;
}

int callbox_call(struct callbox_sandbox *sb, const char *function,
		 const struct callbox_wire_value *args, unsigned int nr_args,
		 struct callbox_wire_value *result)
{
	sandbox_begin(sb);
	return sandbox_call(sb, function, sandbox_find_export(sb, function),
			    args, nr_args, result);
}

int callbox_call_int(struct callbox_sandbox *sb, const char *function,
		     const int64_t *args, unsigned int nr_args,
		     int64_t *result)
{
	struct callbox_wire_value values[CALLBOX_MAX_PARAMS];
	struct callbox_wire_value v = { .type = CALLBOX_WIRE_VOID };
	const struct sandbox_export *e;
	unsigned int i;
	bool all_i64;
	char text[512];
	int ret;

	sandbox_begin(sb);
	e = sandbox_find_export(sb, function);
	if (e) {
		all_i64 = e->sig.ret_type == CALLBOX_WIRE_I64;
		for (i = 0; i < e->sig.nr_params; i++)
			all_i64 &= e->sig.params[i] == CALLBOX_WIRE_I64;
		if (!all_i64) {
			callbox_signature_format(&e->sig, function, text,
						 sizeof(text));
			ret = sandbox_fail(sb, -EINVAL,
					   "%s: callbox_call_int() calls only functions of i64, and this is %s",
					   function, text);
			goto out;
		}
	}
	/* The count first: @args need not hold more than the function takes. */
	if (e && nr_args != e->sig.nr_params) {
		callbox_signature_check(&e->sig, function, NULL, nr_args, text,
					sizeof(text));
		ret = sandbox_fail(sb, -EINVAL, "%s", text);
		goto out;
	}
	if (nr_args > CALLBOX_MAX_PARAMS) {
		ret = sandbox_fail(sb, -EINVAL,
				   "%s: %u arguments, at most %d are allowed",
				   function, nr_args, CALLBOX_MAX_PARAMS);
		goto out;
	}
	for (i = 0; i < nr_args; i++)
		values[i] = CALLBOX_I64(args[i]);
	ret = sandbox_call(sb, function, e, values, nr_args, &v);
out:
	/* Written last, on every path: @result may be one of @args. */
	if (result)
		*result = ret ? 0 : v.i64;
	return ret;
}

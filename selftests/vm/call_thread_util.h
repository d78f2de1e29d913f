/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Calls made on threads of their own, for the suites that act on a call
 * while its ioctl blocks: a call_runner makes one (CALL_SYNC, RUN or
 * RESET) and may linger to continue it, a call_waiter WAITs for one.
 * callbox_util.h includes this, after the ioctls these are built on.
 */
#ifndef CALLBOX_CALL_THREAD_UTIL_H
#define CALLBOX_CALL_THREAD_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/callbox.h>

#include "callbox_util.h"

/*
 * A call made on a thread of its own, for tests that act on it meanwhile:
 * CALL_SYNC if @sync, RESET if @reset (its init call's id in @id), else
 * RUN of @id with @flags.
 *
 * With @linger the thread outlives its ioctl: a call it leaves parked (in
 * HOSTCALL, or ENTERED after EINTR) is its own, and its exit would end
 * that call (OWNER_EXITED). It waits until the test sets @go, then, if
 * @cont is set, continues that call the way the uapi header says: RUN of
 * a call in HOSTCALL, or the interrupted ioctl issued again with the @out
 * it left, its result in @cont_ret and @cont_c. call_runner_join() sets
 * @go, so that a teardown never waits for a test that stopped before.
 */
struct call_runner {
	pthread_t thread;
	int fd;
	uint64_t id;
	uint32_t flags;
	bool sync;
	bool reset;
	int ret;
	struct callbox_call_info c;
	uint64_t elapsed_ns;	/* how long the ioctl took */
	atomic_bool done;	/* the ioctl has returned */
	bool started;		/* by call_runner_start(), not joined yet */
	bool linger;
	atomic_bool go;		/* a lingering thread may go on */
	atomic_bool cont;	/* ... and continue its call first */
	int cont_ret;
	struct callbox_call_info cont_c;
	atomic_bool cont_done;	/* the continuation has returned */
};

/*
 * Continue the call @out names, as the ioctl that left it so (CALL_SYNC
 * if @sync, else RUN): 0 or -errno, the outcome in @out.
 */
static inline int _call_continue(int fd, bool sync,
				 struct callbox_call_info *out)
{
	union {
		struct callbox_call_sync sync;
		struct callbox_call_run run;
	} cmd;
	int ret;

	if (out->state == CALLBOX_STATE_HOSTCALL)
		return _call_run(fd, out->id, 0, out);

	/* Interrupted: the same command, with the @out it left. */
	memset(&cmd, 0, sizeof(cmd));
	if (sync) {
		cmd.sync.size = sizeof(cmd.sync);
		cmd.sync.out = *out;
		ret = ioctl(fd, CALLBOX_CALL_SYNC, &cmd.sync) ? -errno : 0;
		*out = cmd.sync.out;
	} else {
		cmd.run.size = sizeof(cmd.run);
		cmd.run.id = out->id;
		cmd.run.out = *out;
		ret = ioctl(fd, CALLBOX_CALL_RUN, &cmd.run) ? -errno : 0;
		*out = cmd.run.out;
	}
	return ret;
}

static inline void *call_runner_fn(void *p)
{
	struct call_runner *r = p;
	uint64_t t0 = now_ns();

	if (r->reset)
		r->ret = _sandbox_reset(r->fd, 0, &r->id);
	else if (r->sync)
		r->ret = _call_sync(r->fd, 0, &r->c);
	else
		r->ret = _call_run(r->fd, r->id, r->flags, &r->c);
	r->elapsed_ns = now_ns() - t0;
	atomic_store(&r->done, true);
	if (!r->linger)
		return NULL;

	while (!atomic_load(&r->go))
		usleep(1000);
	if (atomic_load(&r->cont)) {
		r->cont_c = r->c;
		r->cont_ret = _call_continue(r->fd, r->sync, &r->cont_c);
		atomic_store(&r->cont_done, true);
	}
	return NULL;
}

/*
 * Start @r's thread, for call_runner_join(): a test that may leave it
 * blocked (a failed ASSERT, say) lets its teardown join it, within a
 * bound, once it has ended what blocks it.
 */
#define call_runner_start(r)						\
	({								\
		ASSERT_EQ(0, pthread_create(&(r)->thread, NULL,		\
					    call_runner_fn, (r)));	\
		(r)->started = true;					\
	})

/*
 * Join @r if it ends within @ms: true if it did, or is not started. A
 * lingering thread is let go first.
 */
static inline bool call_runner_join(struct call_runner *r, unsigned int ms)
{
	if (!r->started)
		return true;
	atomic_store(&r->go, true);
	if (join_within(r->thread, ms))
		return false;
	r->started = false;
	return true;
}

/* A WAIT for call @id on a thread of its own. */
struct call_waiter {
	pthread_t thread;
	int fd;
	uint64_t id;
	int ret;
	struct callbox_call_info c;
	atomic_bool done;	/* the ioctl has returned */
};

static inline void *call_waiter_fn(void *p)
{
	struct call_waiter *w = p;

	w->ret = _call_wait(w->fd, w->id, 0, &w->c);
	atomic_store(&w->done, true);
	return NULL;
}

#endif /* CALLBOX_CALL_THREAD_UTIL_H */

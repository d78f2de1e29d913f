/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two suites of Hyperlight #373 share (regression_test, and its
 * control, regression_control_test): the starvation of the thread that
 * runs calls, the fixture's setup, and the count of broken promises.
 *
 * Both starve that thread the same way: it runs at SCHED_IDLE on CPU 1
 * while a SCHED_FIFO thread spins there, and the submitter runs on CPU 0
 * with a 1.5 ms timeout. RT throttling is turned off for the run (it would
 * hand CPU 1 back for 5% of every second, which on fast hardware is enough
 * to run most calls in time); instead the spinner steps aside for one
 * iteration in UNSTARVED_EVERY, so that the "finished in time" path is
 * exercised too, on any hardware. The assertions hold whichever way each
 * iteration goes.
 */
#ifndef CALLBOX_REGRESSION_UTIL_H
#define CALLBOX_REGRESSION_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "callbox_util.h"
#include "starve_util.h"

#define SUBMIT_CPU		0
#define STARVED_CPU		1
#define ITERATIONS		2000
/* Every UNSTARVED_EVERY-th iteration the starved thread gets its CPU. */
#define UNSTARVED_EVERY		10
/* How long the submitter waits before it gives up and cancels. */
#define WAIT_TIMEOUT_NS		1500000ull
/* Violations logged one by one; the rest are only counted. */
#define MAX_LOGGED		10

/*
 * The fixture's setup, the same in both suites: a box of the counter
 * guest, its vCPU not yet bound (the runners read exits and flush them
 * through kvm_run), and RT throttling off, its old value in @rt_runtime
 * ("" if it was not changed). Skips the test without CPU STARVED_CPU;
 * true once it is all done.
 */
static inline bool starved_box_open(struct __test_metadata *_metadata,
				    struct box *b, char *rt_runtime, size_t len)
{
	box_init(b);
	if (sysconf(_SC_NPROCESSORS_ONLN) <= STARVED_CPU)
		SKIP(return false, "needs CPUs %d and %d", SUBMIT_CPU,
		     STARVED_CPU);
	box_open(_metadata, b, raw_guest_counter, sizeof(raw_guest_counter),
		 false);
	if (!rt_throttling_off(rt_runtime, len)) {
		rt_runtime[0] = '\0';
		TH_LOG("cannot turn RT throttling off: the starved thread will run 5%% of the time");
	}
	return true;
}

/*
 * The start of the fixture's teardown, the same in both suites: the
 * starved threads can only finish once the CPU is theirs, then RT
 * throttling goes back as it was.
 */
static inline void starvation_end(struct starver *starver,
				  const char *rt_runtime)
{
	starve_stop(starver);
	if (rt_runtime[0])
		rt_throttling_restore(rt_runtime);
}

/*
 * Pin the test thread to the submitter's CPU, away from the starvation.
 * The 6.1 harness runs the test body even after a SKIP in the setup, so
 * this also returns early if the setup did not finish.
 */
#define pin_submitter()                                                 \
	({                                                              \
		if (!self->ready)                                       \
			return;                                         \
		int __ret = set_self_sched(SUBMIT_CPU, SCHED_OTHER, 0); \
		ASSERT_EQ(0, __ret) {                                   \
			TH_LOG("pinning to CPU %d: %s", SUBMIT_CPU,     \
			       strerror(-__ret));                       \
		}                                                       \
	})

/* Count a broken promise; log the first few. */
#define violation(t, fmt, ...)                                          \
	do {                                                            \
		if ((t)->violations++ < MAX_LOGGED)                     \
			TH_LOG("iteration %u: " fmt, (t)->iterations,   \
			       ##__VA_ARGS__);                          \
	} while (0)

#define check(t, cond, fmt, ...)                                        \
	do {                                                            \
		if (!(cond))                                            \
			violation(t, "%s: " fmt, #cond, ##__VA_ARGS__); \
	} while (0)

#endif /* CALLBOX_REGRESSION_UTIL_H */

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: call.batch.per_call. BENCH_BATCH calls are submitted,
 * run back to back by one CALLBOX_CALL_BATCH, and each consumed by WAIT,
 * on the raw guest of call.sync.raw; the figure is the whole of that per
 * call, so it holds the two syscalls each call still costs (SUBMIT and
 * WAIT), which are cheap next to a return from the guest to userspace.
 * call.batch.run_only is the BATCH ioctl alone, per call: what the kernel
 * spends going from one call's exit to the next call's entry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/callbox.h>

#include <callbox/callbox.h>

#include "bench.h"
#include "bench_util.h"

void bench_batch_calls(int sandbox_fd, uint64_t *per_call,
		       uint64_t *run_only)
{
	uint64_t ids[BENCH_BATCH], t0, t1, t2;
	struct callbox_call_info c = { 0 };
	uint32_t done = 0;
	unsigned int i;
	int ret;

	t0 = now_ns();
	for (i = 0; i < BENCH_BATCH; i++) {
		ret = callbox_call_submit_fd(sandbox_fd, 0, &ids[i]);
		if (ret)
			die("CALLBOX_CALL_SUBMIT", -ret);
	}
	t1 = now_ns();
	ret = callbox_call_batch_fd(sandbox_fd, ids, BENCH_BATCH, &done, &c);
	t2 = now_ns();
	if (ret)
		die("CALLBOX_CALL_BATCH", -ret);
	if (done != BENCH_BATCH) {
		fprintf(stderr, "bench: the batch stopped at call %u: state %u, reason %u\n",
			done, c.state, c.reason);
		exit(1);
	}
	for (i = 0; i < BENCH_BATCH; i++) {
		ret = callbox_call_wait_fd(sandbox_fd, ids[i], 0, &c);
		if (ret)
			die("CALLBOX_CALL_WAIT", -ret);
		if (c.state != CALLBOX_STATE_EXITED) {
			fprintf(stderr, "bench: batched call aborted (reason %u)\n",
				c.reason);
			exit(1);
		}
	}
	*per_call = (now_ns() - t0) / BENCH_BATCH;
	*run_only = (t2 - t1) / BENCH_BATCH;
}

void bench_count_batch(void *arg, int calls)
{
	int sandbox_fd = *(int *)arg;
	uint64_t per_call, run_only;

	for (; calls > 0; calls -= BENCH_BATCH)
		bench_batch_calls(sandbox_fd, &per_call, &run_only);
}

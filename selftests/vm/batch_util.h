/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the CALLBOX_CALL_BATCH suites share (batch_test, batch_matrix_test):
 * building and issuing a BATCH, a thread that issues one, and releasing
 * the held guest (guest_util.h's guest_held) from the call it spins in.
 */
#ifndef CALLBOX_BATCH_UTIL_H
#define CALLBOX_BATCH_UTIL_H

#include <pthread.h>
#include <stdatomic.h>

#include "callbox_util.h"
#include "task_work_ring.h"

#define BATCH_MAX	8

/* One BATCH of @nr ids from @ids, starting at 0. */
static inline void batch_init(struct callbox_call_batch *cmd, const uint64_t *ids,
			      uint32_t nr)
{
	*cmd = (struct callbox_call_batch) {
		.size = sizeof(*cmd),
		.ids = (uintptr_t)ids,
		.nr = nr,
	};
}

static inline int batch_ioctl(int fd, struct callbox_call_batch *cmd)
{
	return ioctl(fd, CALLBOX_CALL_BATCH, cmd) ? -errno : 0;
}

static inline void submit_n(struct __test_metadata *_metadata, int fd,
			    uint64_t *ids, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		call_submit(fd, 0, &ids[i]);
}


/* A thread that issues one BATCH. */
struct batcher {
	pthread_t thread;
	int fd, vcpu_fd;
	struct kvm_run *run;
	struct ring *ring;	/* BY_TASK_WORK: armed by the thread */
	unsigned int ring_ms;
	uint64_t ids[BATCH_MAX];
	struct callbox_call_batch cmd;
	int refused;		/* -errno of a refused restart, or 0 */
	struct callbox_call_batch refused_cmd;
	int ret;
	atomic_bool returned;
};

static inline void *batcher_fn(void *p)
{
	struct batcher *w = p;
	int ret;

	if (w->ring && ring_submit_timeout(w->ring, w->ring_ms)) {
		w->ret = -errno;
		atomic_store(&w->returned, true);
		return NULL;
	}
	ret = batch_ioctl(w->fd, &w->cmd);
	if (ret == -EOPNOTSUPP || ret == -EINTR) {
		/* Refused at the restart: clear what stopped it, again. */
		w->refused = ret;
		w->refused_cmd = w->cmd;
		ioctl(w->vcpu_fd, KVM_SET_SIGNAL_MASK, NULL);
		w->run->immediate_exit = 0;
		ret = batch_ioctl(w->fd, &w->cmd);
	}
	w->ret = ret;
	atomic_store(&w->returned, true);
	return NULL;
}

/* Let the guest finish the call it spins in; wait until it has. */
static inline bool held_release(volatile uint8_t *release,
				volatile uint16_t *done_count)
{
	uint16_t before = *done_count;

	*release = 1;
	return WAIT_FOR(*done_count != before);
}

#endif /* CALLBOX_BATCH_UTIL_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal io_uring, to get task work queued on a thread without a
 * signal: a timeout submitted from the thread completes by task work
 * queued on it with TWA_SIGNAL, which interrupts KVM_RUN as callbox's
 * own kicks do.
 */
#ifndef CALLBOX_SELFTEST_TASK_WORK_RING_H
#define CALLBOX_SELFTEST_TASK_WORK_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

struct ring {
	int fd;
	void *sq, *cq;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
	_Atomic uint32_t *sq_tail, *cq_head, *cq_tail;
	uint32_t *sq_mask, *sq_array;
	struct __kernel_timespec ts;
};

static inline int ring_setup(struct ring *r)
{
	struct io_uring_params p = { 0 };

	r->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     r->fd, IORING_OFF_SQ_RING);
	r->cq = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       r->fd, IORING_OFF_SQES);
	if (r->sq == MAP_FAILED || r->cq == MAP_FAILED ||
	    r->sqes == MAP_FAILED)
		return -errno;
	r->sq_tail = (void *)((char *)r->sq + p.sq_off.tail);
	r->sq_mask = (void *)((char *)r->sq + p.sq_off.ring_mask);
	r->sq_array = (void *)((char *)r->sq + p.sq_off.array);
	r->cq_head = (void *)((char *)r->cq + p.cq_off.head);
	r->cq_tail = (void *)((char *)r->cq + p.cq_off.tail);
	return 0;
}

/*
 * Submit a timeout of @ms from the calling thread. When it fires, io_uring
 * completes it by task work queued on this thread with TWA_SIGNAL.
 */
static inline int ring_submit_timeout(struct ring *r, unsigned int ms)
{
	uint32_t tail = atomic_load(r->sq_tail);
	uint32_t idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];

	r->ts = (struct __kernel_timespec) { .tv_nsec = ms * 1000000ll };
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_TIMEOUT;
	sqe->fd = -1;
	sqe->addr = (uintptr_t)&r->ts;
	sqe->len = 1;
	r->sq_array[idx] = idx;
	atomic_store(r->sq_tail, tail + 1);
	return syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0) == 1 ?
	       0 : -errno;
}

static inline bool ring_completed(struct ring *r)
{
	return atomic_load(r->cq_tail) != atomic_load(r->cq_head);
}

static inline void ring_destroy(struct ring *r)
{
	if (r->fd < 0)
		return;
	munmap(r->sq, r->sq_len);
	munmap(r->cq, r->cq_len);
	munmap(r->sqes, r->sqes_len);
	close(r->fd);
}

#endif /* CALLBOX_SELFTEST_TASK_WORK_RING_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stress_test's threads, and what they share: a runner that runs every
 * call, continues each host call and restores the guest after an abort
 * poisoned the sandbox; submitters that submit calls with random
 * deadlines and wait for each; a canceller that cancels recent calls at
 * random; and a signaller that interrupts the runner. Each thread only
 * records what it saw, in stress_check.h's records, one per call id; the
 * test checks them once every thread is joined (see stress_test.c).
 */
#ifndef CALLBOX_STRESS_THREADS_H
#define CALLBOX_STRESS_THREADS_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "inspect_util.h"

#define SUBMITTERS		2
/* Calls in all, unless CALLBOX_SOAK_CALLS says otherwise. */
#define DEFAULT_CALLS		100000
/*
 * Calls a submitter keeps in flight. Two of them can ask for more than
 * CALLBOX_MAX_CALLS, so SUBMIT does hit EAGAIN; one alone cannot, so a
 * submitter always holds a call it can wait for when that happens.
 */
#define WINDOW			40
/* The canceller picks among the last CANCEL_SPAN ids, running ones too. */
#define CANCEL_SPAN		100
/* ... and sometimes sleeps up to this long between cancellations. */
#define CANCEL_PAUSE_NS		20000
/* A deadline "ahead" is this far from submission, plus up to as much. */
#define DEADLINE_AHEAD_NS	300000
/* No call takes this long to end: a WAIT that does has lost a wakeup. */
#define WAIT_LIMIT_NS		30000000000ull
/* The signaller waits up to this long between two signals. */
#define SIGNAL_PAUSE_NS		200000

/*
 * The counter guest (raw_guest_counter), with a host call on odd counts:
 *
 *	xor eax, eax
 *   1:	inc eax
 *	test al, 1 / jz 2f
 *	mov dx, 0xcb08 / out dx, eax	; HOSTCALL, value: the count
 *   2:	mov dx, 0xcb00 / out dx, eax	; DONE, status: the count
 *	jmp 1b
 */
static const uint8_t stress_guest[] = {
	0x66, 0x31, 0xc0, 0x66, 0x40, 0xa8, 0x01, 0x74, 0x05, 0xba, 0x08,
	0xcb, 0x66, 0xef, 0xba, 0x00, 0xcb, 0x66, 0xef, 0xeb, 0xee,
};

#include "stress_check.h"

struct stress {
	int sandbox_fd;
	struct raw_guest *guest;
	struct kvm_run *run;
	struct call_rec *recs;
	uint64_t nr_recs;
	unsigned int calls_per_submitter;
	_Atomic uint64_t latest_id;	/* highest id a SUBMIT returned */
	atomic_bool submitters_done;
	_Atomic uint64_t exit_id;	/* the runner leaves after this id */
};

struct runner {
	struct stress *s;
	pthread_t thread;
	bool started;
	int error;
	uint64_t runs;
	uint64_t exited;
	uint64_t never_entered;	/* ended before RUN could enter it */
	uint64_t withheld;	/* guest reached DONE, cancellation won */
	uint64_t poisoned;
	uint64_t resets;
	uint64_t hostcalls;
	uint64_t eintr;		/* waits for a call, interrupted */
	uint64_t consumed;	/* restarted RUNs that found their call gone */
	uint64_t violations;
	/* Guest completions since its last restore: its eax. */
	uint32_t count;
};

struct submitter {
	struct stress *s;
	pthread_t thread;
	bool started;
	unsigned int seed;
	int error;
	uint64_t eagain;
	uint64_t ring[WINDOW];
	unsigned int head, nr;
};

struct canceller {
	struct stress *s;
	pthread_t thread;
	bool started;
	unsigned int seed;
	uint64_t tries;
};

struct signaller {
	struct stress *s;
	pthread_t thread, target;
	bool started;
	unsigned int seed;
	uint64_t sent;
};

static _Atomic uint64_t signals_handled;

static inline void on_signal(int sig)
{
	atomic_fetch_add(&signals_handled, 1);
}

/*
 * Recover the poisoned sandbox as raw_guest_reset() does, noting which ids
 * were init calls: the canceller may cancel those too, and each one that
 * does not exit leaves the sandbox poisoned, so try again.
 */
static inline int runner_reset(struct stress *s)
{
	int tries;

	for (tries = 0; tries < 100; tries++) {
		struct callbox_call_info out;
		uint64_t id = 0;
		int ret;

		ret = raw_guest_rewind(s->guest, s->run, s->sandbox_fd, &id);
		if (ret)
			return ret;
		if (id >= s->nr_recs)
			return -ERANGE;
		s->recs[id].init = 1;
		ret = _call_run(s->sandbox_fd, id, 0, &out);
		if (!ret)
			ret = _call_wait(s->sandbox_fd, id, 0, &out);
		if (ret)
			return ret;
		s->recs[id].init_state = out.state;
		if (out.state == CALLBOX_STATE_EXITED)
			return 0;
	}
	return -EPROTO;
}

/*
 * CALLBOX_CALL_RUN, with @out as the kernel left it whatever the result:
 * after ESRCH too, when it names the call a restarted RUN went back for
 * (the library's thin layer copies @out only on success and EINTR).
 */
static inline int runner_run(int fd, uint64_t id, struct callbox_call_info *out)
{
	struct callbox_call_run cmd = {
		.size = sizeof(cmd),
		.id = id,
	};
	int ret = ioctl(fd, CALLBOX_CALL_RUN, &cmd) ? -errno : 0;

	*out = cmd.out;
	return ret;
}

static inline void *runner_thread(void *arg)
{
	struct runner *r = arg;
	struct stress *s = r->s;
	struct callbox_call_info out;
	bool poison_seen = false, poison_maybe = false;
	struct call_rec *rec;
	uint64_t id;
	int ret;

	for (;;) {
		ret = runner_run(s->sandbox_fd, 0, &out);
		/*
		 * A host call: continue it, as often as the guest makes one.
		 * A RUN that continues a host call leaves @out zeroed if it
		 * fails, so keep the id.
		 */
		id = 0;
		while (!ret && out.state == CALLBOX_STATE_HOSTCALL) {
			r->hostcalls++;
			/* Odd counts only, with the count of this call. */
			if (out.status != r->count + 1 || !(out.status & 1))
				r->violations++;
			id = out.id;
			ret = runner_run(s->sandbox_fd, id, &out);
		}
		if (ret == -EINTR) {
			/* The signal came while RUN waited: nothing ran. */
			r->eintr++;
			continue;
		}
		if (ret == -ESRCH) {
			/*
			 * The restart of a RUN interrupted in the guest (or
			 * the continuation of a host call) found that the
			 * canceller and a WAIT had ended and consumed its
			 * call meanwhile. A restarted RUN has its id in @out,
			 * written before entering; if it had run, the
			 * sandbox is poisoned.
			 */
			r->consumed++;
			if (!id)
				id = out.id;
			if (id && id < s->nr_recs)
				s->recs[id].run_consumed++;
			else
				r->violations++;
			poison_maybe = true;
			continue;
		}
		if (ret == -ENOTRECOVERABLE) {
			/* Only an outcome that said so may poison. */
			if (!poison_seen && !poison_maybe)
				r->violations++;
			ret = runner_reset(s);
			if (ret) {
				r->error = ret;
				break;
			}
			r->resets++;
			r->count = 0;
			poison_seen = poison_maybe = false;
			continue;
		}
		if (ret == -ESHUTDOWN)	/* teardown closed the sandbox */
			break;
		if (ret) {
			r->error = ret;
			break;
		}
		/* A call ran, or ended, while the sandbox was poisoned. */
		if (poison_seen)
			r->violations++;
		poison_maybe = false;
		r->runs++;
		if (out.id >= s->nr_recs) {
			r->violations++;
			continue;
		}
		rec = &s->recs[out.id];
		rec->runs++;
		rec->run_state = out.state;
		rec->run_flags = out.flags;

		switch (out.state) {
		case CALLBOX_STATE_EXITED:
			/* Calls run one at a time: the count is exact. */
			r->exited++;
			r->count++;
			rec->run_status = out.status;
			if (out.status != r->count)
				r->violations++;
			break;
		case CALLBOX_STATE_ABORTED:
			if (!(out.flags & CALLBOX_CALL_GUEST_RAN)) {
				r->never_entered++;
			} else if (!(out.flags & CALLBOX_CALL_POISONED)) {
				/*
				 * Ended at the guest's DONE: it completed
				 * the call (and counted it), but the
				 * cancellation had already won.
				 */
				if (out.exit_reason != KVM_EXIT_IO)
					r->violations++;
				r->withheld++;
				r->count++;
			} else {
				r->poisoned++;
				poison_seen = true;
			}
			break;
		default:
			r->violations++;
		}
		if (out.id >= atomic_load(&s->exit_id))
			break;
	}
	return NULL;
}

/* Wait for the oldest call of this submitter, and record what it was. */
static inline int submitter_wait_oldest(struct submitter *sub)
{
	struct stress *s = sub->s;
	struct callbox_call_info again;
	uint64_t id = sub->ring[sub->head];
	struct call_rec *rec = &s->recs[id];
	int ret;

	ret = _call_wait(s->sandbox_fd, id, now_ns() + WAIT_LIMIT_NS,
			 &rec->out);
	if (ret)
		return ret;
	rec->waited++;
	/* Consumed: the id is gone for good. */
	ret = _call_wait(s->sandbox_fd, id, 0, &again);
	rec->rewait_ok = ret == -ESRCH;
	sub->head = (sub->head + 1) % WINDOW;
	sub->nr--;
	return 0;
}

static inline void publish_latest(struct stress *s, uint64_t id)
{
	uint64_t latest = atomic_load(&s->latest_id);

	while (latest < id &&
	       !atomic_compare_exchange_weak(&s->latest_id, &latest, id))
		;
}

static inline void *submitter_thread(void *arg)
{
	struct submitter *sub = arg;
	struct stress *s = sub->s;
	uint64_t deadline, id;
	enum deadline_kind kind;
	int i, ret = 0;

	for (i = 0; i < (int)s->calls_per_submitter; i++) {
		kind = rand_r(&sub->seed) % 3;
		switch (kind) {
		case DEADLINE_NONE:
			deadline = 0;
			break;
		case DEADLINE_PAST:
			deadline = 1;
			break;
		default:
			deadline = now_ns() + DEADLINE_AHEAD_NS +
				   rand_r(&sub->seed) % DEADLINE_AHEAD_NS;
		}
		for (;;) {
			ret = _call_submit(s->sandbox_fd, deadline, &id);
			if (ret != -EAGAIN)
				break;
			sub->eagain++;
			/* Full: make room by consuming our oldest call. */
			if (!sub->nr)
				break;
			ret = submitter_wait_oldest(sub);
			if (ret)
				break;
		}
		if (ret)
			break;
		if (id >= s->nr_recs) {
			ret = -ERANGE;
			break;
		}
		s->recs[id].submitted++;
		s->recs[id].deadline = kind;
		publish_latest(s, id);
		sub->ring[(sub->head + sub->nr) % WINDOW] = id;
		sub->nr++;
		if (sub->nr == WINDOW) {
			ret = submitter_wait_oldest(sub);
			if (ret)
				break;
		}
	}
	while (!ret && sub->nr)
		ret = submitter_wait_oldest(sub);
	sub->error = ret;
	return NULL;
}

static inline void *canceller_thread(void *arg)
{
	struct canceller *c = arg;
	struct stress *s = c->s;
	struct timespec pause = { 0 };
	uint64_t latest, back, id;
	struct call_rec *rec;
	int ret;

	while (!atomic_load(&s->submitters_done)) {
		latest = atomic_load(&s->latest_id);
		back = rand_r(&c->seed) % CANCEL_SPAN;
		if (back >= latest) {
			sched_yield();
			continue;
		}
		id = latest - back;
		rec = &s->recs[id];
		c->tries++;
		ret = _call_cancel(s->sandbox_fd, id);
		if (!ret)
			rec->cancel_won++;
		else if (ret == -EALREADY)
			rec->cancel_lost++;
		else
			rec->cancel_other++;
		/*
		 * Mostly just yield, so cancellations come fast enough to
		 * hit running calls often; now and then sleep, so they also
		 * come at moments the other threads do not expect.
		 */
		if (rand_r(&c->seed) % 8) {
			sched_yield();
			continue;
		}
		pause.tv_nsec = rand_r(&c->seed) % CANCEL_PAUSE_NS;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* Interrupt the runner at random moments, until the submitters are done. */
static inline void *signaller_thread(void *arg)
{
	struct signaller *sg = arg;
	struct timespec pause = { 0 };

	while (!atomic_load(&sg->s->submitters_done)) {
		pause.tv_nsec = rand_r(&sg->seed) % SIGNAL_PAUSE_NS;
		nanosleep(&pause, NULL);
		if (!pthread_kill(sg->target, SIGUSR1))
			sg->sent++;
	}
	return NULL;
}

#endif /* CALLBOX_STRESS_THREADS_H */

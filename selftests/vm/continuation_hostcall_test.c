// SPDX-License-Identifier: GPL-2.0
/*
 * Continuations that meet a host call, against uapi/linux/callbox.h's
 * "Signals and restarts" and CALL_SYNC: the interrupted ioctl collects
 * its call's outcome however the signal handler ran it on (through a
 * HOSTCALL, or interrupted in turn); a call once handed out in HOSTCALL
 * is consumed by WAIT, never by a CALL_SYNC continuation; and a RUN that
 * cannot write its @out changes nothing, a pending cancellation included.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "continuation_util.h"

/*
 * ==== The interrupted ioctl collects its call's outcome ====
 *
 * "if the call has ended meanwhile (cancelled, say, or continued to its
 * end by such an ioctl issued from the signal handler), it returns that
 * outcome": also when the continuation from the handler took the call to
 * HOSTCALL and the handler's RUN then ended it. The guest spins until
 * released, then makes a host call, then ends with DONE.
 *
 *   0:	inc  byte [0x2004]	; the guest runs (HELD_SPINS)
 *	mov  al, [0x2001]	; released? (HELD_RELEASE)
 *	test al, al
 *	jz   0
 *	mov  dx, CALLBOX_PORT_HOSTCALL
 *	mov  eax, 7
 *	out  dx, eax
 *	mov  dx, CALLBOX_PORT_DONE
 *	out  dx, eax		; status 7
 *	jmp  $
 */
static const uint8_t guest_spin_then_hostcall[] = {
	0xfe, 0x06, 0x04, 0x20, 0xa0, 0x01, 0x20, 0x84, 0xc0, 0x74, 0xf5,
	0xba, 0x08, 0xcb, 0x66, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x66, 0xef,
	0xba, 0x00, 0xcb, 0x66, 0xef, 0xeb, 0xfe,
};

#define THROUGH_STATUS	7

struct through {
	pthread_t thread;
	int fd;
	enum command command;
	volatile uint8_t *release;
	uint64_t ids[1];
	union {
		struct callbox_call_sync sync;
		struct callbox_call_run run;
		struct callbox_call_batch batch;
	} cmd, copy;
	/* From the handler: its continuation, then its RUN. */
	int copy_ret, run_ret;
	struct callbox_call_info run_out;
	atomic_bool handled;
	/* The interrupted ioctl, restarted by the kernel. */
	int ret;
};

static struct through *the_through;

static struct callbox_call_info *through_out(struct through *t, void *cmd)
{
	return (void *)((char *)cmd + commands[t->command].out);
}

static void on_signal_through_hostcall(int sig)
{
	struct through *t = the_through;

	(void)sig;
	*t->release = 1;
	memcpy(&t->copy, &t->cmd, sizeof(t->copy));
	t->copy_ret = ioctl(t->fd, commands[t->command].request, &t->copy) ?
		      -errno : 0;
	t->run_ret = _call_run(t->fd, t->ids[0], 0, &t->run_out);
	atomic_store(&t->handled, true);
}

static void *through_fn(void *p)
{
	struct through *t = p;

	t->ret = ioctl(t->fd, commands[t->command].request, &t->cmd) ?
		 -errno : 0;
	return NULL;
}

FIXTURE(through_hostcall) {
	struct box b;
	struct through t;
};

FIXTURE_VARIANT(through_hostcall) {
	enum command command;
};

FIXTURE_VARIANT_ADD(through_hostcall, sync) { .command = SYNC };
FIXTURE_VARIANT_ADD(through_hostcall, run) { .command = RUN };
FIXTURE_VARIANT_ADD(through_hostcall, batch) { .command = BATCH };

FIXTURE_SETUP(through_hostcall)
{
	box_open(_metadata, &self->b, guest_spin_then_hostcall,
		 sizeof(guest_spin_then_hostcall), true);
}

FIXTURE_TEARDOWN(through_hostcall)
{
	box_close(&self->b);
}

TEST_F_TIMEOUT(through_hostcall, interrupted_ioctl_gets_the_outcome, 60)
{
	struct sigaction sa = { .sa_handler = on_signal_through_hostcall };
	struct through *t = &self->t;
	struct callbox_call_info *out, *copy_out, c;

	return_if_setup_skipped();
	*t = (struct through) {
		.fd = self->b.fd,
		.command = variant->command,
		.release = (uint8_t *)self->b.guest.mem + HELD_RELEASE,
	};
	the_through = t;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	switch (t->command) {
	case RUN:
		call_submit(t->fd, 0, &t->ids[0]);
		t->cmd.run = (struct callbox_call_run) {
			.size = sizeof(t->cmd.run), .id = t->ids[0],
		};
		break;
	case BATCH:
		call_submit(t->fd, 0, &t->ids[0]);
		t->cmd.batch = (struct callbox_call_batch) {
			.size = sizeof(t->cmd.batch),
			.ids = (uintptr_t)t->ids, .nr = 1,
		};
		break;
	case SYNC:
		t->ids[0] = 1;	/* the call CALL_SYNC publishes */
		t->cmd.sync = (struct callbox_call_sync) {
			.size = sizeof(t->cmd.sync),
		};
		break;
	}
	out = through_out(t, &t->cmd);
	copy_out = through_out(t, &t->copy);

	ASSERT_EQ(0, pthread_create(&t->thread, NULL, through_fn, t));
	ASSERT_TRUE(wait_for_state(t->fd, t->ids[0], CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	pthread_kill(t->thread, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&t->handled)));
	ASSERT_EQ(0, pthread_join(t->thread, NULL));

	/* The handler's continuation got the HOSTCALL, its RUN the end. */
	EXPECT_EQ(0, t->copy_ret);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, copy_out->state);
	EXPECT_EQ(0, t->run_ret);
	EXPECT_EQ(CALLBOX_STATE_EXITED, t->run_out.state);

	/* The interrupted ioctl, restarted, returns that outcome. */
	EXPECT_EQ(0, t->ret) {
		TH_LOG("the restarted ioctl: %s", strerror(-t->ret));
	}
	EXPECT_EQ(t->ids[0], out->id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, out->state);
	EXPECT_EQ(THROUGH_STATUS, out->status);
	/* It ended before its turn: the batch stops there. */
	if (t->command == BATCH)
		EXPECT_EQ(0, t->cmd.batch.done);
	/*
	 * Not consumed, not even by CALL_SYNC: "Once it has been handed out
	 * in HOSTCALL (by CALL_SYNC or RUN), only WAIT consumes it".
	 */
	call_wait(t->fd, t->ids[0], 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(THROUGH_STATUS, c.status);
}

/*
 * The reverse: CALL_SYNC's own restart takes the call to HOSTCALL and
 * returns it; RUN ends it. A copy of the struct that the signal handler
 * kept (@out naming the call ENTERED), issued now, cannot be told from
 * the interrupted ioctl: it may return the outcome, but must not consume
 * the call that WAIT is to consume ("continues the call with
 * CALLBOX_CALL_RUN, then consumes it with CALLBOX_CALL_WAIT").
 */
static struct callbox_call_sync stale_sync, *live_sync;
static volatile uint8_t *stale_release;
static pthread_t sync_thread;

static void on_signal_keep_a_copy(int sig)
{
	(void)sig;
	stale_sync = *live_sync;
	*stale_release = 1;
}

static void *kill_when_spinning(void *p)
{
	struct box *b = p;

	if (held_wait_spinning(b->guest.mem))
		pthread_kill(sync_thread, SIGUSR1);
	return NULL;
}

BOX_FIXTURE(kept_sync, guest_spin_then_hostcall, true)

TEST_F_TIMEOUT(kept_sync, does_not_consume_what_wait_is_to, 60)
{
	struct sigaction sa = { .sa_handler = on_signal_keep_a_copy };
	struct callbox_call_sync sync = { .size = sizeof(sync) };
	struct callbox_call_info c;
	pthread_t killer;

	return_if_setup_skipped();
	live_sync = &sync;
	stale_release = (uint8_t *)self->b.guest.mem + HELD_RELEASE;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	sync_thread = pthread_self();
	ASSERT_EQ(0, pthread_create(&killer, NULL, kill_when_spinning,
				    &self->b));
	ASSERT_EQ(0, ioctl(self->b.fd, CALLBOX_CALL_SYNC, &sync));
	ASSERT_EQ(0, pthread_join(killer, NULL));
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, sync.out.state);
	ASSERT_EQ(CALLBOX_STATE_ENTERED, stale_sync.out.state) {
		TH_LOG("the signal did not interrupt the call");
	}
	call_run(self->b.fd, sync.out.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);

	EXPECT_EQ(0, ioctl(self->b.fd, CALLBOX_CALL_SYNC, &stale_sync));
	EXPECT_EQ(CALLBOX_STATE_EXITED, stale_sync.out.state);
	call_wait(self->b.fd, sync.out.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(THROUGH_STATUS, c.status);
}

/*
 * ==== A RUN that cannot write @out does not end a cancelled HOSTCALL ====
 *
 * "A failed ioctl has no side effect": a call in HOSTCALL whose
 * cancellation is pending ends when its owner continues it, and only if
 * that RUN can write @out. Ending it poisons the sandbox (guest code ran,
 * and stopped in the middle of the call).
 */
BOX_FIXTURE(hostcall_cancel, guest_hostcaller, true)

TEST_F(hostcall_cancel, a_failed_run_does_not_end_it)
{
	long page = sysconf(_SC_PAGESIZE);
	struct callbox_call_run *run;
	struct callbox_call_info c;
	uint64_t id;
	char *p;

	return_if_setup_skipped();
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	call_submit(self->b.fd, 0, &id);
	call_run(self->b.fd, id, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	call_cancel(self->b.fd, id);

	run = (void *)(p + page - offsetof(struct callbox_call_run, out));
	*run = (struct callbox_call_run) { .size = sizeof(*run), .id = id };
	ASSERT_EQ(0, mprotect(p + page, page, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->b.fd, CALLBOX_CALL_RUN, run));
	EXPECT_EQ(EFAULT, errno);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_CANCEL_PENDING,
		  c.flags);

	/* With @out writable, it ends as the cancellation said. */
	ASSERT_EQ(0, mprotect(p + page, page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, ioctl(self->b.fd, CALLBOX_CALL_RUN, run));
	EXPECT_EQ(id, run->out.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, run->out.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, run->out.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  run->out.flags);
	munmap(p, 2 * page);
}

/*
 * ==== A HOSTCALL reply that failed still leaves the call to WAIT ====
 *
 * The kernel restarts an interrupted CALL_SYNC, whose struct the test
 * makes read-only while the guest runs on: the call reaches HOSTCALL and
 * the reply fails with EFAULT, which "leave[s] the call unconsumed, under
 * the id". Userspace finds it in HOSTCALL with GET, RUNs it and is to
 * WAIT for it: "Once a reply of CALL_SYNC or RUN has taken it in HOSTCALL
 * (written, or failed with EFAULT), only WAIT consumes it", not the copy
 * of the struct the signal handler kept.
 */
struct failed_reply {
	char *page;
	long page_size;
	volatile uint8_t *release;
	void *mem;
	pthread_t sync_thread;
	atomic_bool handled;
};

static struct failed_reply *the_failed_reply;

static void on_signal_keep_only(int sig)
{
	(void)sig;
	stale_sync = *live_sync;
	atomic_store(&the_failed_reply->handled, true);
}

/*
 * Once the guest (at @mem) spins, send @sig to @thread; true once @flag
 * is set and the guest spins again, false if either never came.
 */
static bool signal_then_wait_spinning(void *mem, pthread_t thread, int sig,
				      atomic_bool *flag)
{
	if (!held_wait_spinning(mem))
		return false;
	pthread_kill(thread, sig);
	return WAIT_FOR(atomic_load(flag)) && held_wait_spinning(mem);
}

/* Interrupt the SYNC; once its restart runs, make it unwritable. */
static void *protect_when_restarted(void *p)
{
	struct failed_reply *f = p;

	if (!signal_then_wait_spinning(f->mem, f->sync_thread, SIGUSR1,
				       &f->handled))
		return NULL;
	mprotect(f->page, f->page_size, PROT_READ);
	*f->release = 1;
	return NULL;
}

TEST_F_TIMEOUT(kept_sync, after_a_failed_hostcall_reply, 60)
{
	struct sigaction sa = { .sa_handler = on_signal_keep_only };
	struct failed_reply f = {
		.page_size = sysconf(_SC_PAGESIZE),
		.mem = self->b.guest.mem,
	};
	struct callbox_call_sync *sync;
	struct callbox_call_info c;
	pthread_t helper;

	return_if_setup_skipped();
	f.release = (uint8_t *)self->b.guest.mem + HELD_RELEASE;
	f.page = mmap(NULL, f.page_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f.page);
	sync = (void *)f.page;
	*sync = (struct callbox_call_sync) { .size = sizeof(*sync) };
	live_sync = sync;
	the_failed_reply = &f;
	f.sync_thread = pthread_self();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&helper, NULL, protect_when_restarted,
				    &f));
	EXPECT_EQ(-1, ioctl(self->b.fd, CALLBOX_CALL_SYNC, sync));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, pthread_join(helper, NULL));
	ASSERT_EQ(CALLBOX_STATE_ENTERED, stale_sync.out.state);

	call_get(self->b.fd, stale_sync.out.id, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	call_run(self->b.fd, stale_sync.out.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(0, ioctl(self->b.fd, CALLBOX_CALL_SYNC, &stale_sync));
	EXPECT_EQ(CALLBOX_STATE_EXITED, stale_sync.out.state);
	call_wait(self->b.fd, stale_sync.out.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	munmap(f.page, f.page_size);
}

/*
 * ==== Interrupted in turn: the first ioctl still collects ====
 *
 * The handler of an interrupted CALL_SYNC continues the call with a copy
 * of the struct to a HOSTCALL, then RUNs it, and that RUN is interrupted
 * too (a second signal) before the kernel restarts it to the call's end.
 * The CALL_SYNC, restarted last, "returns that outcome". The guest spins,
 * makes a host call, spins again, then ends with DONE:
 *
 *   0:	inc  byte [0x2004]	; the guest runs (HELD_SPINS)
 *	mov  al, [0x2001]	; released? (HELD_RELEASE)
 *	test al, al
 *	jz   0
 *	mov  byte [0x2001], 0
 *	dec  byte [0x2006]	; host calls still to make
 *	js   done
 *	mov  dx, CALLBOX_PORT_HOSTCALL
 *	mov  eax, 7
 *	out  dx, eax
 *	jmp  0
 *   done: mov dx, CALLBOX_PORT_DONE
 *	out  dx, eax		; status 7
 *	jmp  $
 */
static const uint8_t guest_spin_hostcall_spin[] = {
	0xfe, 0x06, 0x04, 0x20, 0xa0, 0x01, 0x20, 0x84, 0xc0, 0x74, 0xf5,
	0xc6, 0x06, 0x01, 0x20, 0x00, 0xfe, 0x0e, 0x06, 0x20, 0x78, 0x0d,
	0xba, 0x08, 0xcb, 0x66, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x66, 0xef,
	0xeb, 0xdd, 0xba, 0x00, 0xcb, 0x66, 0xef, 0xeb, 0xfe,
};

#define HOSTCALLS_LEFT	0x2006

struct nested {
	int fd;
	volatile uint8_t *release;
	void *mem;
	pthread_t sync_thread;
	struct callbox_call_sync *sync, copy;
	int copy_ret, run_ret;
	struct callbox_call_info run_out;
	atomic_bool copy_done, handled;
};

static struct nested *the_nested;

/* Inside the handler's RUN: let the guest go on to its DONE. */
static void on_second_signal(int sig)
{
	(void)sig;
	*the_nested->release = 1;
}

/*
 * In the first handler: issue the interrupted SYNC's struct again, as a
 * copy, with the guest let go on to its host call.
 */
static void nested_issue_copy(struct nested *n)
{
	n->copy = *n->sync;
	*n->release = 1;
	n->copy_ret = ioctl(n->fd, CALLBOX_CALL_SYNC, &n->copy) ? -errno : 0;
	atomic_store(&n->copy_done, true);
}

static void on_first_signal(int sig)
{
	struct nested *n = the_nested;

	(void)sig;
	nested_issue_copy(n);
	n->run_ret = _call_run(n->fd, n->copy.out.id, 0, &n->run_out);
	atomic_store(&n->handled, true);
}

static void *interrupt_twice(void *p)
{
	struct nested *n = p;

	if (signal_then_wait_spinning(n->mem, n->sync_thread, SIGUSR1,
				      &n->copy_done))
		pthread_kill(n->sync_thread, SIGUSR2);
	return NULL;
}

BOX_FIXTURE(nested, guest_spin_hostcall_spin, true)

/*
 * Issue @sync, interrupted by SIGUSR1 (@first) once the guest spins, and
 * by SIGUSR2 (@second) once it spins again after the copy's HOSTCALL:
 * the CALL_SYNC's 0 or -errno, with @n's record of the handler.
 */
static int nested_sync(struct __test_metadata *_metadata, struct box *b,
		       struct nested *n, struct callbox_call_sync *sync,
		       void (*first)(int), void (*second)(int))
{
	struct sigaction sa1 = { .sa_handler = first };
	struct sigaction sa2 = { .sa_handler = second };
	pthread_t helper;
	int ret;

	*n = (struct nested) {
		.fd = b->fd,
		.mem = b->guest.mem,
		.sync = sync,
		.release = (uint8_t *)b->guest.mem + HELD_RELEASE,
		.sync_thread = pthread_self(),
	};
	*((uint8_t *)b->guest.mem + HOSTCALLS_LEFT) = 1;
	the_nested = n;
	EXPECT_EQ(0, sigaction(SIGUSR1, &sa1, NULL));
	EXPECT_EQ(0, sigaction(SIGUSR2, &sa2, NULL));
	EXPECT_EQ(0, pthread_create(&helper, NULL, interrupt_twice, n));
	ret = ioctl(b->fd, CALLBOX_CALL_SYNC, sync) ? -errno : 0;
	EXPECT_EQ(0, pthread_join(helper, NULL));
	EXPECT_TRUE(atomic_load(&n->handled));
	return ret;
}

TEST_F_TIMEOUT(nested, the_first_ioctl_collects_the_outcome, 60)
{
	struct callbox_call_sync sync = { .size = sizeof(sync) };
	struct callbox_call_info c;
	struct nested n;
	int ret;

	return_if_setup_skipped();
	ret = nested_sync(_metadata, &self->b, &n, &sync, on_first_signal,
			  on_second_signal);
	ASSERT_TRUE(atomic_load(&n.handled));

	EXPECT_EQ(0, n.copy_ret);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, n.copy.out.state);
	EXPECT_EQ(0, n.run_ret);
	EXPECT_EQ(CALLBOX_STATE_EXITED, n.run_out.state);
	EXPECT_EQ(0, ret) {
		TH_LOG("the restarted CALL_SYNC: %s", strerror(-ret));
	}
	EXPECT_EQ(CALLBOX_STATE_EXITED, sync.out.state);
	EXPECT_EQ(n.run_out.status, sync.out.status);
	/* Handed out in HOSTCALL by the copy: WAIT consumes it. */
	call_wait(self->b.fd, sync.out.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

/*
 * "When one call was interrupted in several ioctls of the thread ...
 * each keeps the right to its outcome once it has ended, but only the
 * one interrupted last continues it while it is parked: the others get
 * EBUSY." As above, but the handler's RUN is refused its restart
 * (immediate_exit) and left parked: the CALL_SYNC's restart gets EBUSY;
 * the RUN, issued again, ends the call; the CALL_SYNC, issued again,
 * collects the outcome.
 */
static struct kvm_run *nested_run;
static struct callbox_call_run parked_run;

static void on_second_signal_refuse(int sig)
{
	(void)sig;
	nested_run->immediate_exit = 1;
}

static void on_first_signal_park(int sig)
{
	struct nested *n = the_nested;

	(void)sig;
	nested_issue_copy(n);
	parked_run = (struct callbox_call_run) {
		.size = sizeof(parked_run), .id = n->copy.out.id,
	};
	n->run_ret = ioctl(n->fd, CALLBOX_CALL_RUN, &parked_run) ? -errno : 0;
	atomic_store(&n->handled, true);
}

TEST_F_TIMEOUT(nested, only_the_last_continues, 60)
{
	struct callbox_call_sync sync = { .size = sizeof(sync) };
	struct callbox_call_info c;
	struct nested n;
	int ret;

	return_if_setup_skipped();
	nested_run = self->b.run;
	ret = nested_sync(_metadata, &self->b, &n, &sync,
			  on_first_signal_park, on_second_signal_refuse);
	ASSERT_TRUE(atomic_load(&n.handled));
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, n.copy.out.state);
	EXPECT_EQ(-EINTR, n.run_ret);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, parked_run.out.state);

	/* Parked by the RUN: the CALL_SYNC may not continue it. */
	EXPECT_EQ(-EBUSY, ret);
	call_get(self->b.fd, sync.out.id, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);

	self->b.run->immediate_exit = 0;
	*n.release = 1;
	EXPECT_EQ(0, ioctl(self->b.fd, CALLBOX_CALL_RUN, &parked_run));
	EXPECT_EQ(CALLBOX_STATE_EXITED, parked_run.out.state);

	/* Ended: the CALL_SYNC collects the outcome, and leaves it. */
	EXPECT_EQ(0, ioctl(self->b.fd, CALLBOX_CALL_SYNC, &sync));
	EXPECT_EQ(CALLBOX_STATE_EXITED, sync.out.state);
	EXPECT_EQ(parked_run.out.status, sync.out.status);
	call_wait(self->b.fd, sync.out.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * A continuation checks its struct before it enters the guest.
 *
 * uapi/linux/callbox.h: "CALLBOX_CALL_SYNC, CALLBOX_CALL_RUN and
 * CALLBOX_CALL_BATCH write the call's id and state into their @out before
 * they enter the guest", and BATCH's "@done is written back as it came
 * before any call is entered". That holds for the ioctl that continues a
 * parked call too: the kernel's own restart after a signal handler, the
 * same struct issued again after EINTR, and one issued from the signal
 * handler itself. A struct that cannot be written fails with EFAULT
 * before the guest runs on, and leaves the call parked, for a struct that
 * can.
 *
 * Each cell parks a call of guest_util.h's guest_held (it spins until
 * released) with SIGUSR1, makes one field of the continuation's struct
 * read-only, and checks that the continuation fails at once and the call
 * is still where the interruption left it. The guest is not released
 * until then, so a continuation that entered the guest would not return.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>

#include "callbox_util.h"

enum command { RUN, BATCH, SYNC };

/* How the continuation is issued. */
enum continuation {
	KERNEL_RESTART,		/* the handler returns; the kernel restarts */
	REISSUED_AFTER_EINTR,	/* immediate_exit refuses the restart */
	FROM_THE_HANDLER,	/* the handler issues a copy of the struct */
};

/*
 * The struct lies across two pages, @out starting the upper one: the
 * fields before it (BATCH's @done among them) in the lower page, @out in
 * the upper. One of the two is made read-only.
 */
enum read_only_page { FIELDS_BEFORE_OUT, OUT };

struct continuer {
	pthread_t thread;
	int fd;
	struct kvm_run *run;
	volatile uint16_t *done_count;	/* in guest memory */
	enum command command;
	enum continuation how;
	enum read_only_page ro;
	long page;
	char *area;		/* two pages: the struct the thread issues */
	char *copy_area;	/* two pages: FROM_THE_HANDLER's copy */
	uint64_t ids[1];
	/* The continuation that must fail, and the call right after it. */
	int failed_ret;
	struct callbox_call_info after_failed;
	uint16_t done_count_after_failed;
	atomic_bool failed;
	/* The ioctl that ends the call. */
	int ret;
	atomic_bool returned;
};

/* One test per process (the harness forks): the handler finds it here. */
static struct continuer *the_continuer;

static const struct {
	unsigned long request;
	size_t size, out;
} commands[] = {
	[RUN] = { CALLBOX_CALL_RUN, sizeof(struct callbox_call_run),
		  offsetof(struct callbox_call_run, out) },
	[BATCH] = { CALLBOX_CALL_BATCH, sizeof(struct callbox_call_batch),
		    offsetof(struct callbox_call_batch, out) },
	[SYNC] = { CALLBOX_CALL_SYNC, sizeof(struct callbox_call_sync),
		   offsetof(struct callbox_call_sync, out) },
};

static void *cmd_in(const struct continuer *w, char *area)
{
	return area + w->page - commands[w->command].out;
}

static struct callbox_call_info *out_of(const struct continuer *w, void *cmd)
{
	return (void *)((char *)cmd + commands[w->command].out);
}

static int protect(const struct continuer *w, char *area, int prot)
{
	return mprotect(area + (w->ro == OUT ? w->page : 0), w->page, prot);
}

static int issue(const struct continuer *w, void *cmd)
{
	return ioctl(w->fd, commands[w->command].request, cmd) ? -errno : 0;
}

/* What the failed continuation left: its errno, the call, the guest. */
static void record_failed(struct continuer *w, int ret)
{
	w->failed_ret = ret;
	if (_call_get(w->fd, w->ids[0], &w->after_failed))
		w->after_failed.state = UINT32_MAX;
	w->done_count_after_failed = *w->done_count;
	atomic_store(&w->failed, true);
}

static void on_signal(int sig)
{
	struct continuer *w = the_continuer;
	void *copy;

	(void)sig;
	switch (w->how) {
	case KERNEL_RESTART:
		protect(w, w->area, PROT_READ);
		break;
	case REISSUED_AFTER_EINTR:
		w->run->immediate_exit = 1;
		break;
	case FROM_THE_HANDLER:
		/* The interrupted ioctl wrote its @out: the parked call. */
		copy = cmd_in(w, w->copy_area);
		memcpy(copy, cmd_in(w, w->area), commands[w->command].size);
		protect(w, w->copy_area, PROT_READ);
		record_failed(w, issue(w, copy));
		break;
	}
}

static void *continuer_fn(void *p)
{
	struct continuer *w = p;
	void *cmd = cmd_in(w, w->area);
	int ret;

	ret = issue(w, cmd);
	switch (w->how) {
	case KERNEL_RESTART:
		/* The restart failed: it is the ioctl's return. */
		record_failed(w, ret);
		protect(w, w->area, PROT_READ | PROT_WRITE);
		ret = issue(w, cmd);
		break;
	case REISSUED_AFTER_EINTR:
		if (ret != -EINTR)
			break;
		w->run->immediate_exit = 0;
		protect(w, w->area, PROT_READ);
		record_failed(w, issue(w, cmd));
		protect(w, w->area, PROT_READ | PROT_WRITE);
		ret = issue(w, cmd);
		break;
	case FROM_THE_HANDLER:
		break;
	}
	w->ret = ret;
	atomic_store(&w->returned, true);
	return NULL;
}

FIXTURE(continuation) {
	struct box b;
	struct continuer w;
};

FIXTURE_VARIANT(continuation) {
	enum command command;
	enum read_only_page ro;
	enum continuation how;
};

#define CELL(name, cmd, page, way)					\
	FIXTURE_VARIANT_ADD(continuation, name) {			\
		.command = cmd, .ro = page, .how = way,			\
	}

CELL(sync_out_kernel_restart, SYNC, OUT, KERNEL_RESTART);
CELL(sync_out_reissued_after_eintr, SYNC, OUT, REISSUED_AFTER_EINTR);
CELL(sync_out_from_the_handler, SYNC, OUT, FROM_THE_HANDLER);
CELL(run_out_kernel_restart, RUN, OUT, KERNEL_RESTART);
CELL(run_out_reissued_after_eintr, RUN, OUT, REISSUED_AFTER_EINTR);
CELL(run_out_from_the_handler, RUN, OUT, FROM_THE_HANDLER);
CELL(batch_out_kernel_restart, BATCH, OUT, KERNEL_RESTART);
CELL(batch_out_reissued_after_eintr, BATCH, OUT, REISSUED_AFTER_EINTR);
CELL(batch_out_from_the_handler, BATCH, OUT, FROM_THE_HANDLER);
CELL(batch_done_kernel_restart, BATCH, FIELDS_BEFORE_OUT, KERNEL_RESTART);
CELL(batch_done_reissued_after_eintr, BATCH, FIELDS_BEFORE_OUT,
     REISSUED_AFTER_EINTR);
CELL(batch_done_from_the_handler, BATCH, FIELDS_BEFORE_OUT,
     FROM_THE_HANDLER);

FIXTURE_SETUP(continuation)
{
	struct continuer *w = &self->w;

	box_open(_metadata, &self->b, guest_held, sizeof(guest_held), true);
	if (_metadata->skip)
		return;
	*w = (struct continuer) {
		.fd = self->b.fd,
		.run = self->b.run,
		.done_count = (volatile uint16_t *)
			((uint8_t *)self->b.guest.mem + HELD_DONE_COUNT),
		.command = variant->command,
		.how = variant->how,
		.ro = variant->ro,
		.page = sysconf(_SC_PAGESIZE),
	};
	w->area = mmap(NULL, 4 * w->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w->area);
	w->copy_area = w->area + 2 * w->page;
	the_continuer = w;
}

FIXTURE_TEARDOWN(continuation)
{
	if (self->w.area && self->w.area != MAP_FAILED)
		munmap(self->w.area, 4 * self->w.page);
	box_close(&self->b);
}

TEST_F_TIMEOUT(continuation, checks_its_struct_before_the_guest_runs, 60)
{
	struct sigaction sa = { .sa_handler = on_signal };
	volatile uint8_t *release;
	struct continuer *w = &self->w;
	struct callbox_call_info *out;
	void *cmd;

	return_if_setup_skipped();
	release = (uint8_t *)self->b.guest.mem + HELD_RELEASE;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	cmd = cmd_in(w, w->area);
	switch (w->command) {
	case RUN:
		call_submit(w->fd, 0, &w->ids[0]);
		*(struct callbox_call_run *)cmd = (struct callbox_call_run) {
			.size = sizeof(struct callbox_call_run),
			.id = w->ids[0],
		};
		break;
	case BATCH:
		call_submit(w->fd, 0, &w->ids[0]);
		*(struct callbox_call_batch *)cmd = (struct callbox_call_batch) {
			.size = sizeof(struct callbox_call_batch),
			.ids = (uintptr_t)w->ids,
			.nr = 1,
		};
		break;
	case SYNC:
		/* Ids count from 1: the call CALL_SYNC publishes. */
		w->ids[0] = 1;
		*(struct callbox_call_sync *)cmd = (struct callbox_call_sync) {
			.size = sizeof(struct callbox_call_sync),
		};
		break;
	}
	out = out_of(w, cmd);
	ASSERT_EQ(0, pthread_create(&w->thread, NULL, continuer_fn, w));
	ASSERT_TRUE(wait_for_state(w->fd, w->ids[0], CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));

	pthread_kill(w->thread, SIGUSR1);
	EXPECT_TRUE(WAIT_FOR(atomic_load(&w->failed))) {
		TH_LOG("the continuation did not return: it entered the guest");
	}
	if (!atomic_load(&w->failed)) {
		*release = 1;
		pthread_join(w->thread, NULL);
		return;
	}
	EXPECT_EQ(-EFAULT, w->failed_ret) {
		TH_LOG("the continuation returned %s",
		       w->failed_ret ? strerror(-w->failed_ret) : "0");
	}
	/* Still parked as the interruption left it; the guest not done. */
	EXPECT_EQ(CALLBOX_STATE_ENTERED, w->after_failed.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, w->after_failed.flags);
	EXPECT_EQ(0, w->done_count_after_failed);

	/* A struct that can be written continues it. */
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	*release = 1;
	ASSERT_TRUE(WAIT_FOR(atomic_load(&w->returned)));
	ASSERT_EQ(0, pthread_join(w->thread, NULL));
	EXPECT_EQ(0, w->ret) {
		TH_LOG("the last continuation: %s", strerror(-w->ret));
	}
	EXPECT_EQ(w->ids[0], out->id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, out->state);
	EXPECT_EQ(1, out->status);
	if (w->command == BATCH)
		EXPECT_EQ(1, ((struct callbox_call_batch *)cmd)->done);
}

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

TEST_HARNESS_MAIN

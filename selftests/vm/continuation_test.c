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

#include "continuation_util.h"

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

TEST_HARNESS_MAIN

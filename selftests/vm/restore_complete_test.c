// SPDX-License-Identifier: GPL-2.0
/*
 * A restore is complete, however the last request ended: the residue
 * guest scribbles over every piece of CPU state it can reach and over
 * words of its image, heap and stack; the request then ends one way or
 * another; callbox_sandbox_restore() puts the guest back without running
 * its init; and every piece and word is as it was once the init had
 * exited. A request that poisoned the sandbox (anything that stopped the
 * guest in the middle of a call) needs nothing more than the restore:
 * the kernel lifts the poison once the restore is complete.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "inspect_util.h"
#include "residue_util.h"

/* The host's wait(): returns only once its call is cancelled. */
static atomic_bool host_waiting;

static int host_wait(struct callbox_sandbox *sb,
		     const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result, void *opaque)
{
	uint64_t until = now_ns() + 20000 * MS;

	(void)args;
	(void)opaque;
	atomic_store(&host_waiting, true);
	while (!callbox_host_fn_cancelled(sb) && now_ns() < until)
		usleep(1000);
	atomic_store(&host_waiting, false);
	return callbox_host_fn_fail(sb, -ECANCELED, "cancelled");
}

FIXTURE(restore) {
	struct residue r;
	int inits;		/* the init's log lines since the load */
};

/*
 * The host's nest(): runs, resets and restores calls of its own sandbox,
 * which the call that runs it holds. Each must fail with -EDEADLK rather
 * than wait for itself.
 */
static int nest_ret[4];

static int host_nest(struct callbox_sandbox *sb,
		     const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result, void *opaque)
{
	int64_t v;

	(void)args;
	(void)opaque;
	nest_ret[0] = callbox_sandbox_restore(sb);
	nest_ret[1] = callbox_sandbox_reset(sb);
	nest_ret[2] = callbox_call_int(sb, "ok", NULL, 0, &v);
	nest_ret[3] = callbox_sandbox_snapshot(sb);
	callbox_wire_put_i64(result, 0);
	return 0;
}

/* The residue guest, with the host functions it calls. */
static struct callbox_sandbox *
load_with_host_fns(struct __test_metadata *_metadata)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;

	residue_config(&cfg);
	sb = sandbox_new(&cfg);
	EXPECT_EQ(0, callbox_sandbox_add_host_fn(sb, "wait", "i64()",
						 host_wait, NULL));
	EXPECT_EQ(0, callbox_sandbox_add_host_fn(sb, "nest", "i64()",
						 host_nest, NULL));
	load_into(sb, "residue");
	return sb;
}

/* How the last request ends. */
FIXTURE_VARIANT(restore) {
	const char *function;	/* called after the scribbling */
	int64_t arg;
	bool cancel;		/* cancelled once it runs */
	int err;		/* what the library says of it */
	bool poisons;
};

FIXTURE_VARIANT_ADD(restore, returned) {
	.function = "ok", .err = 0,
};

FIXTURE_VARIANT_ADD(restore, faulted) {
	/* An MSR nobody has: #GP in the guest. */
	.function = "read_msr", .arg = 0xdeadbeef, .err = -EIO,
	.poisons = true,
};

FIXTURE_VARIANT_ADD(restore, triple_fault) {
	.function = "triple_fault", .err = -EIO, .poisons = true,
};

FIXTURE_VARIANT_ADD(restore, cancelled_while_spinning) {
	.function = "spin", .cancel = true, .err = -ECANCELED,
	.poisons = true,
};

FIXTURE_VARIANT_ADD(restore, host_call_never_returned) {
	.function = "host_wait", .cancel = true, .err = -ECANCELED,
	.poisons = true,
};

FIXTURE_SETUP(restore)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	self->r.sb = load_with_host_fns(_metadata);
	residue_read_fresh(_metadata, &self->r);
	callbox_sandbox_set_log_fn(self->r.sb, count_init_logs, &self->inits);
}

FIXTURE_TEARDOWN(restore)
{
	callbox_sandbox_free(self->r.sb);
}

struct lib_run {
	struct callbox_sandbox *sb;
	int ret;
};

static void *run_one(void *p)
{
	struct lib_run *r = p;

	r->ret = callbox_call_run(r->sb, 0);
	return NULL;
}

/* Has the sandbox's current call entered the guest (fdinfo says so)? */
static bool call_entered(struct callbox_sandbox *sb)
{
	struct cb_fdinfo fi;

	return !fdinfo_read(0, callbox_sandbox_fd(sb), &fi) &&
	       !strcmp(fi.call_state, "ENTERED");
}

/*
 * Submit the variant's call, run it on a thread of its own, and cancel it
 * once it has entered the guest (and the host's wait() waits, for a host
 * call). Its error, and its flags in *@flags.
 */
static int call_cancelled_once(struct __test_metadata *_metadata,
			       struct callbox_sandbox *sb,
			       const char *function, unsigned int delay_ms,
			       uint32_t *flags)
{
	struct lib_run run = { .sb = sb };
	struct callbox_wire_value result;
	struct callbox_outcome outcome;
	pthread_t thread;
	uint64_t id;
	int ret;

	ret = callbox_call_submit(sb, function, NULL, 0, 0, &id);
	if (ret)
		return ret;
	if (pthread_create(&thread, NULL, run_one, &run))
		return -errno;
	if (!strcmp(function, "host_wait")) {
		EXPECT_TRUE(WAIT_FOR(atomic_load(&host_waiting)));
	} else {
		EXPECT_TRUE(WAIT_FOR(call_entered(sb)));
	}
	usleep(delay_ms * 1000);
	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	EXPECT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, run.ret);
	ret = callbox_call_wait(sb, id, 0, &result, &outcome);
	*flags = outcome.call.flags;
	return ret;
}

/*
 * The same until guest code had run when the cancellation came: KVM says
 * so only once it returns (CALLBOX_CALL_GUEST_RAN), and a spinning guest
 * does not make it return, so wait longer each time.
 */
static int call_cancelled(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb, const char *function)
{
	unsigned int tries;
	uint32_t flags = 0;
	int ret = -EPROTO;

	for (tries = 1; tries <= 10; tries++) {
		ret = call_cancelled_once(_metadata, sb, function, 10 * tries,
					  &flags);
		if (ret != -ECANCELED || (flags & CALLBOX_CALL_GUEST_RAN))
			break;
		TH_LOG("cancelled before the guest ran, try %u", tries);
	}
	return ret;
}

TEST_F_TIMEOUT(restore, puts_back_every_piece_and_word, 120)
{
	struct word w[NR_WORDS];
	int64_t arg = variant->arg, v;
	int ret;

	return_if_setup_skipped();
	find_words(_metadata, self->r.sb, w);
	scribble(_metadata, &self->r);
	poke_words(_metadata, self->r.sb, w);

	if (variant->cancel)
		ret = call_cancelled(_metadata, self->r.sb,
				     variant->function);
	else
		ret = callbox_call_int(self->r.sb, variant->function, &arg,
				       variant->arg ? 1 : 0, &v);
	EXPECT_EQ(variant->err, ret) {
		TH_LOG("%s: %s", variant->function,
		       callbox_sandbox_last_error(self->r.sb));
	}
	if (variant->poisons)
		EXPECT_EQ(-ENOTRECOVERABLE,
			  callbox_call_int(self->r.sb, "ok", NULL, 0, &v));

	ASSERT_EQ(0, callbox_sandbox_restore(self->r.sb)) {
		TH_LOG("restore: %s", callbox_sandbox_last_error(self->r.sb));
	}
	/* No init ran, and no reset was needed. */
	EXPECT_EQ(0, self->inits);
	expect_words_fresh(_metadata, self->r.sb, w, "a restore");
	expect_pieces_fresh(_metadata, &self->r);
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
	EXPECT_EQ(0, self->inits);
}

/*
 * From a host function, restore, reset, snapshot and a call of its own
 * sandbox fail with -EDEADLK; before, each waited for the call that runs
 * it, for ever.
 */
TEST(from_a_host_function_is_refused)
{
	struct callbox_sandbox *sb;
	int64_t v = -1;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	sb = load_with_host_fns(_metadata);
	ASSERT_EQ(0, callbox_call_int(sb, "host_nest", NULL, 0, &v)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(0, v);
	EXPECT_EQ(-EDEADLK, nest_ret[0]);
	EXPECT_EQ(-EDEADLK, nest_ret[1]);
	EXPECT_EQ(-EDEADLK, nest_ret[2]);
	EXPECT_EQ(-EDEADLK, nest_ret[3]);
	ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
	callbox_sandbox_free(sb);
}

/* Write MSR_STAR (pieces[0]) through the guest: 0 or the call's error. */
static int write_star(struct callbox_sandbox *sb, int64_t value)
{
	int64_t args[2] = { pieces[0].which, value }, r;
	int ret = callbox_call_int(sb, "write_msr", args, 2, &r);

	return ret ? ret : (int)r;
}

/*
 * callbox_sandbox_snapshot(): restores go back to the guest as it was
 * then, memory and registers, not to the init's; a reset still goes back
 * to the image and the init, and leaves the snapshot as it was.
 */
TEST(snapshot_becomes_the_restore_point)
{
	struct callbox_sandbox *sb;
	struct word w[NR_WORDS], init[NR_WORDS];
	int64_t star_fresh, v;
	int inits = 0, round;
	unsigned int i;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	sb = load_with_host_fns(_metadata);
	callbox_sandbox_set_log_fn(sb, count_init_logs, &inits);
	find_words(_metadata, sb, w);
	memcpy(init, w, sizeof(w));
	ASSERT_EQ(0, read_piece(sb, &pieces[0], &star_fresh));

	/* The snapshot: PATTERN + i in each word, pieces[0]'s value. */
	poke_words(_metadata, sb, w);
	ASSERT_EQ(0, write_star(sb, (int64_t)pieces[0].value));
	ASSERT_EQ(0, callbox_sandbox_snapshot(sb)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	for (i = 0; i < NR_WORDS; i++)
		w[i].fresh = (int64_t)PATTERN + i;

	for (round = 0; round < 2; round++) {
		/* A request scribbles; a restore takes it back to the snapshot. */
		for (i = 0; i < NR_WORDS; i++) {
			int64_t args[2] = { w[i].addr, 0x1234 };

			ASSERT_EQ(0, callbox_call_int(sb, "poke", args, 2, &v));
		}
		ASSERT_EQ(0, write_star(sb, 0x0023001000000000ll));
		ASSERT_EQ(0, callbox_sandbox_restore(sb)) {
			TH_LOG("%s", callbox_sandbox_last_error(sb));
		}
		expect_words_fresh(_metadata, sb, w, "a restore to the snapshot");
		ASSERT_EQ(0, read_piece(sb, &pieces[0], &v));
		EXPECT_EQ((int64_t)pieces[0].value, v);
		EXPECT_EQ(0, inits);

		/* A reset: the image and its init, and the snapshot stays. */
		ASSERT_EQ(0, callbox_sandbox_reset(sb));
		EXPECT_EQ(1, inits);
		inits = 0;
		expect_words_fresh(_metadata, sb, init, "a reset");
		ASSERT_EQ(0, read_piece(sb, &pieces[0], &v));
		EXPECT_EQ(star_fresh, v);
	}
	callbox_sandbox_free(sb);
}

/*
 * A guest stopped in the middle of a call is no restore point:
 * -ENOTRECOVERABLE, and the snapshot stays the one before.
 */
TEST(snapshot_of_a_poisoned_guest_is_refused)
{
	struct callbox_sandbox *sb;
	struct word w[NR_WORDS];
	int64_t args[2] = { 0xdeadbeef, 0 }, v;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	sb = load_with_host_fns(_metadata);
	find_words(_metadata, sb, w);
	poke_words(_metadata, sb, w);
	EXPECT_EQ(-EIO, callbox_call_int(sb, "write_msr", args, 2, &v));
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_sandbox_snapshot(sb));
	EXPECT_STREQ("snapshot: the guest stopped in the middle of a call, or its init failed: restore or reset it first",
		     callbox_sandbox_last_error(sb));
	/* Still poisoned, and the restore point is the load's. */
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_int(sb, "ok", NULL, 0, &v));
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	expect_words_fresh(_metadata, sb, w, "a restore");
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN

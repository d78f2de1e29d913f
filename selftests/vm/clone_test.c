// SPDX-License-Identifier: GPL-2.0
/*
 * callbox_sandbox_clone(): new sandboxes from a sandbox's snapshot.
 *
 * "The clone starts as @parent's snapshot ..., memory and vCPU ...; its
 * init does not run. It shares @parent's memory copy-on-write: a page is
 * its own only once its guest writes it, so N clones cost N times the
 * pages they write, not N times the memory, and no write of one is ever
 * seen by another, or by @parent."
 */
#include <inttypes.h>

#include "inspect_util.h"
#include "residue_util.h"

#define NR_CLONES	8

FIXTURE(clone) {
	struct callbox_sandbox *parent;
	struct word w[NR_WORDS];	/* fresh: as at the parent's snapshot */
	int inits;
};

FIXTURE_SETUP(clone)
{
	struct callbox_config cfg;
	unsigned int i;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	residue_config(&cfg);
	self->parent = load(&cfg, "residue");
	callbox_sandbox_set_log_fn(self->parent, count_init_logs, &self->inits);
	find_words(_metadata, self->parent, self->w);
	/* The snapshot clones start from: PATTERN + i in each word. */
	poke_words(_metadata, self->parent, self->w);
	ASSERT_EQ(0, callbox_sandbox_snapshot(self->parent));
	for (i = 0; i < NR_WORDS; i++)
		self->w[i].fresh = (int64_t)PATTERN + i;
	self->inits = 0;
}

FIXTURE_TEARDOWN(clone)
{
	callbox_sandbox_free(self->parent);
}

static void poke(struct __test_metadata *_metadata,
		 struct callbox_sandbox *sb, int64_t addr, int64_t value)
{
	int64_t args[2] = { addr, value }, v;

	ASSERT_EQ(0, callbox_call_int(sb, "poke", args, 2, &v)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
}

static int64_t peek(struct __test_metadata *_metadata,
		    struct callbox_sandbox *sb, int64_t addr)
{
	int64_t v = -1;

	EXPECT_EQ(0, callbox_call_int(sb, "peek", &addr, 1, &v)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	return v;
}

/* As the snapshot: its words, its MSR, calls that work, no init run. */
TEST_F(clone, starts_as_the_snapshot)
{
	struct callbox_sandbox *child;
	int64_t v;

	return_if_setup_skipped();
	ASSERT_EQ(0, write_piece(self->parent, &pieces[0]));
	ASSERT_EQ(0, callbox_sandbox_snapshot(self->parent));
	ASSERT_EQ(0, callbox_sandbox_clone(self->parent, &child)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->parent));
	}
	expect_words_fresh(_metadata, child, self->w, "a clone");
	ASSERT_EQ(0, read_piece(child, &pieces[0], &v));
	EXPECT_EQ((int64_t)pieces[0].value, v);
	ASSERT_EQ(0, callbox_call_int(child, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
	EXPECT_EQ(0, self->inits);
	/* It lives on without its parent. */
	callbox_sandbox_free(self->parent);
	self->parent = NULL;
	ASSERT_EQ(0, callbox_call_int(child, "ok", NULL, 0, &v));
	callbox_sandbox_free(child);
}

/* Every word, in every sandbox, is what that sandbox wrote, and only it. */
TEST_F(clone, writes_are_never_shared)
{
	struct callbox_sandbox *child[NR_CLONES];
	unsigned int i, j;

	return_if_setup_skipped();
	for (i = 0; i < NR_CLONES; i++)
		ASSERT_EQ(0, callbox_sandbox_clone(self->parent, &child[i]));
	for (j = 0; j < NR_WORDS; j++) {
		for (i = 0; i < NR_CLONES; i++)
			poke(_metadata, child[i], self->w[j].addr,
			     (int64_t)(0x1000 * (i + 1) + j));
		poke(_metadata, self->parent, self->w[j].addr, 0x77);
	}
	for (j = 0; j < NR_WORDS; j++) {
		for (i = 0; i < NR_CLONES; i++)
			EXPECT_EQ((int64_t)(0x1000 * (i + 1) + j),
				  peek(_metadata, child[i], self->w[j].addr)) {
				TH_LOG("clone %u, the %s word", i,
				       self->w[j].name);
			}
		EXPECT_EQ(0x77, peek(_metadata, self->parent,
				     self->w[j].addr));
	}
	for (i = 0; i < NR_CLONES; i++)
		callbox_sandbox_free(child[i]);
}

/* A clone restores to the snapshot, after a call that poisoned it too. */
TEST_F(clone, restores_to_the_snapshot)
{
	struct callbox_sandbox *child;
	int64_t args[2] = { 0xdeadbeef, 0 }, v;
	unsigned int i;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_sandbox_clone(self->parent, &child));
	for (i = 0; i < NR_WORDS; i++)
		poke(_metadata, child, self->w[i].addr, 0x55);
	EXPECT_EQ(-EIO, callbox_call_int(child, "write_msr", args, 2, &v));
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_int(child, "ok", NULL, 0, &v));
	ASSERT_EQ(0, callbox_sandbox_restore(child)) {
		TH_LOG("%s", callbox_sandbox_last_error(child));
	}
	expect_words_fresh(_metadata, child, self->w, "a clone's restore");
	/* And the parent's snapshot can move on without it. */
	poke(_metadata, self->parent, self->w[0].addr, 0x66);
	ASSERT_EQ(0, callbox_sandbox_snapshot(self->parent));
	ASSERT_EQ(0, callbox_sandbox_restore(child));
	expect_words_fresh(_metadata, child, self->w, "a clone's restore");
	callbox_sandbox_free(child);
}

TEST_F(clone, cannot_be_reset_or_cloned)
{
	struct callbox_sandbox *child, *grandchild = (void *)1;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_sandbox_clone(self->parent, &child));
	EXPECT_EQ(-EOPNOTSUPP, callbox_sandbox_reset(child));
	EXPECT_STREQ("reset: a clone has no image of its own: restore it instead",
		     callbox_sandbox_last_error(child));
	EXPECT_EQ(-EOPNOTSUPP, callbox_sandbox_clone(child, &grandchild));
	EXPECT_EQ(NULL, grandchild);
	EXPECT_STREQ("clone: a clone cannot be cloned: clone the sandbox it was cloned from",
		     callbox_sandbox_last_error(child));
	callbox_sandbox_free(child);
}

/* The process's private pages, in KiB (smaps_rollup). */
static long private_kib(void)
{
	char buf[4096], *p;
	long clean = -1, dirty = -1;

	if (read_text("/proc/self/smaps_rollup", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "Private_Clean:");
	if (p)
		clean = strtol(p + 14, NULL, 10);
	p = strstr(buf, "Private_Dirty:");
	if (p)
		dirty = strtol(p + 14, NULL, 10);
	return clean < 0 || dirty < 0 ? -1 : clean + dirty;
}

/*
 * N clones cost N times what they write: each clone that ran calls and
 * wrote a word costs a few dozen private pages (what its calls wrote, its
 * kvm_run, the library's own), not its memory, nor even its image.
 */
TEST_F(clone, costs_what_it_writes)
{
	struct callbox_sandbox *child[NR_CLONES];
	long before, after, per_clone;
	unsigned int i;

	return_if_setup_skipped();
	before = private_kib();
	ASSERT_LT(0, before);
	for (i = 0; i < NR_CLONES; i++) {
		ASSERT_EQ(0, callbox_sandbox_clone(self->parent, &child[i]));
		poke(_metadata, child[i], self->w[3].addr, i);
	}
	after = private_kib();
	per_clone = (after - before) / NR_CLONES;
	TH_LOG("%ld KiB private per clone, of %" PRIu64 " KiB of guest memory",
	       per_clone, (uint64_t)CALLBOX_DEFAULT_MEM_SIZE >> 10);
	EXPECT_GT(256, per_clone);
	for (i = 0; i < NR_CLONES; i++)
		callbox_sandbox_free(child[i]);
}

TEST_HARNESS_MAIN

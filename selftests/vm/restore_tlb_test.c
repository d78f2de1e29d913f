// SPDX-License-Identifier: GPL-2.0
/*
 * A restore makes KVM drop every translation the guest holds. The
 * library puts guest memory back behind KVM's back, page tables included,
 * and a guest can hold translations that no page table shows any more: a
 * global one, say, from tables it switched CR3 to and back from. KVM
 * drops them all when it resets the vCPU's MMU context
 * (kvm_mmu_reset_context()): the next entry loads a root and flushes the
 * guest's TLB.
 *
 * QEMU's emulation flushes its TLB at every VMRUN, so a stale translation
 * cannot be shown in the test VM. What is shown is the cause: with the
 * function tracer on kvm_mmu_reset_context(), each restore must reset the
 * context, and a plain call, the control, must not.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "sdk_util.h"
#include "tracefs_util.h"

#define INSTANCE	"callbox_restore_tlb"
#define TRACED		"kvm_mmu_reset_context"

FIXTURE(tlb) {
	char dir[256];		/* the tracefs instance; "" if none */
	struct callbox_sandbox *sb;
};

FIXTURE_SETUP(tlb)
{
	const char *root = tracefs_root();
	char path[300];

	self->dir[0] = '\0';
	self->sb = NULL;
	if (!root)
		SKIP(return, "no tracefs");
	snprintf(self->dir, sizeof(self->dir), "%s/instances/" INSTANCE,
		 root);
	rmdir(self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755)) {
		self->dir[0] = '\0';
		TH_LOG("mkdir %s: %s", self->dir, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/set_ftrace_filter", self->dir);
	if (write_text(path, TRACED))
		SKIP(return, "the function tracer cannot trace " TRACED);
	snprintf(path, sizeof(path), "%s/current_tracer", self->dir);
	if (write_text(path, "function"))
		SKIP(return, "no function tracer");
	self->sb = load(NULL, "arith");
}

FIXTURE_TEARDOWN(tlb)
{
	char path[300];

	if (self->sb)
		callbox_sandbox_free(self->sb);
	if (!self->dir[0])
		return;
	snprintf(path, sizeof(path), "%s/current_tracer", self->dir);
	write_text(path, "nop");
	rmdir(self->dir);
}

/* Empty the instance's buffer. */
static int trace_clear(const char *dir)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/trace", dir);
	return write_text(path, "");
}

/* How many times the traced function ran since trace_clear(), or -errno. */
static int trace_count(const char *dir)
{
	char path[300], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && strstr(line, TRACED))
			n++;
	fclose(f);
	return n;
}

static void call_noop(struct __test_metadata *_metadata,
		      struct callbox_sandbox *sb)
{
	ASSERT_EQ(0, callbox_call_int(sb, "noop", NULL, 0, NULL)) {
		TH_LOG("noop: %s", callbox_sandbox_last_error(sb));
	}
}

TEST_F(tlb, every_restore_resets_the_mmu_context)
{
	int i;

	for (i = 0; i < 5; i++) {
		call_noop(_metadata, self->sb);

		/* The control: a call alone keeps its translations. */
		ASSERT_EQ(0, trace_clear(self->dir));
		call_noop(_metadata, self->sb);
		EXPECT_EQ(0, trace_count(self->dir));

		ASSERT_EQ(0, trace_clear(self->dir));
		ASSERT_EQ(0, callbox_sandbox_restore(self->sb)) {
			TH_LOG("restore: %s",
			       callbox_sandbox_last_error(self->sb));
		}
		EXPECT_LE(1, trace_count(self->dir)) {
			TH_LOG("restore %d left the guest's translations", i);
		}
	}
}

/* A sandbox that runs every call from the snapshot restores each time. */
TEST_F(tlb, fresh_calls_reset_the_mmu_context)
{
	struct callbox_config cfg;
	struct callbox_sandbox *fresh;
	int i;

	callbox_config_init(&cfg);
	cfg.flags = CALLBOX_CONFIG_FRESH_CALLS;
	fresh = load(&cfg, "arith");
	call_noop(_metadata, fresh);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, trace_clear(self->dir));
		call_noop(_metadata, fresh);
		EXPECT_LE(1, trace_count(self->dir));
	}
	callbox_sandbox_free(fresh);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * A security module's word on KVM_RUN holds through callbox too.
 *
 * callbox enters the guest by calling the vCPU file's ioctl handler from
 * the kernel, which skips the security_file_ioctl() hook of the ioctl
 * syscall; so it calls the hook itself before every entry. Here a real
 * policy, a BPF LSM program (lsm_deny_kvm_run.bpf.c, embedded in this
 * binary), forbids KVM_RUN to this test process only: CALL_SYNC and RUN
 * must then fail with its errno, with no side effect, and work again once
 * the policy is detached. The hook is asked at the moment of entry: a
 * policy attached while the ioctl's struct write is stalled (stall.h)
 * holds too. And a runner whose host call cannot be continued (the policy
 * attached by the host function) reports it, and ends that call for its
 * waiter instead of leaving it parked for ever.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <bpf/libbpf.h>

#include <callbox/callbox.h>

#include "callbox_util.h"
#include "sdk_util.h"
#include "stall.h"

/* The policy's object file, built by the Makefile, embedded whole. */
#ifndef LSM_BPF_OBJ
#error "LSM_BPF_OBJ must name the BPF object file (see selftests/vm/Makefile)"
#endif
asm(".pushsection .rodata, \"a\"\n"
    ".balign 8\n"
    "lsm_bpf_obj:\n"
    ".incbin \"" LSM_BPF_OBJ "\"\n"
    "lsm_bpf_obj_end:\n"
    ".popsection\n");
extern const char lsm_bpf_obj[], lsm_bpf_obj_end[];

/* The policy's .rodata (struct deny in lsm_deny_kvm_run.bpf.c). */
struct lsm_deny {
	uint32_t tgid;
	uint32_t cmd;
};

#define SECURITYFS	"/sys/kernel/security"

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	fprintf(stderr, "# ");
	return vfprintf(stderr, fmt, ap);
}

/*
 * Is the BPF LSM among the active LSMs? 1 yes, 0 no, or -errno if the
 * list cannot be read. The test VM does not mount securityfs: mount it
 * for the read if it is not there.
 */
static int bpf_lsm_active(void)
{
	char list[512], *tok, *save;
	bool mounted = false;
	ssize_t len;
	int fd, err;

	fd = open(SECURITYFS "/lsm", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mount("securityfs", SECURITYFS, "securityfs", 0, NULL))
			return -errno;
		mounted = true;
		fd = open(SECURITYFS "/lsm", O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		err = -errno;
		if (mounted)
			umount(SECURITYFS);
		return err;
	}
	len = read(fd, list, sizeof(list) - 1);
	err = len < 0 ? -errno : 0;
	close(fd);
	if (mounted)
		umount(SECURITYFS);
	if (err)
		return err;
	list[len] = '\0';
	for (tok = strtok_r(list, ",\n", &save); tok;
	     tok = strtok_r(NULL, ",\n", &save))
		if (!strcmp(tok, "bpf"))
			return 1;
	return 0;
}

FIXTURE(lsm) {
	struct box b;
	struct bpf_object *obj;
	struct bpf_link *link;
};

FIXTURE_SETUP(lsm)
{
	self->obj = NULL;
	self->link = NULL;
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
}

FIXTURE_TEARDOWN(lsm)
{
	/* The policy goes first, whatever failed. */
	bpf_link__destroy(self->link);
	bpf_object__close(self->obj);
	box_close(&self->b);
}

/*
 * Load and attach the policy, forbidding KVM_RUN to this process (each
 * test runs in its own process, forked by the harness). Returns false
 * after SKIP() if the BPF LSM is not available; fails the test on any
 * other error.
 */
static bool policy_attach(struct __test_metadata *_metadata,
			  FIXTURE_DATA(lsm) *self)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts,
		    .object_name = "lsm_deny_kvm_run");
	struct lsm_deny deny = { .tgid = getpid(), .cmd = KVM_RUN };
	struct bpf_program *prog;
	struct bpf_map *rodata;
	int ret;

	ret = bpf_lsm_active();
	if (ret == -EPERM || ret == -ENODEV || ret == -ENOENT) {
		SKIP(return false, "cannot read the active LSMs from "
		     SECURITYFS "/lsm: %s", strerror(-ret));
	}
	ASSERT_LE(0, ret) {
		TH_LOG("reading " SECURITYFS "/lsm: %s", strerror(-ret));
	}
	if (!ret)
		SKIP(return false, "the BPF LSM is not active (lsm= list)");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		SKIP(return false, "no kernel BTF: BPF LSM programs need it");

	libbpf_set_print(libbpf_print);
	self->obj = bpf_object__open_mem(lsm_bpf_obj,
					 lsm_bpf_obj_end - lsm_bpf_obj, &opts);
	ASSERT_NE(NULL, self->obj) {
		TH_LOG("opening the BPF object: %s", strerror(errno));
	}
	rodata = bpf_object__find_map_by_name(self->obj, ".rodata");
	ASSERT_NE(NULL, rodata);
	ret = bpf_map__set_initial_value(rodata, &deny, sizeof(deny));
	ASSERT_EQ(0, ret) {
		TH_LOG("setting the policy's target: %s", strerror(-ret));
	}

	ret = bpf_object__load(self->obj);
	if (ret == -EPERM)
		SKIP(return false, "loading BPF needs CAP_BPF/CAP_SYS_ADMIN");
	ASSERT_EQ(0, ret) {
		TH_LOG("loading the BPF object: %s", strerror(-ret));
	}
	prog = bpf_object__find_program_by_name(self->obj, "deny_kvm_run");
	ASSERT_NE(NULL, prog);
	self->link = bpf_program__attach_lsm(prog);
	if (!self->link && errno == EPERM)
		SKIP(return false, "attaching a BPF LSM program: EPERM");
	ASSERT_NE(NULL, self->link) {
		TH_LOG("attaching the BPF LSM program: %s", strerror(errno));
	}
	return true;
}

static void policy_detach(struct __test_metadata *_metadata,
			  FIXTURE_DATA(lsm) *self)
{
	ASSERT_EQ(0, bpf_link__destroy(self->link));
	self->link = NULL;
	bpf_object__close(self->obj);
	self->obj = NULL;
}

/* Control: with no policy, a call enters the guest and EXITs. */
TEST_F(lsm, no_policy_call_exits)
{
	struct callbox_call_info c;

	return_if_setup_skipped();
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(1, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);
}

/*
 * With KVM_RUN forbidden, callbox refuses to enter the guest, with the
 * policy's errno and no side effect: no call made by CALL_SYNC, the call
 * RUN was given still QUEUED, and the guest never ran (its counter says
 * the call run after detaching is its first).
 */
TEST_F(lsm, policy_forbids_entry)
{
	struct callbox_call_info c;
	uint64_t id = 0;

	return_if_setup_skipped();
	if (!policy_attach(_metadata, self))
		return;

	/* The policy is live: KVM_RUN from userspace is refused. */
	errno = 0;
	ASSERT_EQ(-1, ioctl(self->b.guest.vm.vcpu_fd, KVM_RUN, 0));
	ASSERT_EQ(EPERM, errno);

	call_sync_err(EPERM, self->b.fd, 0, &c);
	call_get_err(ENOENT, self->b.fd, 1, &c);

	call_submit(self->b.fd, 0, &id);
	EXPECT_EQ(1, id);
	call_run_err(EPERM, self->b.fd, id, 0, &c);
	call_run_err(EPERM, self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);

	policy_detach(_metadata, self);
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);
	call_wait(self->b.fd, id, 0, &c);
	EXPECT_EQ(1, c.status);
}

/*
 * The hook is asked when a call is entered, not when RUN starts: a RUN
 * that began waiting for work before the policy was attached still enters
 * nothing once it is.
 */
TEST_F(lsm, policy_holds_for_a_run_that_waited)
{
	struct call_runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	uint64_t id = 0;

	return_if_setup_skipped();
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	usleep(100 * 1000);	/* waiting for work, before the policy */
	if (!policy_attach(_metadata, self)) {
		_call_submit(self->b.fd, 0, &id);
		pthread_join(r.thread, NULL);
		return;
	}
	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(-EPERM, r.ret);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);
	policy_detach(_metadata, self);
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(1, c.status);		/* the guest's first call */
	call_wait(self->b.fd, id, 0, &c);
}

/* Detaching the policy (destroying the link) lets calls in again. */
TEST_F(lsm, detach_restores_calls)
{
	struct callbox_call_info c;
	uint32_t i;

	return_if_setup_skipped();
	if (!policy_attach(_metadata, self))
		return;
	call_sync_err(EPERM, self->b.fd, 0, &c);
	policy_detach(_metadata, self);

	for (i = 1; i <= 3; i++) {
		call_sync(self->b.fd, 0, &c);
		EXPECT_EQ(i, c.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
		EXPECT_EQ(i, c.status);
	}
}

/*
 * The policy is this process's only: another process's KVM_RUN (on its
 * own VM, with immediate_exit so that it returns at once) gets past the
 * hook, to KVM's EINTR.
 */
TEST_F(lsm, policy_spares_other_processes)
{
	int status;
	pid_t pid;

	return_if_setup_skipped();
	if (!policy_attach(_metadata, self))
		return;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct raw_vm vm;
		struct kvm_run *kr;
		long size;

		if (raw_vm_create(&vm))
			_exit(2);
		size = ioctl(vm.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
		if (size <= 0)
			_exit(3);
		kr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  vm.vcpu_fd, 0);
		if (kr == MAP_FAILED)
			_exit(4);
		kr->immediate_exit = 1;
		if (ioctl(vm.vcpu_fd, KVM_RUN, 0) != -1)
			_exit(5);
		_exit(errno == EINTR ? 0 : errno == EPERM ? 1 : 6);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("the other process's KVM_RUN: %s",
		       WEXITSTATUS(status) == 1 ? "EPERM" : "setup failed");
	}

	/* And this process stays refused. */
	call_sync_err(EPERM, self->b.fd, 0, &(struct callbox_call_info){});
}

/*
 * ==== The policy holds at entry, after a stalled write too ====
 *
 * RUN writes @out, and CALL_SYNC its publication reply, before they
 * enter the guest; a write to userspace can take as long as the process
 * likes. The hook must be asked after those writes, right before
 * KVM_RUN: a policy attached while the write is held up still refuses
 * entry, with its errno and nothing entered. RUN: the call stays QUEUED,
 * without CALLBOX_CALL_GUEST_RAN. CALL_SYNC: the id it wrote back names
 * a call that is gone (ESRCH), never run; the sandbox is not poisoned.
 * Either way, once the policy is detached, the guest runs its first call.
 *
 * The write is held up as in stall_test.c (see stall.h): the ioctl's
 * struct is alone in a page that userfaultfd write-protects, so the
 * kernel's copy_to_user() waits for this process to lift the protection.
 */
FIXTURE(lsm_stall) {
	FIXTURE_DATA(lsm) lsm;	/* guest, sandbox and policy, as above */
	struct stall st;	/* and the ioctl that stalls */
};

FIXTURE_VARIANT(lsm_stall) {
	bool sync;
};

FIXTURE_VARIANT_ADD(lsm_stall, run) {
	.sync = false,
};

FIXTURE_VARIANT_ADD(lsm_stall, call_sync) {
	.sync = true,
};

FIXTURE_SETUP(lsm_stall)
{
	stall_init(&self->st);
	lsm_setup(_metadata, &self->lsm, NULL);
	if (_metadata->skip)
		return;
	stall_open(_metadata, &self->st);
}

/*
 * However the test ended: stall_close() lets the write land, shuts the
 * sandbox down and joins the ioctl's thread; then the policy goes.
 */
FIXTURE_TEARDOWN(lsm_stall)
{
	stall_close(_metadata, &self->st, self->lsm.b.fd);
	lsm_teardown(_metadata, &self->lsm, NULL);
}

TEST_F_TIMEOUT(lsm_stall, policy_attached_during_the_stalled_write, 120)
{
	struct callbox_call_sync *sync = self->st.page;
	struct callbox_call_run *run_cmd = self->st.page;
	struct stall *st = &self->st;
	struct callbox_call_info c;
	int fd = self->lsm.b.fd;
	uint64_t id = 0;

	return_if_setup_skipped();
	if (variant->sync) {
		sync->size = sizeof(*sync);
	} else {
		call_submit(fd, 0, &id);
		ASSERT_EQ(1, id);
		run_cmd->size = sizeof(*run_cmd);
		run_cmd->id = id;
	}

	/* No policy yet: the ioctl passes every check, then stalls. */
	stall_arm(st);
	stall_ioctl(st, fd, variant->sync ? CALLBOX_CALL_SYNC :
					    CALLBOX_CALL_RUN);
	ASSERT_TRUE(stall_wait(st, 5000)) {
		TH_LOG("the ioctl did not write its struct");
	}

	/* The policy arrives meanwhile (the teardown releases on a SKIP). */
	if (!policy_attach(_metadata, &self->lsm))
		return;
	errno = 0;
	ASSERT_EQ(-1, ioctl(self->lsm.b.guest.vm.vcpu_fd, KVM_RUN, 0));
	ASSERT_EQ(EPERM, errno);

	/* The write lands: the ioctl must not enter the guest now. */
	stall_release(st);
	ASSERT_TRUE(stall_ioctl_join(st, 10000)) {
		TH_LOG("the ioctl still runs");
	}
	EXPECT_EQ(-EPERM, st->ret) {
		c = variant->sync ? sync->out : run_cmd->out;
		TH_LOG("the ioctl returned %s: call %llu state %u flags %#x",
		       st->ret ? strerror(-st->ret) : "0",
		       (unsigned long long)c.id, c.state, c.flags);
	}
	if (variant->sync) {
		EXPECT_EQ(1, sync->out.id);
		EXPECT_EQ(-ESRCH, _call_get(fd, 1, &c)) {
			TH_LOG("call 1: state %u flags %#x", c.state, c.flags);
		}
	} else {
		call_get(fd, id, &c);
		EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
		EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);
	}

	/* Detached, the guest runs its first call. */
	policy_detach(_metadata, &self->lsm);
	if (variant->sync) {
		call_sync(fd, 0, &c);
		EXPECT_EQ(2, c.id);
	} else {
		call_run(fd, id, 0, &c);
		EXPECT_EQ(id, c.id);
	}
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);		/* the guest's first call */
	if (!variant->sync) {
		call_wait(fd, id, 0, &c);
		EXPECT_EQ(1, c.status);
	}
}

/* A host function that attaches the policy, once. */
struct attach_in_host_fn {
	struct __test_metadata *metadata;
	FIXTURE_DATA(lsm) *self;
	bool tried, attached;
};

static int attach_policy_fn(struct callbox_sandbox *sb,
			    const struct callbox_wire_value *args,
			    struct callbox_wire_writer *result, void *opaque)
{
	struct attach_in_host_fn *a = opaque;

	(void)sb;
	if (!a->tried) {
		a->tried = true;
		a->attached = policy_attach(a->metadata, a->self);
	}
	callbox_wire_put_i64(result, 2 * args[0].i64);
	return 0;
}

TEST_F(lsm, runner_ends_a_call_it_cannot_continue)
{
	struct attach_in_host_fn a = { .metadata = _metadata, .self = self };
	struct callbox_wire_value arg = CALLBOX_I64(1), res;
	struct callbox_sandbox *sb;
	struct callbox_outcome out;
	uint64_t ids[2];

	return_if_setup_skipped();
	sb = sandbox_new(NULL);
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 attach_policy_fn, &a));
	load_into(sb, "host");
	ASSERT_EQ(0, callbox_call_submit(sb, "via_host", &arg, 1, 0, &ids[0]));
	ASSERT_EQ(0, callbox_call_submit(sb, "via_host", &arg, 1, 0, &ids[1]));

	/* The host call is served, then continuing the call is refused. */
	EXPECT_EQ(-EPERM, callbox_call_run_all(sb, 0));
	if (!a.attached) {
		callbox_sandbox_free(sb);
		return;		/* skipped: no BPF LSM */
	}
	/* Its waiter learns it, rather than wait for ever. */
	EXPECT_EQ(-ECANCELED,
		  callbox_call_wait(sb, ids[0], callbox_deadline_after(10 * 1000 * MS),
				    &res, &out));
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, out.call.reason);
	policy_detach(_metadata, self);

	/* It stopped the guest mid-call; the other is still queued. */
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_run_all(sb, 0));
	ASSERT_EQ(0, callbox_sandbox_reset(sb));
	EXPECT_EQ(1, callbox_call_run_all(sb, 0));
	ASSERT_EQ(0, callbox_call_wait(sb, ids[1], 0, &res, NULL));
	EXPECT_EQ(3, res.i64);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN

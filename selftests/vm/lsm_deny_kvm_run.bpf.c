// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF LSM policy for lsm_test: forbid one ioctl command (KVM_RUN) on
 * every file, but only to one process. Both are set by the test in
 * .rodata before it loads the program, so nothing else in the system is
 * ever refused anything.
 */
#include <linux/bpf.h>
#include <asm-generic/errno-base.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Never dereferenced: the policy looks at the command and the caller. */
struct file;

/* Set by the test before load (lsm_test.c has the same struct). */
const volatile struct {
	__u32 tgid;		/* the process refused; 0 refuses nobody */
	__u32 cmd;		/* the ioctl command refused */
} deny = {};

SEC("lsm/file_ioctl")
int BPF_PROG(deny_kvm_run, struct file *file, unsigned int cmd,
	     unsigned long arg, int ret)
{
	/* An earlier BPF program refused already: keep its answer. */
	if (ret)
		return ret;
	if (!deny.tgid || cmd != deny.cmd ||
	    bpf_get_current_pid_tgid() >> 32 != deny.tgid)
		return 0;
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";

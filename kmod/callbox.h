/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox internal definitions, shared by the files of callbox.ko.
 */
#ifndef _CALLBOX_H
#define _CALLBOX_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/callbox.h>

struct file;
struct kvm_vcpu;
struct mm_struct;

/**
 * struct callbox_ucmd - one ioctl in flight
 * @ubuffer: the user's struct
 * @user_size: its size as userspace gave it
 * @cmd: the kernel copy, zero-extended to the size this kernel knows
 */
struct callbox_ucmd {
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
};

/**
 * struct callbox_ioctl_op - one row of an ioctl dispatch table
 * @ioctl_num: the ioctl command (CALLBOX_*)
 * @size: size of the struct this kernel knows
 * @min_size: smallest size userspace may pass (the first published size)
 * @execute: the handler; it sees only the kernel copy in @ucmd->cmd
 */
struct callbox_ioctl_op {
	unsigned int ioctl_num;
	u32 size;
	u32 min_size;
	int (*execute)(void *obj, struct callbox_ucmd *ucmd);
};

long callbox_ioctl_dispatch(const struct callbox_ioctl_op *ops,
			    size_t num_ops, void *obj, unsigned int cmd,
			    unsigned long arg);
int callbox_ucmd_respond(struct callbox_ucmd *ucmd, size_t cmd_len);

/**
 * struct callbox_call - the kernel's record of one call
 * @id: unique within the sandbox, increasing, never reused
 * @state: an &enum callbox_call_state
 * @reason: an &enum callbox_abort_reason, set when @state is ABORTED
 * @flags: &enum callbox_call_out_flags
 * @status: the value the guest wrote to CALLBOX_PORT_DONE
 * @detail: reason-specific detail, see &enum callbox_abort_reason
 * @exit_reason: KVM exit reason of the call's last exit
 *
 * Written only under &callbox_sandbox.lock, through
 * callbox_call_transition_locked() for @state.
 */
struct callbox_call {
	u64 id;
	u32 state;
	u32 reason;
	u32 flags;
	u32 status;
	u64 detail;
	u32 exit_reason;
};

/**
 * struct callbox_sandbox - a sandbox: one vCPU that callbox runs calls on
 * @vcpu_file: reference on the vCPU's file; keeps the vCPU and its VM alive
 * @vcpu: the vCPU behind @vcpu_file
 * @mm: the address space that created the sandbox (mmgrab'ed); the vCPU
 *	can only run there
 * @run_lock: held while a call runs, so calls run one at a time
 * @lock: guards @next_call_id, @poisoned and @call
 * @next_call_id: the id the next call gets
 * @poisoned: a call aborted after guest code ran, so guest memory and
 *	registers are in an unknown state; further calls are refused
 * @call: the current, or else the last, call
 */
struct callbox_sandbox {
	struct file *vcpu_file;
	struct kvm_vcpu *vcpu;
	struct mm_struct *mm;
	struct mutex run_lock;	/* one call runs at a time */
	spinlock_t lock;	/* call state; never held across KVM_RUN */
	u64 next_call_id;
	bool poisoned;
	struct callbox_call call;
};

int callbox_sandbox_create(void *unused, struct callbox_ucmd *ucmd);

void callbox_call_init_locked(struct callbox_sandbox *sb,
			      struct callbox_call *call);
void callbox_call_transition_locked(struct callbox_sandbox *sb,
				    struct callbox_call *call, u32 new_state);
void callbox_call_abort_locked(struct callbox_sandbox *sb,
			       struct callbox_call *call, u32 reason,
			       u64 detail);

void callbox_run_call(struct callbox_sandbox *sb, struct callbox_call *call);

#endif /* _CALLBOX_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox internal definitions, shared by the files of callbox.ko.
 */
#ifndef _CALLBOX_H
#define _CALLBOX_H

#include <linux/errno.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/uidgid.h>
#include <linux/callbox.h>
#include <linux/callbox_netlink.h>

/* Guest exits are decoded from x86 KVM's port I/O (vcpu->arch.pio_data). */
#ifndef CONFIG_X86
#error "callbox needs x86 KVM"
#endif

struct attribute_group;
struct dentry;
struct file;
struct kvm_vcpu;
struct mm_struct;
struct pid;
struct seq_file;
struct task_struct;

/*
 * The largest struct userspace may pass, whatever the command: like
 * clone3() and openat2(), so a huge @size is never scanned for zeroes.
 */
#define CALLBOX_UCMD_SIZE_MAX	4096

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

/*
 * Take a sandbox mutex (run_lock, publish_lock) for an ioctl that has done
 * nothing yet: a signal lets its handler run, then restarts the ioctl, so
 * waiting behind another thread never fails a call.
 */
static inline int callbox_lock_or_restart(struct mutex *lock)
{
	return mutex_lock_interruptible(lock) ? -ERESTARTNOINTR : 0;
}

long callbox_ioctl_dispatch(const struct callbox_ioctl_op *ops,
			    size_t num_ops, void *obj, unsigned int cmd,
			    unsigned long arg);
int callbox_ucmd_respond(struct callbox_ucmd *ucmd, size_t cmd_len);
int callbox_ucmd_respond_nofault(struct callbox_ucmd *ucmd, size_t cmd_len);

struct callbox_sandbox;

/**
 * struct callbox_transition - a state a call entered, and when
 * @state: an &enum callbox_call_state
 * @time_ns: CLOCK_MONOTONIC
 */
struct callbox_transition {
	u32 state;
	u64 time_ns;
};

/**
 * struct callbox_call_record - a call as the inspection interfaces show it
 * @id: its id
 * @state: an &enum callbox_call_state
 * @reason: an &enum callbox_abort_reason
 * @flags: &enum callbox_call_info_flags
 * @age_ns: time since it was queued (an ended call: queued to ended)
 * @runner_tid: the thread in KVM_RUN for it, in the reader's pid
 *	namespace; 0 if none
 * @deadline_left_ns: time left to its deadline; -1 if it has none or has
 *	ended, 0 if passed
 * @nr_transitions: how many states it has been in
 * @transitions: see &callbox_call.transitions
 */
struct callbox_call_record {
	u64 id;
	u32 state;
	u32 reason;
	u32 flags;
	u64 age_ns;
	pid_t runner_tid;
	s64 deadline_left_ns;
	u32 nr_transitions;
	struct callbox_transition transitions[CALLBOX_NL_MAX_TRANSITIONS];
};

/**
 * struct callbox_call - one call (call.c)
 * @kref: held by the sandbox's list from publication until the call is
 *	consumed, and by every thread working on it
 * @sb: the sandbox; the call holds a reference on it
 * @node: on &callbox_sandbox.calls until consumed
 * @queue_node: on &callbox_sandbox.queue while QUEUED
 * @deadline_timer: fires at the call's deadline, if it has one
 * @kick_work: task work that forces the runner out of KVM_RUN
 * @transitions: the first CALLBOX_NL_MAX_TRANSITIONS - 1 states it has
 *	been in and the latest, with their times (for the inspection
 *	interfaces); only the first @nr_transitions are meaningful
 * @id: unique within the sandbox, increasing, never reused; it and every
 *	field after it start zeroed for each call, while @deadline_timer and
 *	@kick_work are set up once per allocation (callbox_call_alloc())
 * @state: an &enum callbox_call_state
 * @reason: an &enum callbox_abort_reason, set when @state is ABORTED
 * @flags: &enum callbox_call_info_flags
 * @status: the value of the guest's DONE or HOSTCALL, while in that state
 * @detail: reason-specific detail, see &enum callbox_abort_reason
 * @exit_reason: KVM exit reason of the call's last exit
 * @cancel_reason: the cancellation that won (CANCELLED, DEADLINE,
 *	SANDBOX_CLOSED), 0 if none; fixed once set
 * @parked_cmd: the ioctl (CALLBOX_CALL_SYNC, RUN or BATCH) that was
 *	last interrupted while running the call, which alone may continue
 *	it; 0 if it never was interrupted
 * @parked_cmds: every ioctl that was interrupted while running the call
 *	(a bit per command): each may collect its outcome once it has ended,
 *	however others ran it on meanwhile
 * @owner: the thread that entered the guest for the call (a pid
 *	reference); only it may continue the call after a HOSTCALL or an
 *	interruption
 * @claimed: an ioctl is writing the outcome and will consume the call
 *	(callbox_call_claim_locked())
 * @consumed: taken off the sandbox's list; its id is unknown from now on
 * @deadline_ns: its deadline on CLOCK_MONOTONIC, 0 if none
 * @kicked: a cancellation forced its runner out of KVM_RUN
 * @hostcall_replied: a reply of CALL_SYNC or RUN took it in HOSTCALL:
 *	from then on WAIT consumes it, never CALL_SYNC (a restart collecting
 *	it cannot be told from a stale copy of the struct that said HOSTCALL)
 * @nr_transitions: how many states it has been in, QUEUED included
 *
 * @transitions and the fields after @id are guarded by &callbox_sandbox.lock.
 */
struct callbox_call {
	struct kref kref;
	struct callbox_sandbox *sb;
	struct list_head node;
	struct list_head queue_node;
	struct hrtimer deadline_timer;
	struct callback_head kick_work;
	struct callbox_transition transitions[CALLBOX_NL_MAX_TRANSITIONS];
	u64 id;
	u32 state;
	u32 reason;
	u32 flags;
	u32 status;
	u64 detail;
	u32 exit_reason;
	u32 cancel_reason;
	unsigned int parked_cmd;
	u32 parked_cmds;
	struct pid *owner;
	bool claimed;
	bool consumed;
	u64 deadline_ns;
	bool kicked;
	bool hostcall_replied;
	u32 nr_transitions;
};

/**
 * struct callbox_sandbox - one vCPU that callbox runs calls on (sandbox.c)
 * @kref: held by the sandbox file and by every call
 * @vcpu_file: reference on the vCPU's file; keeps the vCPU and its VM alive
 * @vcpu: the vCPU behind @vcpu_file
 * @mm: the address space that created the sandbox (mmgrab'ed); the vCPU
 *	can only run there
 * @run_lock: held while a thread runs a call, so calls run one at a time
 * @publish_lock: held while a new call gets its id, from the moment the id
 *	is chosen until the call is on the lists, so that the id can be
 *	written to userspace before anything is published
 * @lock: guards everything below, and the calls' state
 * @wq: woken when a call ends, is queued, or gets a pending cancellation,
 *	and on shutdown
 * @reap_work: while a call is parked, checks now and then that its owner
 *	thread still lives (see callbox_sandbox_reap_locked())
 * @calls: every call not yet consumed, oldest first
 * @queue: QUEUED calls, in the order they will run
 * @nr_calls: calls on @calls other than init calls (CALLBOX_MAX_CALLS)
 * @nr_init: init calls on @calls (also at most CALLBOX_MAX_CALLS)
 * @nr_ended: calls on @calls that have ended (for poll)
 * @next_call_id: the id the next call gets
 * @current_call: the call ENTERED or in HOSTCALL, if any
 * @runner: the thread inside KVM_RUN for @current_call, or NULL: a
 *	current call with no runner is *parked*
 * @starting_call: the call the run_lock holder has chosen to run (or the
 *	CALL_SYNC call it publishes), until it is entered or ends: RESET
 *	fails at once rather than wait for run_lock
 * @init_call: the init call of a reset, from RESET until it ends; while
 *	it is set no other call may enter the guest
 * @poisoned: a call aborted in the middle of guest code, or an init call
 *	did not exit, so the guest is not ready; runs are refused until reset
 * @restoring: the id of the restore in progress (userspace is putting the
 *	guest back to a snapshot, CALLBOX_SANDBOX_RESTORE), 0 if none: no
 *	call may enter the guest until it ends
 * @next_restore_id: the id the next restore gets
 * @batching: a CALL_BATCH holds run_lock, between its calls too (where it
 *	reads @ids and writes @done): RESET fails at once rather than wait
 * @shutdown: the sandbox was shut down; nothing new may start
 * @id: module-wide, never reused while the module is loaded
 * @owner_pid: the creating process (its thread-group leader's pid)
 * @owner_uid: the creator's effective uid
 * @created_ns: CLOCK_MONOTONIC at creation
 * @nr_published: calls published on it, init calls included
 * @nr_exited: its calls that ended EXITED
 * @nr_aborted: its calls that ended ABORTED
 * @recent: the last CALLBOX_NL_RECENT_CALLS calls that ended, a ring
 * @nr_recent: how many calls ended in all; the next goes to
 *	@recent[@nr_recent % CALLBOX_NL_RECENT_CALLS]
 * @debugfs: its debugfs directory (debugfs.c)
 * @spare_call: a released call kept for the next one, or NULL (see
 *	callbox_call_alloc()); taken and put back with atomic exchanges
 */
struct callbox_sandbox {
	struct kref kref;
	struct file *vcpu_file;
	struct kvm_vcpu *vcpu;
	struct mm_struct *mm;
	struct mutex run_lock;		/* one call runs at a time */
	struct mutex publish_lock;	/* ids are given out in order */
	spinlock_t lock;	/* irq-safe: the deadline timer takes it */
	wait_queue_head_t wq;
	struct delayed_work reap_work;
	struct list_head calls;
	struct list_head queue;
	u32 nr_calls;
	u32 nr_init;
	u32 nr_ended;
	u64 next_call_id;
	struct callbox_call *current_call;
	struct task_struct *runner;
	struct callbox_call *starting_call;
	struct callbox_call *init_call;
	bool poisoned;
	u64 restoring;
	u64 next_restore_id;
	bool batching;
	bool shutdown;
	u64 id;
	struct pid *owner_pid;
	kuid_t owner_uid;
	u64 created_ns;
	u64 nr_published;
	u64 nr_exited;
	u64 nr_aborted;
	struct callbox_call_record recent[CALLBOX_NL_RECENT_CALLS];
	u64 nr_recent;
	struct dentry *debugfs;
	struct callbox_call *spare_call;
};

/**
 * struct callbox_sandbox_report - a sandbox as the inspection interfaces
 *	show it, copied under its lock (inspect.c)
 * @id: &callbox_sandbox.id
 * @owner_pid: the owner's pid in the reader's pid namespace; 0 if it is
 *	not visible there, or has exited
 * @owner_uid: &callbox_sandbox.owner_uid
 * @state: an &enum callbox_nl_sandbox_state
 * @age_ns: time since creation
 * @nr_published: see &callbox_sandbox
 * @nr_exited: see &callbox_sandbox
 * @nr_aborted: see &callbox_sandbox
 * @current_call: the id of the current call, 0 if none
 * @nr_live: entries of @live
 * @live: every call not yet consumed, oldest first (NULL if not asked for)
 * @nr_recent: entries of @recent
 * @recent: the last calls that ended, oldest first
 */
struct callbox_sandbox_report {
	u64 id;
	pid_t owner_pid;
	kuid_t owner_uid;
	u32 state;
	u64 age_ns;
	u64 nr_published;
	u64 nr_exited;
	u64 nr_aborted;
	u64 current_call;
	u32 nr_live;
	struct callbox_call_record *live;
	u32 nr_recent;
	struct callbox_call_record recent[CALLBOX_NL_RECENT_CALLS];
};

/**
 * callbox_sandbox_wake() - wake whoever waits on or polls @sb->wq
 * @sb: the sandbox
 *
 * Call it after the change its waiters test for. Most changes wake
 * nobody (a sync call makes five), so the queue is looked at first: the
 * barrier in wq_has_sleeper() pairs with the one every waiter passes
 * between joining the queue and testing its condition (set_current_state()
 * in wait_event*(); for a poller, sb->lock, under which the changes it
 * tests are made and read). Either the waiter sees the change, or this
 * sees the waiter.
 */
static inline void callbox_sandbox_wake(struct callbox_sandbox *sb)
{
	if (wq_has_sleeper(&sb->wq))
		wake_up_all(&sb->wq);
}

/* sandbox.c */
int callbox_sandbox_create(void *unused, struct callbox_ucmd *ucmd);
void callbox_sandbox_put(struct callbox_sandbox *sb);
bool callbox_sandbox_reap_locked(struct callbox_sandbox *sb);
void callbox_sandbox_park_locked(struct callbox_sandbox *sb);
void callbox_sandbox_starting_locked(struct callbox_sandbox *sb,
				     struct callbox_call *call);
void callbox_run_unlock(struct callbox_sandbox *sb);
int callbox_sandbox_publish(struct callbox_sandbox *sb,
			    struct callbox_call *call, u64 deadline_ns,
			    bool init, bool enter, struct callbox_ucmd *ucmd,
			    u64 *reply_id, size_t reply_len);

/* reset.c: RESET and RESTORE, which make the guest ready again */
int callbox_sandbox_reset(void *obj, struct callbox_ucmd *ucmd);
int callbox_sandbox_restore(void *obj, struct callbox_ucmd *ucmd);

/**
 * callbox_call_record_transition_locked() - note the state a call entered
 * @call: the call
 * @now: when, CLOCK_MONOTONIC
 *
 * The first CALLBOX_NL_MAX_TRANSITIONS - 1 states are kept, and the
 * latest in the last place: a call that goes back and forth between
 * ENTERED and HOSTCALL many times still shows how it began and ended.
 */
static inline void
callbox_call_record_transition_locked(struct callbox_call *call, u64 now)
{
	u32 slot = min_t(u32, call->nr_transitions,
			 CALLBOX_NL_MAX_TRANSITIONS - 1);

	lockdep_assert_held(&call->sb->lock);

	call->transitions[slot].state = call->state;
	call->transitions[slot].time_ns = now;
	call->nr_transitions++;
}

/* registry.c: every sandbox by id, for the inspection interfaces */
int callbox_registry_add(struct callbox_sandbox *sb);
void callbox_registry_remove(struct callbox_sandbox *sb);
struct callbox_sandbox *callbox_registry_find(u64 id);
struct callbox_sandbox *callbox_registry_next(u64 *id);
unsigned long callbox_registry_seq(void);
unsigned long callbox_registry_count(void);

/* inspect.c */
struct callbox_sandbox_report *callbox_sandbox_report(struct callbox_sandbox *sb,
						      bool with_calls);
void callbox_sandbox_report_free(struct callbox_sandbox_report *report);
const char *callbox_state_name(u32 state);
const char *callbox_sandbox_state_name(u32 state);
const char *callbox_abort_reason_name(u32 reason);
u32 callbox_sandbox_state_locked(const struct callbox_sandbox *sb);
void callbox_call_record_end_locked(struct callbox_call *call, u64 now);
void callbox_sandbox_show_fdinfo(struct seq_file *m, struct file *file);

/* stats.c: module-wide counters (stats.h), shown in sysfs */
extern const struct attribute_group *callbox_stats_groups[];

/* debugfs.c */
void callbox_debugfs_init(void);
void callbox_debugfs_exit(void);
void callbox_debugfs_sandbox_add(struct callbox_sandbox *sb);
void callbox_debugfs_sandbox_remove(struct callbox_sandbox *sb);

/* netlink.c: the "callbox" generic netlink family and its events */
int callbox_netlink_init(void);
void callbox_netlink_exit(void);
void callbox_netlink_call_event_locked(const struct callbox_call *call,
				       u32 from);
void callbox_netlink_sandbox_event(const struct callbox_sandbox *sb,
				   u32 type);

/* call_ioctl.c */
int callbox_ioctl_call_sync(void *obj, struct callbox_ucmd *ucmd);
int callbox_ioctl_call_submit(void *obj, struct callbox_ucmd *ucmd);
int callbox_ioctl_call_run(void *obj, struct callbox_ucmd *ucmd);
int callbox_ioctl_call_wait(void *obj, struct callbox_ucmd *ucmd);
int callbox_ioctl_call_get(void *obj, struct callbox_ucmd *ucmd);
int callbox_ioctl_call_cancel(void *obj, struct callbox_ucmd *ucmd);

/* call_batch.c */
int callbox_ioctl_call_batch(void *obj, struct callbox_ucmd *ucmd);

/* call.c */
struct callbox_call *callbox_call_alloc(struct callbox_sandbox *sb);
void callbox_call_get(struct callbox_call *call);
void callbox_call_put(struct callbox_call *call);
void callbox_call_add_locked(struct callbox_call *call, u64 id,
			     u64 deadline_ns, bool init);
struct callbox_call *callbox_call_find_locked(struct callbox_sandbox *sb,
					      u64 id);
int callbox_call_lookup_error_locked(struct callbox_sandbox *sb, u64 id);
bool callbox_call_ended(const struct callbox_call *call);
bool callbox_call_owned_by_current(const struct callbox_call *call);
bool callbox_call_owner_exited(const struct callbox_call *call);
bool callbox_call_reap_locked(struct callbox_call *call);
void callbox_call_transition_locked(struct callbox_call *call, u32 new_state);
bool callbox_call_may_transition(u32 from, u32 to);
void callbox_call_abort_locked(struct callbox_call *call, u32 reason,
			       u64 detail, bool clean_stop);
int callbox_call_cancel_locked(struct callbox_call *call, u32 reason);
void callbox_call_fill_info_locked(const struct callbox_call *call,
				   struct callbox_call_info *info);
int callbox_call_claim_locked(struct callbox_call *call);
void callbox_call_unclaim(struct callbox_call *call);
void callbox_call_consume(struct callbox_call *call);
void callbox_call_kicks_drain(void);

/**
 * struct callbox_run_req - how an ioctl asks run.c to run a call
 * @cmd: CALLBOX_CALL_SYNC, CALLBOX_CALL_RUN or CALLBOX_CALL_BATCH
 * @restart: the ioctl asks to continue the call it was interrupted in
 * @prepared: callbox_run_prepare() passed already, after the last write
 *	to userspace (CALL_SYNC checks it when it publishes the call)
 * @uout: the ioctl's @out in userspace, written before the guest is
 *	entered: a struct that cannot be written stops the call before it
 *	runs (a continued one too), and userspace knows which call ran; NULL
 *	for a new CALL_SYNC, which wrote it when it published the call
 * @parked: where the call's record is left when it is parked, for the
 *	ioctl to write into userspace once it has let go of run_lock
 */
struct callbox_run_req {
	unsigned int cmd;
	bool restart;
	bool prepared;
	struct callbox_call_info __user *uout;
	struct callbox_call_info *parked;
};

/* run.c */
/*
 * What run.c's steps answer besides 0 (the call has ended) and -errno:
 * @CALLBOX_RUN_ENTERED: the call is ENTERED, for this thread's KVM_RUN
 * @CALLBOX_RUN_ENDS_HERE: a HOSTCALL with a cancellation pending, which
 *	ends without entering (internal to run.c)
 * @CALLBOX_RUN_REPLIED: from callbox_run_call(), to RUN only: the call
 *	ended, and its outcome is written
 */
enum callbox_run_step {
	CALLBOX_RUN_ENTERED = 1,
	CALLBOX_RUN_ENDS_HERE,
	CALLBOX_RUN_REPLIED,
};

int callbox_run_prepare(struct callbox_sandbox *sb);
int callbox_run_call(struct callbox_sandbox *sb, struct callbox_call *call,
		     const struct callbox_run_req *req);
bool callbox_run_is_restart(const struct callbox_call_info *out);

#endif /* _CALLBOX_H */

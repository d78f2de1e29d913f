/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ioctl_fuzz: what its parts share (see ioctl_fuzz.c for what it does).
 */
#ifndef CALLBOX_IOCTL_FUZZ_H
#define CALLBOX_IOCTL_FUZZ_H

#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kvm.h>
#include <linux/callbox.h>

/* Not inspect_util.h: only ioctl_fuzz.c may include the harness. */
#include "kselftest.h"
#include "base_util.h"
#include "raw_guest.h"
#include "script_guest.h"

#define NR_WORKERS	4
#define NR_HELPERS	2	/* per worker, in a close race */
#define NR_SLOTS	4
/* Watchdog entries: each worker, its helpers and its child; then these. */
#define INF_PER_WORKER	(1 + NR_HELPERS + 1)
#define INF_RECYCLER	(NR_WORKERS * INF_PER_WORKER)
#define INF_MAIN	(INF_RECYCLER + 1)
#define NR_INF		(INF_MAIN + 1)
#define SEC		(1000 * MS)
/*
 * No ioctl is in flight longer than this beyond its own timeout
 * (CALLBOX_FUZZ_STUCK_MS overrides it, to see the watchdog fire).
 */
extern uint64_t g_stuck_ns;
#define STUCK_NS	g_stuck_ns
/* The longest deadline a sequence that must end by itself gives. */
#define BOUNDED_NS	(300 * MS)
/* fd numbers each thread keeps for itself (dup2): never reused by others. */
#define RES_FD_BASE	600
#define RES_PER_WORKER	8
#define RES_RACE	0	/* the close race's sandbox */
#define RES_DUP		1	/* a dup of a slot's sandbox */
#define RES_RACE_DUP	2	/* the close race's second fd */
#define RES_CLOSED	3	/* always closed */
#define PAGE		4096
/*
 * The thread's struct area: RW RW NONE RO NONE, then the page of a
 * BATCH's ids (RW, or RO during an ioctl) and an unmapped one: RW NONE.
 */
#define AREA_PAGES	7
#define IDS_PAGE	5
#define MAX_REPORTS	40


/* ---- errnos ---- */

enum {
	eb_ENOTTY, eb_EINVAL, eb_E2BIG, eb_EFAULT, eb_EBADF, eb_EIO,
	eb_ENOMEM, eb_EINTR, eb_EBUSY, eb_EOPNOTSUPP, eb_ENOTRECOVERABLE,
	eb_EAGAIN, eb_ESHUTDOWN, eb_ENOENT, eb_ESRCH, eb_ETIMEDOUT,
	eb_EALREADY, NR_EB
};
#define EB(e)	(1u << eb_##e)

/* ---- the commands ---- */

enum {
	C_CREATE, C_SYNC, C_SUBMIT, C_RUN, C_WAIT, C_GET, C_CANCEL, C_RESET,
	C_SHUTDOWN, C_RESTORE, C_BATCH, NR_CMDS
};

/* The last command number in use: every one after it is unknown. */
#define CMD_LAST	CALLBOX_CMD_CALL_BATCH

union cmd_img {
	struct callbox_sandbox_create create;
	struct callbox_call_sync sync;
	struct callbox_call_submit submit;
	struct callbox_call_run run;
	struct callbox_call_wait wait;
	struct callbox_call_get get;
	struct callbox_call_cancel cancel;
	struct callbox_sandbox_reset reset;
	struct callbox_sandbox_shutdown shutdown;
	struct callbox_sandbox_restore restore;
	struct callbox_call_batch batch;
	uint8_t raw[64];
};

struct cmd_info {
	const char *name;
	unsigned long nr;
	uint32_t ksize;
	uint32_t flags_mask;
	int rsv_off;		/* -1: none */
	int deadline_off;	/* -1: none */
	bool writes;		/* success writes the struct back */
};

#define OFF(type, field) ((int)offsetof(struct type, field))

/* How a struct is handed to the kernel. */
enum {
	SZ_EXACT, SZ_BIG0, SZ_BIGX, SZ_PAGE0, SZ_PAGEX, SZ_SMALL, SZ_ZERO,
	SZ_4097, SZ_HUGE, NR_SZ
};

enum { PK_NORMAL, PK_RO, PK_STRADDLE, PK_BAD, NR_PK };

struct shape {
	int sz, pk;
	uint32_t size;
	uint8_t *p;
	bool tail_x;	/* a non-zero byte beyond the known struct */
	bool fault;	/* [p, p + size) is not all readable */
};

/* ---- the watchdog's view of every thread ---- */

struct inflight {
	_Atomic uint64_t start_ns;	/* 0: nothing in flight */
	uint64_t bound_ns;
	int pid, tid;
	int cmd;			/* C_*, or -1: @what */
	const char *what;
	int fd;
	uint32_t size;
	int sz, pk;
	union cmd_img img;
	atomic_int reported;
	atomic_int child_failed;	/* a child's own verdict, if killed */
};

struct thr;

/* ---- sandboxes ---- */

/* A raw guest running the script, its kvm_run mapped. */
struct gbox {
	struct raw_guest g;
	struct kvm_run *run;
	size_t run_size;
	pthread_mutex_t rewind_lock;	/* one rewind at a time */
};

/* Recent call ids of a sandbox, that its users share. */
struct idring {
	_Atomic uint64_t id[16];
	atomic_uint n;
	_Atomic uint64_t restore_id;	/* the last restore BEGIN gave */
};

struct slot {
	pthread_rwlock_t lock;	/* read: using fd; write: the recycler */
	struct gbox gb;
	int fd;
	uint64_t inst;
	struct idring ring;
};


/* What a sequence issues its ioctls on. */
struct target {
	int fd;
	uint64_t inst;		/* the sandbox's instance, 0: not one */
	bool maybe_closed;	/* another thread may close @fd meanwhile */
	bool foreign;		/* a sandbox of another process: EIO */
	bool bounded;		/* only what ends by itself: no blocking */
	/*
	 * Never leave a restore begun on it: no other thread, and no
	 * recycler, would end it, and seq_long_struct wants it idle.
	 */
	bool sole;
	struct gbox *gb;	/* NULL: no guest to steer or rewind */
	struct idring *ring;
	const char *name;
};

struct worker;

struct thr {
	int widx;
	const char *role;
	uint64_t rng;
	struct inflight *inf;
	uint8_t *area;
	int res;
	bool child, child_failed;
	uint64_t ids_inst, last_new;	/* ids this thread got new */
	struct {
		uint64_t inst, id;
	} won[16];			/* cancels this thread won */
	unsigned int nwon;
	struct worker *w;
	int depth;
};

struct worker {
	struct thr t;
	pthread_t thread;
	atomic_int tid;
	int pipefd[2], null_fd, ep_fd, stats_fd;
	struct raw_vm other;	/* a VM of its own, never set up */
	struct gbox priv;	/* for the ABI probes */
	int priv_fd;
	uint64_t priv_inst;
	struct idring priv_ring;
	bool priv_open;
};

/*
 * What an id of a BATCH may be in its sandbox: one the kernel gave
 * (never ENOENT), one that may or may not have been issued, or one that
 * never is (0, huge: never ESRCH). BK_FAULT: the kernel cannot read it.
 */
enum { BK_ISSUED, BK_MAYBE, BK_NEVER, BK_FAULT = 4 };
#define BK_KIND(k)	((k) & 3)

/* A BATCH's ids, as the fuzzer laid them out in its ids page. */
struct batch_ids {
	uint64_t id[CALLBOX_MAX_CALLS + 1];
	uint8_t kind[CALLBOX_MAX_CALLS + 1];
	uint32_t n;		/* how many it generated */
	bool ro;		/* the page is read-only during the ioctl */
	const char *where;	/* how @ids points at them */
};

struct req {
	int cmd;
	union cmd_img img;	/* in: the fields; out: what came back */
	union cmd_img sent;	/* what was sent */
	uint32_t rt_mask;	/* the errnos of a well-formed request */
	bool rt_ok;		/* may a well-formed request succeed? */
	unsigned int abi_pct;	/* chance of a bad size, pointer or field */
	bool force_bad;		/* it must be malformed */
	uint64_t timeout_ns;	/* its own wait, for the watchdog */
	const struct batch_ids *bi;	/* BATCH: what @ids holds */
	/* results */
	struct shape s;
	bool wellformed;
	int ret;		/* 0 or -errno */
};


enum { W_ANY, W_RUNRET, W_TERMINAL };

/* ---- shared state (fuzz_common.c) ---- */

extern const int eb_errno[NR_EB];
extern const struct cmd_info cmds[NR_CMDS];
extern const char *const sz_name[NR_SZ];
extern const char *const pk_name[NR_PK];
extern struct inflight *g_inf;
extern uint64_t g_seed;
extern int g_seconds;
extern int g_dev_fd;
extern atomic_bool g_stop, g_recycler_stop, g_pinger_stop, g_watch_stop;
extern _Atomic uint64_t g_inst;
extern _Atomic uint64_t g_stuck_since;
extern pthread_mutex_t g_report_lock;
extern atomic_int g_unexpected, g_stuck, g_child_fail, g_reports;
extern atomic_ulong g_stat[NR_CMDS][NR_EB + 2];
extern atomic_ulong g_out_exited, g_out_hostcall, g_out_aborted[NR_REASONS];
extern atomic_ulong g_forks, g_kills, g_races, g_recycles, g_sigs, g_seqs;
extern atomic_ulong g_rewinds, g_polls;
extern atomic_ulong g_batch_ran, g_batch_all;
extern atomic_ulong g_batch_stop[CALLBOX_STATE_HOSTCALL + 1];
extern struct slot g_slots[NR_SLOTS];
extern struct worker g_workers[NR_WORKERS];
extern atomic_int g_helper_tid[NR_WORKERS][NR_HELPERS];

/* fuzz_common.c */
int eb_of(int err);
const char *errname(int err);
void mask_str(char *buf, size_t len, uint32_t mask, bool ok);
uint64_t splitmix(uint64_t *x);
uint64_t rnd64(struct thr *t);
uint64_t rnd(struct thr *t, uint64_t n);
bool chance(struct thr *t, unsigned int pct);
pid_t my_tid(void);
void __attribute__((format(printf, 3, 4)))
report(struct thr *t, atomic_int *counter, const char *fmt, ...);
void describe(char *buf, size_t len, int cmd, const char *what,
	      int fd, const char *fdname, uint32_t size, int sz, int pk,
	      const union cmd_img *img);
int gbox_open(struct gbox *gb);
void gbox_close(struct gbox *gb);
int bind_sandbox(int vm_fd, int vcpu_fd);
int plain_shutdown(int fd);
void ring_add(struct idring *r, uint64_t id);
uint64_t ring_pick(struct thr *t, struct idring *r);
uint64_t ring_last(struct idring *r);
void ring_reset(struct idring *r);
uint64_t new_inst(void);

/* fuzz_request.c */
void req_init(struct req *r, int cmd);
bool looks_restart(const struct callbox_call_info *out);
uint32_t bad_restore_op(struct thr *t);
bool batch_bad(const struct callbox_call_batch *b,
	       const struct batch_ids *bi);
void batch_ids_str(char *buf, size_t len, const struct batch_ids *bi);
int issue(struct thr *t, const struct target *tg, struct req *r);
void note_won(struct thr *t, const struct target *tg, uint64_t id);
void note_new_id(struct thr *t, const struct target *tg,
		 const char *what, uint64_t id);
void check_info(struct thr *t, const struct target *tg,
		const char *what, const struct callbox_call_info *c,
		uint64_t want_id, int want);

/* fuzz_ops.c */
uint64_t rand_deadline(struct thr *t, bool bounded);
uint64_t pick_id(struct thr *t, const struct target *tg);
void rand_out(struct thr *t, const struct target *tg,
	      struct callbox_call_info *out);
void set_behaviour(struct thr *t, const struct target *tg);
void op_sync(struct thr *t, const struct target *tg,
	     unsigned int abi_pct);
void op_run_id(struct thr *t, const struct target *tg, uint64_t id,
	       uint32_t flags, unsigned int abi_pct);
void op_wait_id(struct thr *t, const struct target *tg, uint64_t id,
		uint64_t deadline, unsigned int abi_pct);
void op_reset(struct thr *t, const struct target *tg,
	      unsigned int abi_pct);
void op_shutdown(struct thr *t, const struct target *tg,
		 unsigned int abi_pct);
void op_random(struct thr *t, const struct target *tg,
	       unsigned int abi_pct);

/* fuzz_batch.c */
void batch_fill_ids(struct thr *t, const struct target *tg,
		    struct batch_ids *bi, const uint64_t *own,
		    uint32_t nown);
void batch_place(struct thr *t, struct batch_ids *bi,
		 struct callbox_call_batch *b);
void batch_expect(struct req *r, const struct batch_ids *bi,
		  bool waits);
int batch_issue(struct thr *t, const struct target *tg, struct req *r,
		const struct batch_ids *bi, bool waits);
void op_batch(struct thr *t, const struct target *tg,
	      unsigned int abi_pct);

/* fuzz_sequences.c */
void slot_target(struct slot *sl, struct target *tg);
void seq_slot(struct worker *w);
void priv_close(struct worker *w);
void seq_abi(struct worker *w);
void seq_long_struct(struct worker *w);
void seq_create(struct worker *w);
void seq_wrongfd(struct worker *w);

/* fuzz_races.c */
uint8_t *area_new(void);
void seq_close_race(struct worker *w);
void seq_fork(struct worker *w);

/* fuzz_watchdog.c */
void inf_begin(struct inflight *e, int cmd, const char *what, int fd,
	       const union cmd_img *img, const struct shape *s,
	       uint64_t timeout_ns);
void inf_end(struct inflight *e);
void print_file(const char *path, const char *prefix);
void *watchdog_fn(void *arg);

/* fuzz_threads.c */
extern struct thr g_recycler_thr;
int slot_open(struct slot *sl);
void *worker_fn(void *arg);
void *recycler_fn(void *arg);
void on_sigusr1(int sig);
void *pinger_fn(void *arg);

/* ioctl_fuzz.c */
void results_and_exit(bool finished);

#endif /* CALLBOX_IOCTL_FUZZ_H */

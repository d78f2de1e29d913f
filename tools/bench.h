/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * What the parts of the benchmark (bench.c, bench_batch.c,
 * bench_create.c, bench_memory.c, bench_old_design.c, bench_counts.c,
 * bench_stop.c, bench_typed.c) share.
 */
#ifndef CALLBOX_BENCH_H
#define CALLBOX_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct kvm_run;

/* --quick: few samples, to prove the benchmarks run, not to measure. */
extern bool bench_quick;

/* One KVM_RUN from userspace, which must come back as our DONE port. */
void floor_call(int vcpu_fd, struct kvm_run *run);

/*
 * create.floor, create.elf (a sandbox of @guest), and reset.* and
 * restore.* at 4, 64 and 256 MiB, into the report.
 */
void bench_create(const char *guest);

/*
 * memory.clone.nN and memory.elf.nN: kernel memory and Pss per live
 * sandbox, N = 1, 100, 1,000 (--quick: 1 and 11).
 */
void bench_memory_figures(const char *guest);

/* The calls of one batch in call.batch.per_call. */
#define BENCH_BATCH	50

/*
 * BENCH_BATCH calls on the raw guest of @sandbox_fd: submitted, run by
 * one CALLBOX_CALL_BATCH, consumed; the whole per call in *@per_call,
 * the BATCH ioctl alone per call in *@run_only.
 */
void bench_batch_calls(int sandbox_fd, uint64_t *per_call,
		       uint64_t *run_only);
/* For bench_count_calls(): @arg is the sandbox fd's address. */
void bench_count_batch(void *arg, int calls);

/* call.old_design: the seed's handler thread and "running" flag. */
void bench_old_design(void);

/* The samples of cancel.spin, cancel.hlt and deadline.overshoot. */
#define STOP_ROUNDS 25

/*
 * Times from CANCEL to the call's end, into @t (@n of them), for a guest
 * spinning in `jmp $`, or asleep in HLT with the in-kernel irqchip if
 * @halted; its sandbox created through @dev_fd, /dev/callbox.
 */
void bench_cancel(int dev_fd, bool halted, uint64_t *t, int n);

/* How late a 2 ms deadline stops a spinning guest, into @t (@n). */
void bench_deadline(int dev_fd, uint64_t *t, int n);

/*
 * Typed calls on echo.elf and host.elf in @dir, each printed against a
 * typed call that passes nothing.
 */
void bench_typed(const char *dir);

/*
 * Count the system calls of the threads @tids (@nr of them; tracefs's
 * raw_syscalls:sys_enter) and the process's voluntary context switches
 * while @fn(@arg) makes @calls calls; report them per call for figure
 * @name. Counts that cannot be taken (no tracefs) are reported as such.
 */
void bench_count_calls(const char *name, const int *tids, int nr,
		       void (*fn)(void *arg, int calls), void *arg, int calls);

#endif /* CALLBOX_BENCH_H */

/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The benchmark's figures: each a named set of samples reduced to its
 * median and 99th percentile, compared with a baseline figure of the same
 * run; printed as a table and written as JSON (build/bench/results.json).
 */
#ifndef CALLBOX_BENCH_REPORT_H
#define CALLBOX_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Record figure @name from @n samples @t (nanoseconds; sorted in place),
 * compared with figure @baseline (NULL: none), which must be recorded
 * first.
 */
void bench_figure(const char *name, uint64_t *t, size_t n,
		  const char *baseline);

/* Has figure @name been recorded in this run? */
bool bench_has_figure(const char *name);

/*
 * Record what one call of figure @name costs besides time: system calls
 * and voluntary context switches, each per call (negative: not measured).
 */
void bench_per_call(const char *name, double syscalls, double vcsw);

/*
 * Record memory figure @name: with @sandboxes live sandboxes, each costs
 * @kernel_kib of kernel memory and @pss_kib of the process's Pss.
 */
void bench_memory(const char *name, unsigned int sandboxes,
		  double kernel_kib, double pss_kib);

/* The table, to @f. */
void bench_report_print(FILE *f);

/* Every figure as a JSON array of objects, to @f. */
void bench_report_json(FILE *f);

#endif /* CALLBOX_BENCH_REPORT_H */

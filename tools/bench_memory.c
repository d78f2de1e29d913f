// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: what a live sandbox costs in memory, with N = 1, 100
 * and 1,000 of them: kernel memory (slab, the VMs' second-level page
 * tables, vmalloc) and the process's proportional set size (Pss: pages
 * shared with others count for their share), per sandbox, for sandboxes
 * loaded from the ELF and for clones of one loaded sandbox. Each runs one
 * call first, so that its guest has touched what a call touches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <callbox/callbox.h>

#include "bench.h"
#include "bench_report.h"
#include "bench_util.h"

/* The kernel's memory that KVM and callbox allocate from, in KiB. */
static long kernel_kib(void)
{
	static const char *const keys[] = {
		"Slab:", "SecPageTables:", "VmallocUsed:", "KernelStack:",
	};
	char line[256];
	long sum = 0, v;
	unsigned int i;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) &&
			    sscanf(line + strlen(keys[i]), "%ld", &v) == 1)
				sum += v;
	fclose(f);
	return sum;
}

/* The process's proportional set size, in KiB. */
static long pss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* @n live sandboxes, loaded from @guest or cloned from @parent. */
static void bench_live(const char *name, const char *guest,
		       struct callbox_sandbox *parent, unsigned int n)
{
	struct callbox_sandbox **sb = calloc(n, sizeof(*sb));
	struct callbox_config cfg;
	long kernel0, pss0;
	unsigned int i;
	int64_t v;

	if (!sb)
		die("calloc", ENOMEM);
	callbox_config_init(&cfg);
	kernel0 = kernel_kib();
	pss0 = pss_kib();
	for (i = 0; i < n; i++) {
		if (parent) {
			if (callbox_sandbox_clone(parent, &sb[i]))
				goto fail;
		} else if (callbox_sandbox_new(&cfg, &sb[i]) ||
			   callbox_sandbox_load(sb[i], guest)) {
			parent = sb[i];
			goto fail;
		}
		if (callbox_call_int(sb[i], "noop", NULL, 0, &v)) {
			parent = sb[i];
			goto fail;
		}
	}
	bench_memory(name, n, (double)(kernel_kib() - kernel0) / n,
		     (double)(pss_kib() - pss0) / n);
	for (i = 0; i < n; i++)
		callbox_sandbox_free(sb[i]);
	free(sb);
	return;
fail:
	fprintf(stderr, "bench: %s: %s\n", name,
		parent ? callbox_sandbox_last_error(parent) : "out of memory");
	exit(1);
}

void bench_memory_figures(const char *guest)
{
	static const struct {
		const char *clone, *elf;
		unsigned int n;
	} rounds[] = {
		{ "memory.clone.n1", "memory.elf.n1", 1 },
		{ "memory.clone.n100", "memory.elf.n100", 100 },
		/*
		 * 1,000 sandboxes loaded from the ELF want more than the test
		 * VM's 1 GiB: clones only.
		 */
		{ "memory.clone.n1000", NULL, 1000 },
	};
	struct rlimit nofile = { 8192, 8192 };
	struct callbox_config cfg;
	struct callbox_sandbox *parent;
	unsigned int i, last;
	int ret;

	/* Four fds a sandbox: /dev/kvm, the VM, the vCPU, the sandbox. */
	if (setrlimit(RLIMIT_NOFILE, &nofile))
		die("setrlimit(RLIMIT_NOFILE)", errno);
	callbox_config_init(&cfg);
	ret = callbox_sandbox_new(&cfg, &parent);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_load(parent, guest)) {
		fprintf(stderr, "bench: %s\n", callbox_sandbox_last_error(parent));
		exit(1);
	}
	last = bench_quick ? 1 : sizeof(rounds) / sizeof(rounds[0]) - 1;
	for (i = 0; i <= last; i++) {
		bench_live(rounds[i].clone, guest, parent,
			   bench_quick ? rounds[i].n / 10 + 1 : rounds[i].n);
		if (rounds[i].elf)
			bench_live(rounds[i].elf, guest, NULL,
				   bench_quick ? rounds[i].n / 10 + 1 :
				   rounds[i].n);
	}
	callbox_sandbox_free(parent);
}

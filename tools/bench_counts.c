// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: what a call costs besides time. System calls are
 * counted by the kernel's raw_syscalls:sys_enter tracepoint, filtered to
 * the threads that make the call (tracefs); voluntary context switches
 * by getrusage() for the whole process (a call served by another thread
 * counts that thread's too).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_report.h"
#include "bench_util.h"

#define TRACEFS "/sys/kernel/tracing"

static bool tracefs_write(const char *file, const char *text)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text);
}

static bool tracefs_ready(void)
{
	struct stat st;

	if (!stat(TRACEFS "/tracing_on", &st))
		return true;
	return !mount("tracefs", TRACEFS, "tracefs", 0, NULL) &&
	       !stat(TRACEFS "/tracing_on", &st);
}

/* The events the ring buffers hold: the sum of each CPU's "entries". */
static long trace_entries(void)
{
	char path[256], line[128];
	long total = 0, v;
	int cpu;
	FILE *f;

	for (cpu = 0;; cpu++) {
		snprintf(path, sizeof(path), TRACEFS "/per_cpu/cpu%d/stats", cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "entries: %ld", &v) == 1)
				total += v;
		fclose(f);
	}
	return cpu ? total : -1;
}

static long voluntary_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

/*
 * The system calls of the filtered threads while @fn(@arg, @calls) runs,
 * with what opening and closing the window costs in it: -1 if tracefs
 * cannot be used.
 */
static long traced_window(const char *filter, void (*fn)(void *, int),
			  void *arg, int calls)
{
	long entries;

	if (!tracefs_ready() || !tracefs_write("tracing_on", "0") ||
	    !tracefs_write("trace", "") ||
	    !tracefs_write("events/raw_syscalls/sys_enter/filter", filter) ||
	    !tracefs_write("events/raw_syscalls/sys_enter/enable", "1") ||
	    !tracefs_write("tracing_on", "1"))
		return -1;
	fn(arg, calls);
	tracefs_write("tracing_on", "0");
	entries = trace_entries();
	tracefs_write("events/raw_syscalls/sys_enter/enable", "0");
	tracefs_write("events/raw_syscalls/sys_enter/filter", "0");
	tracefs_write("trace", "");
	return entries;
}

void bench_count_calls(const char *name, const int *tids, int nr,
		       void (*fn)(void *arg, int calls), void *arg, int calls)
{
	long vcsw, empty, full;
	char filter[256];
	int i, len = 0;

	for (i = 0; i < nr; i++)
		len += snprintf(filter + len, sizeof(filter) - len,
				"%scommon_pid == %d", i ? " || " : "", tids[i]);
	/* The window's own calls (closing it is one): counted with no call. */
	empty = traced_window(filter, fn, arg, 0);
	full = traced_window(filter, fn, arg, calls);
	vcsw = voluntary_switches();
	fn(arg, calls);
	vcsw = voluntary_switches() - vcsw;
	bench_per_call(name,
		       empty >= 0 && full >= 0 ? (double)(full - empty) / calls : -1,
		       (double)vcsw / calls);
}

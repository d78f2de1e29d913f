// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: the figures of one run, their table and their JSON.
 * Ratios compare figures of the same run only: under TCG the absolute
 * numbers mean little.
 */
#include <stdlib.h>
#include <string.h>

#include "bench_report.h"
#include "bench_util.h"

#define MAX_FIGURES 48

struct figure {
	const char *name;
	const char *baseline;
	uint64_t median_ns, p99_ns;
	double ratio;		/* median over the baseline's; 0 if none */
	double syscalls, vcsw;	/* per call; negative if not measured */
};

static struct figure figures[MAX_FIGURES];
static unsigned int nr_figures;

#define MAX_MEMORY 8

struct memory_figure {
	const char *name;
	unsigned int sandboxes;
	double kernel_kib, pss_kib;	/* per sandbox */
};

static struct memory_figure memory[MAX_MEMORY];
static unsigned int nr_memory;

void bench_memory(const char *name, unsigned int sandboxes,
		  double kernel_kib, double pss_kib)
{
	if (nr_memory == MAX_MEMORY) {
		fprintf(stderr, "bench: memory figure %s: no room\n", name);
		exit(1);
	}
	memory[nr_memory++] = (struct memory_figure) {
		name, sandboxes, kernel_kib, pss_kib,
	};
}

static struct figure *find(const char *name)
{
	unsigned int i;

	for (i = 0; i < nr_figures; i++)
		if (!strcmp(figures[i].name, name))
			return &figures[i];
	return NULL;
}

bool bench_has_figure(const char *name)
{
	return find(name) != NULL;
}

void bench_figure(const char *name, uint64_t *t, size_t n,
		  const char *baseline)
{
	struct figure *f, *base = baseline ? find(baseline) : NULL;

	if (nr_figures == MAX_FIGURES || !n || (baseline && !base)) {
		fprintf(stderr, "bench: figure %s: no room, no samples or no baseline %s\n",
			name, baseline ? baseline : "");
		exit(1);
	}
	f = &figures[nr_figures++];
	f->name = name;
	f->baseline = baseline;
	f->median_ns = median(t, n);	/* sorts @t */
	f->p99_ns = t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	f->ratio = base ? (double)f->median_ns / base->median_ns : 0;
	f->syscalls = f->vcsw = -1;
}

void bench_per_call(const char *name, double syscalls, double vcsw)
{
	struct figure *f = find(name);

	if (!f) {
		fprintf(stderr, "bench: per-call counts of unknown figure %s\n",
			name);
		exit(1);
	}
	f->syscalls = syscalls;
	f->vcsw = vcsw;
}

void bench_report_print(FILE *out)
{
	unsigned int i;

	fprintf(out, "%-22s %11s %11s  %-20s %7s %9s %6s\n", "figure",
		"median us", "p99 us", "baseline", "ratio", "syscalls",
		"vcsw");
	for (i = 0; i < nr_figures; i++) {
		const struct figure *f = &figures[i];

		fprintf(out, "%-22s %11.1f %11.1f  %-20s", f->name,
			f->median_ns / 1000.0, f->p99_ns / 1000.0,
			f->baseline ? f->baseline : "-");
		if (f->baseline)
			fprintf(out, " %6.2fx", f->ratio);
		else
			fprintf(out, " %7s", "");
		if (f->syscalls >= 0)
			fprintf(out, " %9.2f", f->syscalls);
		else if (f->vcsw >= 0)
			fprintf(out, " %9s", "-");
		if (f->vcsw >= 0)
			fprintf(out, " %6.2f", f->vcsw);
		fputc('\n', out);
	}
	if (!nr_memory)
		return;
	fprintf(out, "\n%-22s %9s %21s %18s\n", "memory", "sandboxes",
		"kernel KiB/sandbox", "Pss KiB/sandbox");
	for (i = 0; i < nr_memory; i++)
		fprintf(out, "%-22s %9u %21.1f %18.1f\n", memory[i].name,
			memory[i].sandboxes, memory[i].kernel_kib,
			memory[i].pss_kib);
}

void bench_report_json(FILE *out)
{
	unsigned int i;

	fprintf(out, "[\n");
	for (i = 0; i < nr_figures; i++) {
		const struct figure *f = &figures[i];

		fprintf(out, "  {\"name\": \"%s\", \"median_us\": %.3f, \"p99_us\": %.3f",
			f->name, f->median_ns / 1000.0, f->p99_ns / 1000.0);
		if (f->baseline)
			fprintf(out, ", \"baseline\": \"%s\", \"ratio\": %.4f",
				f->baseline, f->ratio);
		else
			fprintf(out, ", \"baseline\": null, \"ratio\": null");
		if (f->syscalls >= 0)
			fprintf(out, ", \"syscalls_per_call\": %.3f",
				f->syscalls);
		if (f->vcsw >= 0)
			fprintf(out, ", \"voluntary_ctxt_switches_per_call\": %.3f",
				f->vcsw);
		fprintf(out, "}%s\n", i + 1 < nr_figures || nr_memory ? "," : "");
	}
	for (i = 0; i < nr_memory; i++)
		fprintf(out, "  {\"name\": \"%s\", \"sandboxes\": %u, \"kernel_kib_per_sandbox\": %.1f, \"pss_kib_per_sandbox\": %.1f}%s\n",
			memory[i].name, memory[i].sandboxes,
			memory[i].kernel_kib, memory[i].pss_kib,
			i + 1 < nr_memory ? "," : "");
	fprintf(out, "]\n");
}

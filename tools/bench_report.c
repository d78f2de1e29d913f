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
		fprintf(out, "}%s\n", i + 1 < nr_figures ? "," : "");
	}
	fprintf(out, "]\n");
}

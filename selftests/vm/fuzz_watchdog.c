// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: the watchdog. Every thread records the ioctl (or KVM_RUN,
 * poll, epoll_wait) it has in flight, with its timeout; a thread of its
 * own names each one still in flight STUCK_NS beyond that timeout, with
 * its arguments and the kernel stack of its thread, and gives the
 * verdict if the run cannot end.
 */
#include "ioctl_fuzz.h"

void inf_begin(struct inflight *e, int cmd, const char *what, int fd,
	       const union cmd_img *img, const struct shape *s,
	       uint64_t timeout_ns)
{
	e->cmd = cmd;
	e->what = what;
	e->fd = fd;
	if (img)
		e->img = *img;
	e->size = s ? s->size : 0;
	e->sz = s ? s->sz : 0;
	e->pk = s ? s->pk : 0;
	e->bound_ns = timeout_ns + STUCK_NS;
	atomic_store(&e->reported, 0);
	atomic_store_explicit(&e->start_ns, now_ns(), memory_order_release);
}

void inf_end(struct inflight *e)
{
	atomic_store_explicit(&e->start_ns, 0, memory_order_release);
}

void print_file(const char *path, const char *prefix)
{
	char buf[4096], *line, *save;

	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		ksft_print_msg("%s%s\n", prefix, line);
}

static void report_stuck(struct inflight *e, uint64_t age)
{
	char desc[512], path[96];

	describe(desc, sizeof(desc), e->cmd, e->what, e->fd, NULL, e->size,
		 e->sz, e->pk, &e->img);
	report(NULL, &g_stuck,
	       "STUCK: pid %d tid %d: %s: in flight for %" PRIu64 " ms",
	       e->pid, e->tid, desc, (uint64_t)(age / MS));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", e->pid,
		 e->tid);
	print_file(path, "    ");
	uint64_t zero = 0;

	atomic_compare_exchange_strong(&g_stuck_since, &zero, now_ns());
}

void *watchdog_fn(void *arg)
{
	int i;

	while (!atomic_load(&g_watch_stop)) {
		uint64_t now, since;

		usleep(50 * 1000);
		now = now_ns();
		for (i = 0; i < NR_INF; i++) {
			struct inflight *e = &g_inf[i];
			uint64_t start = atomic_load_explicit(&e->start_ns,
							      memory_order_acquire);

			if (!start || now < start || now - start <= e->bound_ns)
				continue;
			if (!atomic_exchange(&e->reported, 1))
				report_stuck(e, now - start);
		}
		/* Something never returns: give the verdict anyway. */
		since = atomic_load(&g_stuck_since);
		if (since && now - since > 3 * STUCK_NS) {
			ksft_print_msg("the run cannot end: something is stuck\n");
			results_and_exit(false);
		}
	}
	return NULL;
}

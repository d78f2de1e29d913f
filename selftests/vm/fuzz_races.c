// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: closing a sandbox under its users, and fork.
 */
#include "ioctl_fuzz.h"

/* ---- close races ---- */

struct helper {
	int i;
	struct thr t;
	pthread_t thread;
	struct target tg;
	int ops;
};

uint8_t *area_new(void)
{
	uint8_t *a = mmap(NULL, AREA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (a == MAP_FAILED)
		return NULL;
	mprotect(a + 2 * PAGE, PAGE, PROT_NONE);
	mprotect(a + 3 * PAGE, PAGE, PROT_READ);
	mprotect(a + 4 * PAGE, PAGE, PROT_NONE);
	mprotect(a + (IDS_PAGE + 1) * PAGE, PAGE, PROT_NONE);
	return a;
}

static void *helper_fn(void *arg)
{
	struct helper *h = arg;
	int i;

	h->t.inf->pid = getpid();
	h->t.inf->tid = my_tid();
	atomic_store(&g_helper_tid[h->t.widx][h->i], my_tid());
	for (i = 0; i < h->ops; i++) {
		op_random(&h->t, &h->tg, 8);
		if (chance(&h->t, 10))
			usleep(rnd(&h->t, 3000));
	}
	atomic_store(&g_helper_tid[h->t.widx][h->i], 0);
	return NULL;
}

/*
 * A sandbox of its own, used by NR_HELPERS threads while this one closes
 * its last fd (the helpers then only do what ends by itself), or closes
 * it and shuts the sandbox down through a dup, or shuts it down first.
 */
void seq_close_race(struct worker *w)
{
	struct thr *t = &w->t;
	struct helper h[NR_HELPERS];
	struct idring ring;
	struct gbox gb;
	int fd, mode = rnd(t, 3), i, r0 = t->res + RES_RACE,
		r1 = t->res + RES_RACE_DUP;
	bool vcpu_kept = chance(t, 70);
	uint64_t inst = new_inst();

	if (gbox_open(&gb)) {
		gbox_close(&gb);
		return;
	}
	fd = bind_sandbox(gb.g.vm.vm_fd, gb.g.vm.vcpu_fd);
	if (fd < 0) {
		report(t, &g_unexpected, "binding a sandbox: %s",
		       strerror(-fd));
		gbox_close(&gb);
		return;
	}
	/* Numbers nobody else opens: a closed one stays closed. */
	if (dup2(fd, r0) < 0) {
		close(fd);
		gbox_close(&gb);
		return;
	}
	close(fd);
	if (mode == 1)
		dup2(r0, r1);
	ring_reset(&ring);
	if (!vcpu_kept) {
		/* The sandbox holds the vCPU and the VM by itself. */
		close(gb.g.vm.vcpu_fd);
		close(gb.g.vm.vm_fd);
		gb.g.vm.vcpu_fd = gb.g.vm.vm_fd = -1;
	}
	set_behaviour(t, &(struct target){ .gb = &gb });
	atomic_fetch_add(&g_races, 1);

	for (i = 0; i < NR_HELPERS; i++) {
		h[i].i = i;
		h[i].t = (struct thr) {
			.widx = t->widx, .role = "close-race helper",
			.rng = rnd64(t),
			.inf = &g_inf[t->widx * INF_PER_WORKER + 1 + i],
			.area = area_new(), .res = t->res, .w = w,
		};
		h[i].tg = (struct target) {
			.fd = r0, .inst = inst, .maybe_closed = true,
			.bounded = mode == 0, .gb = vcpu_kept ? &gb : NULL,
			.ring = &ring, .name = "a sandbox being closed",
		};
		h[i].ops = 4 + rnd(t, 16);
		if (!h[i].t.area ||
		    pthread_create(&h[i].thread, NULL, helper_fn, &h[i])) {
			if (h[i].t.area)
				munmap(h[i].t.area, AREA_PAGES * PAGE);
			h[i].t.area = NULL;
		}
	}

	usleep(rnd(t, 20000));
	switch (mode) {
	case 0:	/* the last fd goes while they use it */
		close(r0);
		break;
	case 1:	/* one of two goes; then SHUTDOWN through the other */
		close(r0);
		usleep(rnd(t, 20000));
		{
			struct target d = { .fd = r1, .inst = inst,
					    .name = "a dup of a sandbox being closed" };

			op_shutdown(t, &d, 0);
		}
		close(r1);
		break;
	default:	/* SHUTDOWN under them, then the close */
		{
			struct target d = { .fd = r0, .inst = inst,
					    .name = "a sandbox being shut down" };

			op_shutdown(t, &d, 0);
		}
		usleep(rnd(t, 5000));
		close(r0);
		break;
	}
	for (i = 0; i < NR_HELPERS; i++) {
		if (!h[i].t.area)
			continue;
		if (join_within(h[i].thread, 3 * STUCK_NS / MS)) {
			report(t, &g_stuck, "a close-race helper never ended");
			results_and_exit(false);
		}
		munmap(h[i].t.area, AREA_PAGES * PAGE);
	}
	gbox_close(&gb);
}

/* ---- fork ---- */

enum { CHILD_EXIT, CHILD_KILLED, CHILD_LINGER };

static void __attribute__((noreturn))
child_main(struct worker *w, struct slot *sl, int plan)
{
	struct thr *t = &w->t;
	struct target foreign, own;
	struct idring ring;
	struct gbox gb;
	int i, fd;

	t->child = true;
	t->role = "child";
	t->inf = &g_inf[t->widx * INF_PER_WORKER + 1 + NR_HELPERS];
	t->inf->pid = getpid();
	t->inf->tid = getpid();
	t->w = NULL;	/* no epoll of the parent's */

	/* The parent's sandbox: every command EIO, even malformed ones. */
	slot_target(sl, &foreign);
	foreign.foreign = true;
	foreign.gb = NULL;
	foreign.name = "the parent's sandbox";
	for (i = rnd(t, 4); i >= 0; i--)
		op_random(t, &foreign, 30);

	/* The parent's VM: EIO. */
	{
		struct target dev = { .fd = g_dev_fd, .name = "/dev/callbox" };
		struct req r;

		req_init(&r, C_CREATE);
		r.img.create.vm_fd = sl->gb.g.vm.vm_fd;
		r.img.create.vcpu_fd = sl->gb.g.vm.vcpu_fd;
		r.rt_mask = EB(EIO);
		r.rt_ok = false;
		issue(t, &dev, &r);
	}
	if (plan == CHILD_LINGER) {
		usleep(rnd(t, 50000));
		_exit(t->child_failed ? 3 : 0);
	}

	/* A sandbox of its own: it works. */
	if (gbox_open(&gb))
		_exit(t->child_failed ? 3 : 0);
	fd = bind_sandbox(gb.g.vm.vm_fd, gb.g.vm.vcpu_fd);
	if (fd < 0) {
		report(t, &g_unexpected, "binding a sandbox in a child: %s",
		       strerror(-fd));
		_exit(3);
	}
	ring_reset(&ring);
	own = (struct target) {
		.fd = fd, .inst = new_inst(), .bounded = plan == CHILD_EXIT,
		.gb = &gb, .ring = &ring, .name = "a child's sandbox",
	};
	for (i = rnd(t, 8); i >= 0; i--)
		op_random(t, &own, 5);
	if (plan == CHILD_KILLED) {
		/* Until the parent's SIGKILL: mostly a spin. */
		struct req r;

		if (chance(t, 70))
			script_set(gb.g.mem, SCRIPT_SPIN);
		for (;;) {
			req_init(&r, C_SYNC);
			r.rt_mask = EB(ENOTRECOVERABLE) | EB(EBUSY) |
				    EB(EINTR) | EB(EAGAIN) | EB(ESHUTDOWN);
			issue(t, &own, &r);
			if (r.ret == -ENOTRECOVERABLE)
				op_reset(t, &own, 0);
			if (r.ret == -ESHUTDOWN)	/* one of its ops did */
				pause();
		}
	}
	_exit(t->child_failed ? 3 : 0);
}

void seq_fork(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	struct inflight *ce = &g_inf[t->widx * INF_PER_WORKER + 1 + NR_HELPERS];
	int plan = rnd(t, 3), status = 0;
	uint64_t child_seed = rnd64(t), until;
	bool killed = false;
	pid_t pid, got;

	pthread_rwlock_rdlock(&sl->lock);
	atomic_store(&ce->start_ns, 0);
	atomic_store(&ce->child_failed, 0);
	pid = fork();
	if (!pid) {
		t->rng = child_seed;
		child_main(w, sl, plan);
	}
	pthread_rwlock_unlock(&sl->lock);
	if (pid < 0)
		return;
	atomic_fetch_add(&g_forks, 1);

	if (plan == CHILD_KILLED || chance(t, 20)) {
		usleep(rnd(t, 30000));
		kill(pid, SIGKILL);
		killed = true;
		atomic_fetch_add(&g_kills, 1);
	}
	until = now_ns() + STUCK_NS;
	for (;;) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == pid || (got < 0 && errno != EINTR))
			break;
		if (now_ns() > until) {
			char path[64];

			report(t, &g_child_fail,
			       "child %d (plan %d) has not exited after %" PRIu64
			       " ms", pid, plan, (uint64_t)(STUCK_NS / MS));
			snprintf(path, sizeof(path), "/proc/%d/stack", pid);
			print_file(path, "    ");
			kill(pid, SIGKILL);
			killed = true;
			until = now_ns() + 3 * STUCK_NS;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR &&
			       now_ns() < until)
				;
			break;
		}
		usleep(1000);
	}
	atomic_store(&ce->start_ns, 0);
	if (atomic_load(&ce->child_failed)) {
		report(t, &g_child_fail,
		       "child %d (plan %d) saw what it did not expect (above)",
		       pid, plan);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killed)
		return;
	report(t, &g_child_fail, "child %d (plan %d) ended with status 0x%x",
	       pid, plan, status);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: the threads of a run. The workers, which run sequence
 * after sequence; the recycler, which shuts a slot down and binds its
 * vCPU to a new sandbox, or closes it and builds a new guest; and the
 * pinger, which signals the workers and their close-race helpers
 * (SIGUSR1, no SA_RESTART).
 */
#include "ioctl_fuzz.h"

void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct thr *t = &w->t;

	atomic_store(&w->tid, my_tid());
	t->inf->pid = getpid();
	t->inf->tid = my_tid();
	while (!atomic_load(&g_stop)) {
		unsigned int r = rnd(t, 100);

		atomic_fetch_add(&g_seqs, 1);
		if (r < 52)
			seq_slot(w);
		else if (r < 60)
			seq_abi(w);
		else if (r < 63)
			seq_long_struct(w);
		else if (r < 71)
			seq_create(w);
		else if (r < 85)
			seq_close_race(w);
		else if (r < 91)
			seq_fork(w);
		else
			seq_wrongfd(w);
	}
	atomic_store(&w->tid, 0);
	return NULL;
}

int slot_open(struct slot *sl)
{
	int ret = gbox_open(&sl->gb);

	if (ret) {
		gbox_close(&sl->gb);
		return ret;
	}
	sl->fd = bind_sandbox(sl->gb.g.vm.vm_fd, sl->gb.g.vm.vcpu_fd);
	if (sl->fd < 0) {
		ret = sl->fd;
		gbox_close(&sl->gb);
		return ret;
	}
	sl->inst = new_inst();
	ring_reset(&sl->ring);
	return 0;
}

/*
 * Recycle slot @sl: shut it down and bind its vCPU to a new sandbox
 * (which SHUTDOWN's return promises is free), or close it as it is, calls
 * and all, and build a new guest.
 */
static void recycle(struct thr *t, struct slot *sl)
{
	struct timespec ts;
	struct target tg;
	int mode = rnd(t, 100), fd;

	slot_target(sl, &tg);
	tg.name = "a slot being recycled";
	if (mode < 60) {
		op_shutdown(t, &tg, 0);
		pthread_rwlock_wrlock(&sl->lock);
		fd = bind_sandbox(sl->gb.g.vm.vm_fd, sl->gb.g.vm.vcpu_fd);
		if (fd < 0) {
			report(t, &g_unexpected,
			       "SANDBOX_CREATE on a vCPU whose sandbox SHUTDOWN returned: %s",
			       strerror(-fd));
		} else {
			close(sl->fd);
			sl->fd = fd;
			sl->inst = new_inst();
			ring_reset(&sl->ring);
		}
	} else {
		/* A while for the sequences to end; then shut it down. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += rnd(t, 500) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_rwlock_timedwrlock(&sl->lock, &ts)) {
			op_shutdown(t, &tg, 0);
			pthread_rwlock_wrlock(&sl->lock);
		}
		close(sl->fd);
		gbox_close(&sl->gb);
		if (slot_open(sl)) {
			report(t, &g_unexpected, "cannot rebuild a slot");
			atomic_store(&g_stop, true);
			/* Leave a valid, shut-down fd behind for the others. */
			sl->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
	}
	pthread_rwlock_unlock(&sl->lock);
	atomic_fetch_add(&g_recycles, 1);
}

struct thr g_recycler_thr;

void *recycler_fn(void *arg)
{
	struct thr *t = &g_recycler_thr;
	int i = 0;

	t->inf->pid = getpid();
	t->inf->tid = my_tid();
	while (!atomic_load(&g_recycler_stop)) {
		usleep(30000 + rnd(t, 220000));
		recycle(t, &g_slots[i++ % NR_SLOTS]);
	}
	return NULL;
}

void on_sigusr1(int sig)
{
	atomic_fetch_add(&g_sigs, 1);
}

void *pinger_fn(void *arg)
{
	uint64_t rng = g_seed ^ 0x5157;

	while (!atomic_load(&g_pinger_stop)) {
		uint64_t pick = splitmix(&rng);
		int tid;

		usleep(1000 + splitmix(&rng) % 20000);
		/* A worker, or one of its close-race helpers. */
		if (pick % 3)
			tid = atomic_load(&g_workers[pick / 3 % NR_WORKERS].tid);
		else
			tid = atomic_load(&g_helper_tid[pick / 3 % NR_WORKERS]
						       [pick / 12 % NR_HELPERS]);
		if (tid)
			syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
	}
	return NULL;
}

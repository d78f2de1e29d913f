// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: call.old_design, the baseline of call.async. The
 * seed's design, re-implemented here: the caller queues the request for
 * a handler thread (a mutex and a condition variable), the handler sets a
 * userspace atomic "running" flag, runs the vCPU (one KVM_RUN, as the
 * floor), clears the flag and wakes the caller. Its cost is what the
 * kernel-owned lifecycle is compared with; its flaw (a caller that times
 * out reads the flag, not the truth) is regression_test's business.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "bench.h"
#include "bench_report.h"
#include "bench_util.h"
#include "raw_guest.h"

#define OLD_SAMPLES	2000
#define OLD_QUICK	100

struct old_design {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int queued, done;
	bool stop;
	atomic_bool running;
	struct raw_guest g;
	struct kvm_run *run;
};

static void *old_handler(void *p)
{
	struct old_design *o = p;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->queued && !o->stop)
			pthread_cond_wait(&o->cond, &o->lock);
		if (o->stop)
			break;
		o->queued--;
		pthread_mutex_unlock(&o->lock);
		atomic_store(&o->running, true);
		floor_call(o->g.vm.vcpu_fd, o->run);
		atomic_store(&o->running, false);
		pthread_mutex_lock(&o->lock);
		o->done++;
		pthread_cond_broadcast(&o->cond);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

static void old_call(struct old_design *o)
{
	unsigned int want;

	pthread_mutex_lock(&o->lock);
	want = o->done + 1;
	o->queued++;
	pthread_cond_broadcast(&o->cond);
	while (o->done < want)
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
}

void bench_old_design(void)
{
	static uint64_t t[OLD_SAMPLES];
	int i, n = bench_quick ? OLD_QUICK : OLD_SAMPLES;
	struct old_design o = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	pthread_t handler;
	size_t run_size;
	uint64_t t0;
	int ret;

	ret = raw_guest_create(&o.g, raw_guest_counter,
			       sizeof(raw_guest_counter));
	if (ret)
		die("raw guest", -ret);
	o.run = raw_guest_map_run(&o.g, &run_size);
	if (o.run == MAP_FAILED)
		die("mmap kvm_run", errno);
	pthread_create(&handler, NULL, old_handler, &o);
	for (i = 0; i < 100; i++)
		old_call(&o);
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		old_call(&o);
		t[i] = now_ns() - t0;
	}
	pthread_mutex_lock(&o.lock);
	o.stop = true;
	pthread_cond_broadcast(&o.cond);
	pthread_mutex_unlock(&o.lock);
	pthread_join(handler, NULL);
	munmap(o.run, run_size);
	raw_guest_destroy(&o.g);
	bench_figure("call.old_design", t, n, "floor.kvm_run");
}

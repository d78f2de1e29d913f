/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starving a thread of its CPU: the thread that runs calls is put at
 * SCHED_IDLE on one CPU while a SCHED_FIFO thread (the starver) spins
 * there, so a host that waits for it with a timeout sees what it sees
 * when that thread is never scheduled. The starver steps aside when asked,
 * so that a test also takes the path where the starved thread runs in
 * time.
 *
 * RT throttling would hand the CPU back for 5% of every second, which on
 * fast hardware runs most calls in time: rt_throttling_off() turns it off
 * for the test, so that only the test decides when the starved thread
 * runs.
 *
 * Only the test, and a watchdog: the starved thread may be preempted while
 * it holds something the test's own loop then waits for (on a fully
 * preemptible kernel, the sandbox's publish_lock in the middle of a RESET,
 * or the mmap lock), and a loop that never reaches its next step would
 * never let it go. The debug kernel's run of the regression test hung so.
 * When the loop has not stepped for STARVE_WATCHDOG_NS, the starver gives
 * the CPU back for a moment and counts it (watchdog_yields): far longer
 * than any timeout a test starves a thread through, so the test still
 * sees what it means to.
 */
#ifndef CALLBOX_SELFTEST_STARVE_UTIL_H
#define CALLBOX_SELFTEST_STARVE_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "callbox_util.h"

/* Any RT priority starves SCHED_IDLE; stay low so the kernel's own win. */
#define STARVER_PRIO		5
/* See above: how long the test's loop may stand still, and the break. */
#define STARVE_WATCHDOG_NS	200000000ull
#define STARVE_WATCHDOG_BREAK_US	1000
#define RT_RUNTIME	"/proc/sys/kernel/sched_rt_runtime_us"

/* Pin the calling thread to @cpu and give it @policy. Returns -errno. */
static inline int set_self_sched(int cpu, int policy, int prio)
{
	struct sched_param param = { .sched_priority = prio };
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Pin first, so that an RT thread never hogs the wrong CPU. */
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (!ret)
		ret = pthread_setschedparam(pthread_self(), policy, &param);
	return -ret;
}

/* The SCHED_FIFO thread spinning on the starved CPU. */
struct starver {
	int cpu;
	pthread_t thread;
	bool started;
	atomic_int state;	/* 0: starting, 1: spinning, <0: -errno */
	atomic_bool stop;
	atomic_bool pause;	/* asked to give the CPU back for a while */
	atomic_bool paused;	/* ... and it has */
	atomic_uint steps;	/* the test's loop moves on: starve_step() */
	atomic_uint watchdog_yields;	/* breaks given to a stalled loop */
};

static inline void *starver_thread(void *arg)
{
	struct starver *s = arg;
	int ret = set_self_sched(s->cpu, SCHED_FIFO, STARVER_PRIO);
	unsigned int seen = atomic_load(&s->steps), now_steps;
	uint64_t seen_at = now_ns(), now;

	atomic_store(&s->state, ret ? ret : 1);
	if (ret)
		return NULL;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		if (atomic_load_explicit(&s->pause, memory_order_relaxed)) {
			atomic_store(&s->paused, true);
			/* Sleeping is what lets the SCHED_IDLE thread run. */
			while (atomic_load(&s->pause) &&
			       !atomic_load(&s->stop))
				usleep(50);
			atomic_store(&s->paused, false);
		}
		now_steps = atomic_load_explicit(&s->steps,
						 memory_order_relaxed);
		now = now_ns();
		if (now_steps != seen) {
			seen = now_steps;
			seen_at = now;
		} else if (now - seen_at > STARVE_WATCHDOG_NS) {
			atomic_fetch_add(&s->watchdog_yields, 1);
			usleep(STARVE_WATCHDOG_BREAK_US);
			seen_at = now_ns();
		}
		__builtin_ia32_pause();
	}
	return NULL;
}

/* Give the starved CPU back (@pause) or take it again, and wait for it. */
static inline void starve_pause(struct starver *s, bool pause)
{
	atomic_store(&s->pause, pause);
	while (atomic_load(&s->paused) != pause)
		sched_yield();
}

/*
 * Before iteration @i of a test's loop: every @unstarved_every-th
 * iteration runs with the CPU given back, so that the "finished in time"
 * path is exercised too, on any hardware; the others starve.
 */
static inline void starve_step(struct starver *s, unsigned int i,
			       unsigned int unstarved_every)
{
	atomic_fetch_add_explicit(&s->steps, 1, memory_order_relaxed);
	starve_pause(s, i % unstarved_every == unstarved_every - 1);
}

/* Starve @cpu: returns 0 once the starver owns it, or -errno. */
static inline int starve_start(struct starver *s, int cpu)
{
	int ret;

	s->cpu = cpu;
	atomic_store(&s->state, 0);
	atomic_store(&s->stop, false);
	atomic_store(&s->pause, false);
	atomic_store(&s->paused, false);
	atomic_store(&s->steps, 0);
	atomic_store(&s->watchdog_yields, 0);
	ret = pthread_create(&s->thread, NULL, starver_thread, s);
	if (ret)
		return -ret;
	s->started = true;
	while (!atomic_load(&s->state))
		sched_yield();
	return atomic_load(&s->state) < 0 ? atomic_load(&s->state) : 0;
}

#define starve_start_ok(s, cpu)                                         \
	({                                                              \
		int __ret = starve_start(s, cpu);                       \
		if (__ret == -EPERM)                                    \
			SKIP(return, "SCHED_FIFO needs CAP_SYS_NICE");  \
		ASSERT_EQ(0, __ret) {                                   \
			TH_LOG("starting the spinner: %s",              \
			       strerror(-__ret));                       \
		}                                                       \
	})

/* Hand the CPU back for good; a no-op if the starver never started. */
static inline void starve_stop(struct starver *s)
{
	if (!s->started)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	s->started = false;
}

/* starve_stop(), and say if the watchdog had to step in (see above). */
#define starve_stop_report(s)						\
	({								\
		starve_stop(s);						\
		if (atomic_load(&(s)->watchdog_yields))			\
			TH_LOG("the starver's watchdog gave the CPU back %u times: the loop had stalled behind the starved thread", \
			       atomic_load(&(s)->watchdog_yields));	\
	})

/*
 * Turn RT throttling off, and remember the old value in @old. Not being
 * allowed to is fine: the starved thread then also runs 5% of the time.
 */
static inline bool rt_throttling_off(char *old, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(RT_RUNTIME, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, old, len - 1);
	if (n <= 0 || lseek(fd, 0, SEEK_SET) || write(fd, "-1", 2) != 2) {
		close(fd);
		return false;
	}
	old[n] = '\0';
	close(fd);
	return true;
}

static inline void rt_throttling_restore(const char *old)
{
	int fd = open(RT_RUNTIME, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, old, strlen(old)) < 0)
		perror(RT_RUNTIME);
	close(fd);
}

#endif /* CALLBOX_SELFTEST_STARVE_UTIL_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * The "events" group of the "callbox" netlink family, joined as root,
 * overrun: no event vanishes without a LOST event that counts it.
 * netlink_events_test has the exact stream, when the queue has room.
 */
#include <sched.h>

#include "nl_events_util.h"

#define EV_LOST		CALLBOX_NL_EVENT_LOST
#define BIT_OF(a)	(1u << (a))

/* What a LOST event carries, exactly. */
#define LOST_EVENT_ATTRS						\
	(BIT_OF(CALLBOX_NL_A_EVENT_TYPE) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_TIME_NS) |				\
	 BIT_OF(CALLBOX_NL_A_EVENT_LOST))

FIXTURE(events) {
	struct cbnl_events es;
	struct box b;
	uint64_t id;
};

FIXTURE_SETUP(events)
{
	cbnl_events_box_open(_metadata, &self->es, &self->b, &self->id);
}

FIXTURE_TEARDOWN(events)
{
	box_close(&self->b);
	cbnl_events_close(&self->es);
}

/*
 * A burst larger than the kernel's queue: every event is either sent or
 * counted by a LOST event, none vanishes. 20 rounds of 64 calls queued
 * and cancelled: 2,560 transitions, more than the 1,024 places. The
 * work that sends them is queued on the CPU that records them: the burst
 * runs there as a real-time thread, which that CPU's kworker cannot
 * preempt, so the queue does fill up.
 */
TEST_F_TIMEOUT(events, burst_is_counted, 120)
{
	const uint32_t rounds = 20, per = CALLBOX_MAX_CALLS;
	uint64_t expected, got = 0, lost = 0, id = 0, next = 1;
	struct sched_param rt = { .sched_priority = 50 }, other = { 0 };
	struct callbox_call_info ci;
	uint32_t r, i, nr_lost = 0;
	cpu_set_t cpu;
	int ret;

	return_if_setup_skipped();
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &rt));
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < per; i++) {
			ret = _call_submit(self->b.fd, 0, &id);
			if (!ret)
				ret = _call_cancel(self->b.fd, id);
			if (ret)
				break;
		}
		for (i = 0; i < per && !ret; i++)
			ret = _call_wait(self->b.fd, next++, 0, &ci);
		if (ret)
			break;
	}
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &other));
	ASSERT_EQ(0, ret) {
		TH_LOG("round %u, call %u: %s", r, i, strerror(-ret));
	}
	sandbox_shutdown(self->b.fd);
	/* CREATE, two per call, SHUTDOWN. */
	expected = 1 + 2ull * rounds * per + 1;

	/* Read until all are accounted for, or 20 s of silence. */
	for (;;) {
		uint32_t before = self->es.nr;

		ret = cbnl_events_read(&self->es, 2000, NULL, NULL);
		ASSERT_LE(0, ret) {
			TH_LOG("reading events: libnl %d (a socket overrun?)",
			       self->es.r.nl_ret);
		}
		got = lost = nr_lost = 0;
		for (i = 0; i < self->es.nr; i++) {
			struct cbnl_event *e = &self->es.ev[i];

			if (e->type == EV_LOST) {
				EXPECT_EQ(LOST_EVENT_ATTRS, e->present);
				EXPECT_LT(0, e->lost);
				lost += e->lost;
				nr_lost++;
			} else if (e->sandbox_id == self->id) {
				got++;
			}
		}
		if (got + lost >= expected || self->es.nr == before)
			break;
	}
	EXPECT_STREQ("", self->es.r.bad);
	TH_LOG("%llu events sent, %llu lost in %u LOST events",
	       (unsigned long long)got, (unsigned long long)lost, nr_lost);
	EXPECT_EQ(expected, got + lost);
	/* The queue did fill: the LOST path ran. */
	EXPECT_LT(0, nr_lost);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * callbox's tracepoints, read through a tracefs instance of the test's
 * own (so that nothing else tracing interferes): a scripted sequence of
 * calls on one sandbox takes every edge of the call state table, a kick
 * (by CANCEL and by the deadline), the deadline timer, and the sandbox's
 * creation and shutdown; the events for that sandbox must be exactly
 * those, in that order, with the reason and flags GET reports. Every
 * edge seen must be one the table in debugfs allows, and every edge it
 * allows must have been seen.
 */
#include <inttypes.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "inspect_util.h"
#include "tracefs_util.h"

#define S_Q	CALLBOX_STATE_QUEUED
#define S_E	CALLBOX_STATE_ENTERED
#define S_H	CALLBOX_STATE_HOSTCALL
#define S_X	CALLBOX_STATE_EXITED
#define S_A	CALLBOX_STATE_ABORTED

static const char *const callbox_events[] = {
	"call_transition", "call_kick", "call_deadline", "sandbox_create",
	"sandbox_shutdown",
};
#define NR_CALLBOX_EVENTS (sizeof(callbox_events) / sizeof(callbox_events[0]))

/*
 * One event, as a line of text that says all of it, for comparing:
 *   "create PID UID", "shutdown", "kick CALL", "deadline CALL",
 *   "CALL FROM->TO REASON FLAGS"
 * and the sandbox it is about.
 */
struct event {
	uint64_t sandbox;
	char text[96];
	/* call_transition only */
	char from[16], to[16];
};

#define MAX_EVENTS	512

/* Parse an instance's trace file; the number of callbox events. */
static int parse_trace(char *buf, struct event *ev, int max)
{
	char *line, *save, *p;
	int n = 0, k;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct event *e = &ev[n];
		char name[32], reason[24], flags[16];
		unsigned long long sb, call;
		int pid, end = -1;
		unsigned int uid;

		if (line[0] == '#')
			continue;
		for (k = 0; k < (int)NR_CALLBOX_EVENTS; k++) {
			snprintf(name, sizeof(name), ": %s: ", callbox_events[k]);
			p = strstr(line, name);
			if (p)
				break;
		}
		if (!p)
			return -EPROTO;	/* only callbox events are enabled */
		if (n == max)
			return -E2BIG;
		p += strlen(name);
		memset(e, 0, sizeof(*e));
		switch (k) {
		case 0:
			if (sscanf(p, "sandbox=%llu call=%llu %15s -> %15s reason=%23s flags=%15s%n",
				   &sb, &call, e->from, e->to, reason, flags,
				   &end) != 6 || p[end])
				return -EPROTO;
			snprintf(e->text, sizeof(e->text), "%llu %s->%s %s %s",
				 call, e->from, e->to, reason, flags);
			break;
		case 1:
		case 2:
			if (sscanf(p, "sandbox=%llu call=%llu%n", &sb, &call,
				   &end) != 2 || p[end])
				return -EPROTO;
			snprintf(e->text, sizeof(e->text), "%s %llu",
				 k == 1 ? "kick" : "deadline", call);
			break;
		case 3:
			if (sscanf(p, "sandbox=%llu owner_pid=%d owner_uid=%u%n",
				   &sb, &pid, &uid, &end) != 3 || p[end])
				return -EPROTO;
			snprintf(e->text, sizeof(e->text), "create %d %u", pid,
				 uid);
			break;
		default:
			if (sscanf(p, "sandbox=%llu%n", &sb, &end) != 1 || p[end])
				return -EPROTO;
			snprintf(e->text, sizeof(e->text), "shutdown");
		}
		e->sandbox = sb;
		n++;
	}
	return n;
}

FIXTURE(trace) {
	char root[64];
	char inst[256];
	bool made;
	struct box b;
	char *buf;
};

FIXTURE_SETUP(trace)
{
	const char *root;
	char path[320];

	self->made = false;
	self->buf = NULL;
	box_init(&self->b);
	if (!path_exists("/dev/callbox"))
		SKIP(return, "/dev/callbox is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	root = tracefs_root();
	if (!root)
		SKIP(return, "no tracefs");
	snprintf(self->root, sizeof(self->root), "%s", root);
	snprintf(self->inst, sizeof(self->inst), "%s/instances/callbox_trace_%d",
		 root, getpid());
	ASSERT_EQ(0, mkdir(self->inst, 0755)) {
		TH_LOG("mkdir %s: %s", self->inst, strerror(errno));
	}
	self->made = true;
	/* One clock for all CPUs: the runner and the timer are elsewhere. */
	snprintf(path, sizeof(path), "%s/trace_clock", self->inst);
	ASSERT_OK("trace_clock mono", write_text(path, "mono"));
	snprintf(path, sizeof(path), "%s/events/callbox/enable", self->inst);
	ASSERT_OK("enabling the callbox events", write_text(path, "1"));
	snprintf(path, sizeof(path), "%s/tracing_on", self->inst);
	ASSERT_OK("tracing_on", write_text(path, "1"));
	self->buf = malloc(1 << 20);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(trace)
{
	char path[320];

	box_close(&self->b);
	if (self->made) {
		snprintf(path, sizeof(path), "%s/events/callbox/enable",
			 self->inst);
		write_text(path, "0");
		rmdir(self->inst);
	}
	free(self->buf);
}

/* Exactly the five events, and no other callbox one. */
TEST_F(trace, available_events)
{
	char path[320], *line, *save;
	unsigned int seen = 0, k;

	return_if_setup_skipped();
	snprintf(path, sizeof(path), "%s/available_events", self->root);
	ASSERT_LT(0, read_text(path, self->buf, 1 << 20));
	for (line = strtok_r(self->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "callbox:", 8))
			continue;
		for (k = 0; k < NR_CALLBOX_EVENTS; k++)
			if (!strcmp(line + 8, callbox_events[k]))
				break;
		EXPECT_GT(NR_CALLBOX_EVENTS, k) {
			TH_LOG("unexpected event %s", line);
		}
		if (k < NR_CALLBOX_EVENTS) {
			EXPECT_FALSE(seen & (1u << k));
			seen |= 1u << k;
		}
	}
	EXPECT_EQ((1u << NR_CALLBOX_EVENTS) - 1, seen);
}

/* Run the poisoned sandbox's guest's init call: its id, after @id. */
static void reset(struct __test_metadata *_metadata, struct box *b,
		  uint64_t id)
{
	struct callbox_call_info c;
	uint64_t init_id;

	script_set(b->guest.mem, SCRIPT_DONE);
	ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &init_id));
	ASSERT_EQ(id, init_id);
	call_run(b->fd, id, 0, &c);
	ASSERT_EQ(S_X, c.state);
	call_wait(b->fd, id, 0, &c);
}

/* Check an outcome, as the event will show it. */
#define expect_outcome(c, _id, _state, _reason, _flags)			\
	do {								\
		EXPECT_EQ((uint64_t)(_id), (c)->id);			\
		EXPECT_EQ(_state, (c)->state);				\
		EXPECT_EQ(_reason, (c)->reason);			\
		EXPECT_EQ(_flags, (c)->flags);				\
	} while (0)

/* Run call @id (SUBMITted, spinning) on a thread until it ends. */
static void spin_and_end(struct __test_metadata *_metadata, struct box *b,
			 uint64_t id, bool cancel, struct callbox_call_info *c)
{
	struct tid_runner r = { .fd = b->fd, .id = id };

	tid_runner_start(&r);
	ASSERT_TRUE(WAIT_FOR(script_spinning(b->guest.mem)));
	if (cancel)
		call_cancel(b->fd, id);
	ASSERT_TRUE(tid_runner_join(&r, 10000));
	ASSERT_EQ(0, r.ret);
	call_wait(b->fd, id, 0, c);
}

TEST_F_TIMEOUT(trace, every_edge, 120)
{
	/* What the sandboxes' events must be, in order. */
	static const char *const want_a[] = {
		"create %d %u",
		/* 1: SUBMIT, RUN, DONE */
		"1 NONE->QUEUED none 0x0", "1 QUEUED->ENTERED none 0x0",
		"1 ENTERED->EXITED none 0x1",
		/* 2: a host call, continued */
		"2 NONE->QUEUED none 0x0", "2 QUEUED->ENTERED none 0x0",
		"2 ENTERED->HOSTCALL none 0x1", "2 HOSTCALL->ENTERED none 0x1",
		"2 ENTERED->EXITED none 0x1",
		/* 3: a host call, cancelled, continued */
		"3 NONE->QUEUED none 0x0", "3 QUEUED->ENTERED none 0x0",
		"3 ENTERED->HOSTCALL none 0x1",
		"3 HOSTCALL->ABORTED cancelled 0x5",
		/* 4: the init call of a reset */
		"4 NONE->QUEUED none 0x8", "4 QUEUED->ENTERED none 0x8",
		"4 ENTERED->EXITED none 0x9",
		/* 5: cancelled while queued */
		"5 NONE->QUEUED none 0x0", "5 QUEUED->ABORTED cancelled 0x0",
		/* 6: spinning, cancelled: a kick */
		"6 NONE->QUEUED none 0x0", "6 QUEUED->ENTERED none 0x0",
		"kick 6", "6 ENTERED->ABORTED cancelled 0x5",
		"7 NONE->QUEUED none 0x8", "7 QUEUED->ENTERED none 0x8",
		"7 ENTERED->EXITED none 0x9",
		/* 8: spinning, its deadline passes: timer, kick */
		"8 NONE->QUEUED none 0x0", "8 QUEUED->ENTERED none 0x0",
		"deadline 8", "kick 8", "8 ENTERED->ABORTED deadline 0x5",
		"9 NONE->QUEUED none 0x8", "9 QUEUED->ENTERED none 0x8",
		"9 ENTERED->EXITED none 0x9",
		/* 10: the guest aborts */
		"10 NONE->QUEUED none 0x0", "10 QUEUED->ENTERED none 0x0",
		"10 ENTERED->ABORTED guest_abort 0x5",
		"11 NONE->QUEUED none 0x8", "11 QUEUED->ENTERED none 0x8",
		"11 ENTERED->EXITED none 0x9",
		/* 12 queued; 13's deadline passed before it was submitted */
		"12 NONE->QUEUED none 0x0",
		"13 NONE->QUEUED none 0x0", "13 QUEUED->ABORTED deadline 0x0",
		/* SHUTDOWN ends what is queued, then says so; close: none */
		"12 QUEUED->ABORTED sandbox_closed 0x0", "shutdown",
	};
	/* A second sandbox, closed with a call queued. */
	static const char *const want_b[] = {
		"create %d %u", "1 NONE->QUEUED none 0x0",
		"1 QUEUED->ABORTED sandbox_closed 0x0", "shutdown",
	};
	static const uint32_t states[] = { S_Q, S_E, S_H, S_X, S_A };
	static struct event ev[MAX_EVENTS];
	struct box *b = &self->b;
	struct callbox_sandbox_create *cr;
	struct callbox_call_info c;
	uint64_t id, sb_a, sb_b;
	char path[320], want[96], *line, *save, from[16], *arrow;
	bool allowed[8][8] = { { false } }, seen[8][8] = { { false } };
	unsigned int i, j, n_a = 0, n_b = 0, n_edges = 0;
	int n;

	return_if_setup_skipped();
	box_open(_metadata, b, guest_script, sizeof(guest_script), false);
	return_if_setup_skipped();

	/*
	 * A creation that fails once the sandbox existed (its reply cannot
	 * be written back) was never seen: no event at all.
	 */
	cr = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, cr);
	*cr = (struct callbox_sandbox_create) {
		.size = sizeof(*cr), .vm_fd = b->guest.vm.vm_fd,
		.vcpu_fd = b->guest.vm.vcpu_fd,
	};
	ASSERT_EQ(0, mprotect(cr, 4096, PROT_READ));
	EXPECT_EQ(-1, ioctl(b->dev_fd, CALLBOX_SANDBOX_CREATE, cr));
	EXPECT_EQ(EFAULT, errno);
	munmap(cr, 4096);

	b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
			       b->guest.vm.vcpu_fd);
	sb_a = sandbox_id_of(b->fd);
	ASSERT_NE(0, sb_a);

	/* 1 */
	script_set(b->guest.mem, SCRIPT_DONE);
	call_submit(b->fd, 0, &id);
	call_run(b->fd, id, 0, &c);
	call_wait(b->fd, id, 0, &c);
	expect_outcome(&c, 1, S_X, 0, CALLBOX_CALL_GUEST_RAN);
	/* 2 */
	script_set(b->guest.mem, SCRIPT_HOSTCALL);
	call_sync(b->fd, 0, &c);
	ASSERT_EQ(S_H, c.state);
	call_run(b->fd, c.id, 0, &c);
	call_wait(b->fd, c.id, 0, &c);
	expect_outcome(&c, 2, S_X, 0, CALLBOX_CALL_GUEST_RAN);
	/* 3, 4 */
	call_sync(b->fd, 0, &c);
	ASSERT_EQ(S_H, c.state);
	call_cancel(b->fd, c.id);
	call_run(b->fd, c.id, 0, &c);
	call_wait(b->fd, c.id, 0, &c);
	expect_outcome(&c, 3, S_A, CALLBOX_ABORT_CANCELLED,
		       CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED);
	reset(_metadata, b, 4);
	/* 5 */
	call_submit(b->fd, 0, &id);
	call_cancel(b->fd, id);
	call_wait(b->fd, id, 0, &c);
	expect_outcome(&c, 5, S_A, CALLBOX_ABORT_CANCELLED, 0);
	/* 6, 7 */
	script_set(b->guest.mem, SCRIPT_SPIN);
	call_submit(b->fd, 0, &id);
	spin_and_end(_metadata, b, id, true, &c);
	expect_outcome(&c, 6, S_A, CALLBOX_ABORT_CANCELLED,
		       CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED);
	reset(_metadata, b, 7);
	/* 8, 9 */
	script_set(b->guest.mem, SCRIPT_SPIN);
	call_submit(b->fd, now_ns() + 1500 * MS, &id);
	spin_and_end(_metadata, b, id, false, &c);
	expect_outcome(&c, 8, S_A, CALLBOX_ABORT_DEADLINE,
		       CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED);
	reset(_metadata, b, 9);
	/* 10, 11 */
	script_set(b->guest.mem, SCRIPT_ABORT);
	call_sync(b->fd, 0, &c);
	expect_outcome(&c, 10, S_A, CALLBOX_ABORT_GUEST_ABORT,
		       CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED);
	reset(_metadata, b, 11);
	/* 12, 13 */
	call_submit(b->fd, 0, &id);
	call_submit(b->fd, 1, &id);
	call_get(b->fd, 13, &c);
	expect_outcome(&c, 13, S_A, CALLBOX_ABORT_DEADLINE, 0);
	sandbox_shutdown(b->fd);
	call_get(b->fd, 12, &c);
	expect_outcome(&c, 12, S_A, CALLBOX_ABORT_SANDBOX_CLOSED, 0);
	close(b->fd);
	b->fd = -1;

	/* B, on the same vCPU, which A's shutdown let go. */
	b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
			       b->guest.vm.vcpu_fd);
	sb_b = sandbox_id_of(b->fd);
	ASSERT_LT(sb_a, sb_b);
	call_submit(b->fd, 0, &id);
	close(b->fd);
	b->fd = -1;

	snprintf(path, sizeof(path), "%s/trace", self->inst);
	ASSERT_LT(0, read_text(path, self->buf, 1 << 20));
	n = parse_trace(self->buf, ev, MAX_EVENTS);
	ASSERT_LE(0, n) {
		TH_LOG("the trace does not parse: %s", strerror(-n));
	}

	for (i = 0; i < (unsigned int)n; i++) {
		const char *const *w;
		unsigned int *k, nr;

		if (ev[i].sandbox == sb_a) {
			w = want_a;
			k = &n_a;
			nr = sizeof(want_a) / sizeof(want_a[0]);
		} else if (ev[i].sandbox == sb_b) {
			w = want_b;
			k = &n_b;
			nr = sizeof(want_b) / sizeof(want_b[0]);
		} else {
			/* The suites run one at a time: no other sandbox. */
			EXPECT_TRUE(false) {
				TH_LOG("an event of sandbox %" PRIu64 ": %s",
				       ev[i].sandbox, ev[i].text);
			}
			continue;
		}
		if (*k < nr) {
			snprintf(want, sizeof(want), w[*k], getpid(), getuid());
			EXPECT_STREQ(want, ev[i].text) {
				TH_LOG("sandbox %" PRIu64 ", event %u",
				       ev[i].sandbox, *k);
			}
		} else {
			EXPECT_TRUE(false) {
				TH_LOG("sandbox %" PRIu64 ": extra event %s",
				       ev[i].sandbox, ev[i].text);
			}
		}
		(*k)++;
		/* The edge it took. */
		if (ev[i].from[0] && strcmp(ev[i].from, "NONE")) {
			for (j = 0; j < 5 && strcmp(ev[i].from,
						    state_name(states[j])); j++)
				;
			ASSERT_GT(5, j);
			for (n_edges = 0; n_edges < 5 &&
			     strcmp(ev[i].to, state_name(states[n_edges]));
			     n_edges++)
				;
			ASSERT_GT(5, n_edges);
			seen[states[j]][states[n_edges]] = true;
		} else if (ev[i].from[0]) {
			EXPECT_STREQ("QUEUED", ev[i].to);
		}
	}
	EXPECT_EQ(sizeof(want_a) / sizeof(want_a[0]), n_a);
	EXPECT_EQ(sizeof(want_b) / sizeof(want_b[0]), n_b);

	/* Every edge taken is allowed, and every allowed edge was taken. */
	ASSERT_LT(0, read_text(CALLBOX_DEBUGFS "/transitions", self->buf,
			       1 << 20));
	for (line = strtok_r(self->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tok, *tsave;
		uint32_t f = 0, t;

		arrow = strstr(line, "->");
		ASSERT_NE(NULL, arrow);
		ASSERT_EQ(1, sscanf(line, "%15s", from));
		for (j = 0; j < 5; j++)
			if (!strcmp(from, state_name(states[j])))
				f = states[j];
		ASSERT_NE(0, f);
		for (tok = strtok_r(arrow + 2, " ", &tsave); tok;
		     tok = strtok_r(NULL, " ", &tsave)) {
			for (t = 0, j = 0; j < 5; j++)
				if (!strcmp(tok, state_name(states[j])))
					t = states[j];
			ASSERT_NE(0, t);
			allowed[f][t] = true;
		}
	}
	n_edges = 0;
	for (i = 0; i < 8; i++) {
		for (j = 0; j < 8; j++) {
			EXPECT_EQ(allowed[i][j], seen[i][j]) {
				TH_LOG("%s -> %s: allowed %d, seen %d",
				       state_name(i), state_name(j),
				       allowed[i][j], seen[i][j]);
			}
			n_edges += allowed[i][j];
		}
	}
	EXPECT_EQ(7, n_edges);
}

/*
 * The owner in sandbox_create is the global pid, as the pid every trace
 * line starts with (and as owner_uid is the uid in the initial user
 * namespace), whatever pid namespace the creator is in: here pid 1 of a
 * new one.
 */
TEST_F_TIMEOUT(trace, owner_pid_is_global, 60)
{
	static struct event ev[MAX_EVENTS];
	char path[320], want[64];
	uint64_t sb_id = 0;
	int p[2], status, n, i, found = 0;
	pid_t pid;

	return_if_setup_skipped();
	if (unshare(CLONE_NEWPID))
		SKIP(return, "unshare(CLONE_NEWPID): %s", strerror(errno));
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct raw_guest g;
		int dev, fd;

		/* pid 1 of its namespace */
		if (getpid() != 1 || raw_guest_create(&g, guest_script,
						       sizeof(guest_script)))
			_exit(1);
		dev = open("/dev/callbox", O_RDWR | O_CLOEXEC);
		fd = _sandbox_create(dev, g.vm.vm_fd, g.vm.vcpu_fd);
		if (fd < 0)
			_exit(2);
		sb_id = sandbox_id_of(fd);
		if (write(p[1], &sb_id, sizeof(sb_id)) != sizeof(sb_id))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(sizeof(sb_id), read(p[0], &sb_id, sizeof(sb_id)));
	close(p[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
		TH_LOG("the child ended with status 0x%x", status);
	}
	ASSERT_NE(0, sb_id);

	snprintf(path, sizeof(path), "%s/trace", self->inst);
	ASSERT_LT(0, read_text(path, self->buf, 1 << 20));
	n = parse_trace(self->buf, ev, MAX_EVENTS);
	ASSERT_LE(0, n);
	snprintf(want, sizeof(want), "create %d %u", pid, getuid());
	for (i = 0; i < n; i++) {
		if (ev[i].sandbox != sb_id || strncmp(ev[i].text, "create", 6))
			continue;
		found++;
		EXPECT_STREQ(want, ev[i].text) {
			TH_LOG("the creator is pid %d here, 1 in its namespace",
			       pid);
		}
	}
	EXPECT_EQ(1, found);
}

TEST_HARNESS_MAIN

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the suites that check what callbox.ko shows of its
 * sandboxes and calls: /proc/<pid>/fdinfo of a sandbox fd, the module-wide
 * counters in sysfs (/sys/class/misc/callbox/), and debugfs
 * (/sys/kernel/debug/callbox/). Readers return 0 or -errno, or -EPROTO if
 * a file does not have the format it should: a test asserts on that.
 *
 * The scripted raw guest of script_guest.h lets one sandbox end its calls
 * in every way.
 */
#ifndef CALLBOX_INSPECT_UTIL_H
#define CALLBOX_INSPECT_UTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "callbox_util.h"
#include "script_guest.h"

#define CALLBOX_SYSFS	"/sys/class/misc/callbox"
#define CALLBOX_DEBUGFS	"/sys/kernel/debug/callbox"

/* ---- names, as the kernel prints them ---- */

static inline const char *state_name(uint32_t state)
{
	static const char *const names[] = {
		[CALLBOX_STATE_QUEUED] = "QUEUED",
		[CALLBOX_STATE_ENTERED] = "ENTERED",
		[CALLBOX_STATE_EXITED] = "EXITED",
		[CALLBOX_STATE_ABORTED] = "ABORTED",
		[CALLBOX_STATE_HOSTCALL] = "HOSTCALL",
	};

	if (state < sizeof(names) / sizeof(names[0]) && names[state])
		return names[state];
	return "NONE";
}

static inline const char *reason_name(uint32_t reason)
{
	return reason < NR_REASONS ? reason_names[reason] : "unknown";
}

/* The call flags as debugfs prints them: "guest_ran,poisoned", or "-". */
static inline const char *flags_name(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = {
		"guest_ran", "cancel_pending", "poisoned", "init",
	};
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (flags & (1u << i))
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
				      n ? "," : "", names[i]);
	}
	if (flags >> 4)
		n += snprintf(buf + n, n < len ? len - n : 0, "%s?0x%x",
			      n ? "," : "", flags >> 4);
	if (!n)
		snprintf(buf, len, "-");
	return buf;
}

/* ---- files ---- */

static inline bool path_exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* ---- sysfs: the module-wide counters ---- */

struct cb_counters {
	uint64_t sandboxes;
	uint64_t queued, entered, hostcall;
	uint64_t total, exited;
	uint64_t aborted[NR_REASONS];	/* [0] unused: no file "none" */
	uint64_t kicks, kicks_missed;
};

static inline int counters_read(struct cb_counters *c)
{
	static const struct {
		const char *name;
		size_t off;
	} files[] = {
		{ "sandboxes", offsetof(struct cb_counters, sandboxes) },
		{ "calls/queued", offsetof(struct cb_counters, queued) },
		{ "calls/entered", offsetof(struct cb_counters, entered) },
		{ "calls/hostcall", offsetof(struct cb_counters, hostcall) },
		{ "calls/total", offsetof(struct cb_counters, total) },
		{ "calls/exited", offsetof(struct cb_counters, exited) },
		{ "kicks/total", offsetof(struct cb_counters, kicks) },
		{ "kicks/missed", offsetof(struct cb_counters, kicks_missed) },
	};
	char path[128];
	size_t i;
	int ret;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), CALLBOX_SYSFS "/%s", files[i].name);
		ret = read_u64(path, (uint64_t *)((char *)c + files[i].off));
		if (ret)
			return ret;
	}
	for (i = 1; i < NR_REASONS; i++) {
		snprintf(path, sizeof(path), CALLBOX_SYSFS "/aborted/%s",
			 reason_names[i]);
		ret = read_u64(path, &c->aborted[i]);
		if (ret)
			return ret;
	}
	return 0;
}

#define counters_read_ok(c) ASSERT_OK("reading " CALLBOX_SYSFS, counters_read(c))

/*
 * Every counter of @now is that of @base plus the delta in @d: one EXPECT
 * per counter, so that a failure names it.
 */
#define expect_counters(base, now, d)					\
	do {								\
		const struct cb_counters *__b = (base), *__n = (now);	\
		const struct cb_counters *__d = (d);			\
		int __i;						\
		EXPECT_EQ(__b->sandboxes + __d->sandboxes, __n->sandboxes) \
			TH_LOG("sysfs sandboxes");			\
		EXPECT_EQ(__b->queued + __d->queued, __n->queued)	\
			TH_LOG("sysfs calls/queued");			\
		EXPECT_EQ(__b->entered + __d->entered, __n->entered)	\
			TH_LOG("sysfs calls/entered");			\
		EXPECT_EQ(__b->hostcall + __d->hostcall, __n->hostcall)	\
			TH_LOG("sysfs calls/hostcall");			\
		EXPECT_EQ(__b->total + __d->total, __n->total)		\
			TH_LOG("sysfs calls/total");			\
		EXPECT_EQ(__b->exited + __d->exited, __n->exited)	\
			TH_LOG("sysfs calls/exited");			\
		for (__i = 1; __i < NR_REASONS; __i++) {		\
			EXPECT_EQ(__b->aborted[__i] + __d->aborted[__i], \
				  __n->aborted[__i])			\
				TH_LOG("sysfs aborted/%s", reason_names[__i]); \
		}							\
		EXPECT_EQ(__b->kicks + __d->kicks, __n->kicks)		\
			TH_LOG("sysfs kicks/total");			\
		EXPECT_EQ(__b->kicks_missed + __d->kicks_missed,	\
			  __n->kicks_missed)				\
			TH_LOG("sysfs kicks/missed");			\
	} while (0)

/*
 * Every call ever published (since the module was loaded) has ended, or
 * is counted in the state it is in: at a moment when no call changes
 * state, total = exited + aborted (all reasons) + queued + entered +
 * hostcall.
 */
#define expect_conserved(c)						\
	do {								\
		const struct cb_counters *__c = (c);			\
		uint64_t __ended = __c->exited;				\
		int __i;						\
		for (__i = 1; __i < NR_REASONS; __i++)			\
			__ended += __c->aborted[__i];			\
		EXPECT_EQ(__c->total, __ended + __c->queued +		\
			  __c->entered + __c->hostcall)			\
			TH_LOG("calls/total is not the sum of the others"); \
	} while (0)

/* ---- /proc/<pid>/fdinfo/<fd> of a sandbox ---- */

#define fdinfo_read_ok(pid, fd, fi) \
	ASSERT_OK("reading the sandbox's fdinfo", fdinfo_read(pid, fd, fi))

/* The sandbox id of @fd, from its fdinfo (0 if that fails). */
static inline uint64_t sandbox_id_of(int fd)
{
	struct cb_fdinfo fi;

	return fdinfo_read(0, fd, &fi) ? 0 : fi.sandbox_id;
}

/* ---- debugfs ---- */

/* 0 once /sys/kernel/debug/callbox is there, mounting debugfs if needed. */
static inline int debugfs_ready(void)
{
	if (path_exists(CALLBOX_DEBUGFS))
		return 0;
	if (mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL) &&
	    errno != EBUSY)
		return -errno;
	return path_exists(CALLBOX_DEBUGFS) ? 0 : -ENOENT;
}

static inline void sandbox_dir(uint64_t sb_id, char *buf, size_t len)
{
	snprintf(buf, len, CALLBOX_DEBUGFS "/%" PRIu64, sb_id);
}

static inline bool sandbox_dir_exists(uint64_t sb_id)
{
	char path[96];

	sandbox_dir(sb_id, path, sizeof(path));
	return path_exists(path);
}

struct cb_objects {
	long sandboxes, calls;
};

/* debugfs "objects": exactly "sandboxes N\ncalls N\n". */
static inline int objects_read(struct cb_objects *o)
{
	char buf[128];
	int n = read_text(CALLBOX_DEBUGFS "/objects", buf, sizeof(buf)), end;

	if (n < 0)
		return n;
	end = -1;
	if (sscanf(buf, "sandboxes %ld\ncalls %ld\n%n", &o->sandboxes,
		   &o->calls, &end) != 2 || end != n)
		return -EPROTO;
	return 0;
}

#define objects_read_ok(o) ASSERT_OK("reading debugfs objects", objects_read(o))

/* A line of <id>/calls: "id STATE flags age_ns runner_tid deadline_left_ns|-". */
struct dbg_call {
	uint64_t id;
	char state[16];
	char flags[64];
	uint64_t age_ns;
	int runner_tid;
	int64_t deadline_left_ns;	/* -1 for "-" */
};

#define DBG_CALLS_HEADER "id state flags age_ns runner_tid deadline_left_ns"

/* The rows of sandbox @sb_id's calls file: how many, or -errno. */
static inline int dbg_calls_read(uint64_t sb_id, struct dbg_call *rows,
				 int max)
{
	char path[128], buf[16384], *line, *save, dl[32];
	int n, nr = -1, end;

	snprintf(path, sizeof(path), CALLBOX_DEBUGFS "/%" PRIu64 "/calls", sb_id);
	n = read_text(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (!n || buf[n - 1] != '\n')
		return -EPROTO;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct dbg_call *r;

		if (nr < 0) {
			if (strcmp(line, DBG_CALLS_HEADER))
				return -EPROTO;
			nr = 0;
			continue;
		}
		if (nr == max)
			return -E2BIG;
		r = &rows[nr++];
		end = -1;
		if (sscanf(line, "%" SCNu64 " %15s %63s %" SCNu64 " %d %31s%n",
			   &r->id, r->state, r->flags, &r->age_ns,
			   &r->runner_tid, dl, &end) != 6 ||
		    end != (int)strlen(line))
			return -EPROTO;
		if (!strcmp(dl, "-")) {
			r->deadline_left_ns = -1;
		} else {
			char *e;

			errno = 0;
			r->deadline_left_ns = strtoll(dl, &e, 10);
			if (errno || *e || r->deadline_left_ns < 0)
				return -EPROTO;
		}
	}
	return nr < 0 ? -EPROTO : nr;
}

/*
 * A line of <id>/recent: "id STATE reason flags yes|no nr_transitions"
 * then " STATE@ns" for each state kept, " ..." before the last if some
 * were dropped.
 */
#define DBG_MAX_TRANSITIONS	8	/* CALLBOX_NL_MAX_TRANSITIONS */
struct dbg_recent {
	uint64_t id;
	char state[16];
	char reason[24];
	char flags[64];
	char guest_ran[8];
	unsigned int nr_transitions;
	unsigned int n;			/* states listed */
	bool gap;			/* " ..." before the last */
	struct {
		char state[16];
		uint64_t ns;
	} tr[DBG_MAX_TRANSITIONS];
};

#define DBG_RECENT_HEADER \
	"id state reason flags guest_ran transitions (state@ns since queued)"

static inline int dbg_recent_read(uint64_t sb_id, struct dbg_recent *rows,
				  int max)
{
	char path[128], buf[16384], *line, *save, *tok, *tsave, *at, *e;
	int n, nr = -1, end;

	snprintf(path, sizeof(path), CALLBOX_DEBUGFS "/%" PRIu64 "/recent",
		 sb_id);
	n = read_text(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (!n || buf[n - 1] != '\n')
		return -EPROTO;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct dbg_recent *r;

		if (nr < 0) {
			if (strcmp(line, DBG_RECENT_HEADER))
				return -EPROTO;
			nr = 0;
			continue;
		}
		if (nr == max)
			return -E2BIG;
		r = &rows[nr++];
		memset(r, 0, sizeof(*r));
		end = -1;
		if (sscanf(line, "%" SCNu64 " %15s %23s %63s %7s %u%n", &r->id,
			   r->state, r->reason, r->flags, r->guest_ran,
			   &r->nr_transitions, &end) != 6 || end < 0)
			return -EPROTO;
		for (tok = strtok_r(line + end, " ", &tsave); tok;
		     tok = strtok_r(NULL, " ", &tsave)) {
			if (!strcmp(tok, "...")) {
				if (r->gap)
					return -EPROTO;
				r->gap = true;
				continue;
			}
			at = strchr(tok, '@');
			if (!at || r->n == DBG_MAX_TRANSITIONS ||
			    at - tok >= (long)sizeof(r->tr[0].state))
				return -EPROTO;
			memcpy(r->tr[r->n].state, tok, at - tok);
			errno = 0;
			r->tr[r->n].ns = strtoull(at + 1, &e, 10);
			if (errno || *e || at[1] < '0' || at[1] > '9')
				return -EPROTO;
			r->n++;
		}
	}
	return nr < 0 ? -EPROTO : nr;
}

/* A debugfs calls row says what GET said of the call. */
#define expect_row_is_call(row, c)					\
	do {								\
		char __f[96];						\
		EXPECT_EQ((c)->id, (row)->id);				\
		EXPECT_STREQ(state_name((c)->state), (row)->state);	\
		EXPECT_STREQ(flags_name((c)->flags, __f, sizeof(__f)),	\
			     (row)->flags);				\
	} while (0)

/* A debugfs recent row says what GET/WAIT said of the ended call. */
#define expect_recent_is_call(row, c)					\
	do {								\
		char __f[96];						\
		EXPECT_EQ((c)->id, (row)->id);				\
		EXPECT_STREQ(state_name((c)->state), (row)->state);	\
		EXPECT_STREQ(reason_name((c)->reason), (row)->reason);	\
		EXPECT_STREQ(flags_name((c)->flags, __f, sizeof(__f)),	\
			     (row)->flags);				\
		EXPECT_STREQ((c)->flags & CALLBOX_CALL_GUEST_RAN ?	\
			     "yes" : "no", (row)->guest_ran);		\
	} while (0)

/*
 * A recent row lists exactly the states @states (@nr of them, in order,
 * with the gap if the call had more than fit), at times that start at 0
 * and never go back, the last no later than @max_age_ns.
 */
#define expect_recent_states(row, states, nr, max_age_ns)		\
	do {								\
		unsigned int __i, __want = (nr);			\
		EXPECT_EQ(__want, (row)->nr_transitions);		\
		if (__want > DBG_MAX_TRANSITIONS)			\
			__want = DBG_MAX_TRANSITIONS;			\
		EXPECT_EQ(__want, (row)->n);				\
		EXPECT_EQ((nr) > DBG_MAX_TRANSITIONS, (row)->gap);	\
		for (__i = 0; __i < __want && __i < (row)->n; __i++) {	\
			unsigned int __s = __i == __want - 1 ?		\
				(nr) - 1 : __i;				\
			EXPECT_STREQ(state_name((states)[__s]),		\
				     (row)->tr[__i].state)		\
				TH_LOG("transition %u", __i);		\
			if (__i) {					\
				EXPECT_LE((row)->tr[__i - 1].ns,	\
					  (row)->tr[__i].ns);		\
			}						\
		}							\
		if ((row)->n) {						\
			EXPECT_EQ(0, (row)->tr[0].ns);			\
			EXPECT_GE((uint64_t)(max_age_ns),		\
				  (row)->tr[(row)->n - 1].ns);		\
		}							\
	} while (0)

/* ---- threads ---- */

static inline pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

/*
 * RUN of @id (CALL_SYNC if @sync) on a thread of its own, which says its
 * tid: the debugfs runner. The thread exits when its ioctl returns, so a
 * call it leaves in HOSTCALL loses its owner.
 */
struct tid_runner {
	pthread_t thread;
	int fd;
	uint64_t id;
	uint64_t deadline_ns;
	bool sync;
	atomic_int tid;
	int ret;
	struct callbox_call_info c;
	atomic_bool done;
	bool started;
};

static inline void *tid_runner_fn(void *p)
{
	struct tid_runner *r = p;

	atomic_store(&r->tid, gettid_());
	if (r->sync)
		r->ret = _call_sync(r->fd, r->deadline_ns, &r->c);
	else
		r->ret = _call_run(r->fd, r->id, 0, &r->c);
	atomic_store(&r->done, true);
	return NULL;
}

#define tid_runner_start(r)						\
	({								\
		ASSERT_EQ(0, pthread_create(&(r)->thread, NULL,		\
					    tid_runner_fn, (r)));	\
		(r)->started = true;					\
		ASSERT_TRUE(WAIT_FOR(atomic_load(&(r)->tid) != 0));	\
	})

/* Join @r within @ms: true if it ended (or never started). */
static inline bool tid_runner_join(struct tid_runner *r, unsigned int ms)
{
	if (!r->started)
		return true;
	if (join_within(r->thread, ms))
		return false;
	r->started = false;
	return true;
}

#endif /* CALLBOX_INSPECT_UTIL_H */

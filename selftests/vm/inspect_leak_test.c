// SPDX-License-Identifier: GPL-2.0
/*
 * No leak across many sandboxes: CYCLES times, a sandbox is created on the
 * same vCPU (free again once the previous one is closed), given a call or
 * none, and closed. Afterwards debugfs "objects" (sandboxes and calls
 * allocated and not freed) must be back exactly where it was, and so must
 * the sysfs counts of live things, with no debugfs directory left; and the
 * slab caches the sandbox (3.3 KB: kmalloc-cg-4k) and its calls (336 B:
 * kmalloc-cg-512) come from must not have grown by more than slab noise.
 * Once quietly, and once inspected as an operator would: "callbox monitor"
 * following every event and "callbox ps" polling, all along.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "inspect_util.h"

/*
 * Under TCG a cycle takes a few ms at most (measured: see the log line);
 * CALLBOX_LEAK_CYCLES overrides the count.
 */
#define CYCLES		10000
/*
 * SLUB's active_objs counts whole per-CPU slabs as in use, so it moves by
 * a few slabs (8 objects of 4 KB, 8 of 512 B) without any leak; a leak of
 * one object a cycle, or one in a hundred, is far above.
 */
#define SLAB_TOLERANCE	64

/*
 * Shrink slab cache @name first: that frees its empty slabs and, under
 * KASAN, the freed objects its quarantine still holds, which otherwise
 * count as active for a long while (the debug kernel's kmalloc-cg-512
 * "grew" by 452 objects over 10,000 cycles that leaked none). Without
 * SLUB's sysfs there is nothing to shrink, and nothing is lost.
 */
static void slab_shrink(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) != 1)
		perror(path);
	close(fd);
}

/* active_objs of slab cache @name in /proc/slabinfo; -1 if not there. */
static long slab_active(const char *name)
{
	char line[512], cache[64];
	long active = -1, v;
	FILE *f;

	slab_shrink(name);
	f = fopen("/proc/slabinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", cache, &v) == 2 &&
		    !strcmp(cache, name)) {
			active = v;
			break;
		}
	}
	fclose(f);
	return active;
}

/* The sandbox directories in debugfs (numbered entries). */
static int debugfs_sandbox_dirs(void)
{
	DIR *d = opendir(CALLBOX_DEBUGFS);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
	closedir(d);
	return n;
}

static const char *const caches[] = {
	"kmalloc-cg-4k", "kmalloc-4k", "kmalloc-cg-512", "kmalloc-512",
};
#define NR_CACHES (sizeof(caches) / sizeof(caches[0]))

FIXTURE(leak) {
	struct box b;
};

FIXTURE_SETUP(leak)
{
	box_init(&self->b);
	if (!path_exists("/dev/callbox"))
		SKIP(return, "/dev/callbox is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	/* Unbound: each cycle binds the vCPU to a new sandbox. */
	box_open(_metadata, &self->b, guest_script, sizeof(guest_script),
		 false);
}

FIXTURE_TEARDOWN(leak)
{
	box_close(&self->b);
}

/* The CLI, as check.sh puts it in the VM; $CALLBOX overrides it. */
static const char *cli_path(void)
{
	const char *cli = getenv("CALLBOX");

	return cli ? cli : "/bin/callbox";
}

/*
 * The children die with the test: if the harness kills a test that hangs,
 * a poller left behind would hold the runner's stdout open, and the whole
 * run would wait for it until the VM's timeout.
 */
static void die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(124);
}

/* "callbox monitor" writing to @out, in a child of its own. */
static pid_t start_monitor(const char *out)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	die_with_parent(parent);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		_exit(125);
	execl(cli_path(), "callbox", "monitor", (char *)NULL);
	_exit(126);
}

/*
 * "callbox ps" again and again until SIGTERM; exits with the number of
 * runs that failed (capped), 0 if none.
 */
static volatile sig_atomic_t poller_stop;

static void poller_sigterm(int sig)
{
	poller_stop = 1;
}

static pid_t start_poller(void)
{
	char cmd[256];
	int failed = 0;
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid)
		return pid;
	die_with_parent(parent);
	signal(SIGTERM, poller_sigterm);
	snprintf(cmd, sizeof(cmd), "%s ps >/dev/null", cli_path());
	while (!poller_stop) {
		if (system(cmd) && !poller_stop)
			failed++;
	}
	_exit(failed > 100 ? 100 : failed);
}

/* Stop child @pid with @sig; return its exit status, -1 if it did not exit. */
static int stop_child(pid_t pid, int sig)
{
	int status;

	kill(pid, sig);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Lines of @path that contain @what. */
static long count_lines(const char *path, const char *what)
{
	char line[512];
	long n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, what);
	fclose(f);
	return n;
}

static void leak_cycles(struct __test_metadata *_metadata,
			FIXTURE_DATA(leak) *self, bool inspected)
{
	const char *monitor_out = "/tmp/inspect_leak_monitor.out";
	pid_t monitor = -1, poller = -1;
	struct box *b = &self->b;
	struct cb_counters base, now, d;
	struct cb_objects obj_base, obj;
	struct callbox_call_info c;
	long slab_base[NR_CACHES], slab_now;
	uint64_t t0, elapsed, id, last_id = 0, sb_id;
	const char *env = getenv("CALLBOX_LEAK_CYCLES");
	unsigned int i, cycles = env ? strtoul(env, NULL, 0) : CYCLES;
	unsigned int calls = 0, exited = 0, closed = 0;
	int dirs_base, fd;

	return_if_setup_skipped();
	counters_read_ok(&base);
	objects_read_ok(&obj_base);
	dirs_base = debugfs_sandbox_dirs();
	ASSERT_LE(0, dirs_base);
	for (i = 0; i < NR_CACHES; i++)
		slab_base[i] = slab_active(caches[i]);
	if (slab_base[0] < 0 && slab_base[1] < 0)
		TH_LOG("no /proc/slabinfo: slab use is not checked");
	if (inspected) {
		ASSERT_EQ(0, access(cli_path(), X_OK)) {
			TH_LOG("%s: %s", cli_path(), strerror(errno));
		}
		monitor = start_monitor(monitor_out);
		ASSERT_LT(0, monitor);
		poller = start_poller();
		ASSERT_LT(0, poller);
		/* The monitor has joined the group before the first cycle. */
		usleep(500 * 1000);
	}

	t0 = now_ns();
	for (i = 0; i < cycles; i++) {
		fd = _sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				     b->guest.vm.vcpu_fd);
		ASSERT_LE(0, fd) {
			TH_LOG("cycle %u: CALLBOX_SANDBOX_CREATE: %s", i,
			       strerror(-fd));
		}
		/* Now and then: the id, and that its directory is there. */
		if (i % 1000 == 0) {
			sb_id = sandbox_id_of(fd);
			ASSERT_LT(last_id, sb_id);
			ASSERT_TRUE(sandbox_dir_exists(sb_id));
			last_id = sb_id;
		}
		switch (i % 4) {
		case 0:	/* no call */
			break;
		case 1:	/* a call left queued: closing aborts it */
			ASSERT_EQ(0, _call_submit(fd, 0, &id));
			calls++;
			closed++;
			break;
		case 2:	/* a call that exits, consumed */
			script_set(b->guest.mem, SCRIPT_DONE);
			ASSERT_EQ(0, _call_sync(fd, 0, &c));
			ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
			calls++;
			exited++;
			break;
		case 3:	/* a call left in HOSTCALL: closing aborts it */
			script_set(b->guest.mem, SCRIPT_HOSTCALL);
			ASSERT_EQ(0, _call_sync(fd, 0, &c));
			ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
			calls++;
			closed++;
			/* The next call goes on from the host call. */
			break;
		}
		close(fd);
	}
	elapsed = now_ns() - t0;
	TH_LOG("%u cycles in %llu ms (%llu us a cycle)", cycles,
	       (unsigned long long)(elapsed / MS),
	       (unsigned long long)(elapsed / 1000 / (cycles ? cycles : 1)));
	if (inspected) {
		/* The last events arrive within a jiffy or so. */
		usleep(200 * 1000);
		EXPECT_EQ(0, stop_child(poller, SIGTERM));
		EXPECT_EQ(0, stop_child(monitor, SIGINT));
		/* Every sandbox was seen created, or counted as lost. */
		TH_LOG("monitor: %ld sandboxes created, %ld LOST lines",
		       count_lines(monitor_out, " created"),
		       count_lines(monitor_out, "lost"));
		EXPECT_LT(0, count_lines(monitor_out, " created"));
		if (!count_lines(monitor_out, "lost"))
			EXPECT_EQ(cycles, count_lines(monitor_out, " created"));
	}

	/* Exactly back, as counted by the module. */
	objects_read_ok(&obj);
	EXPECT_EQ(obj_base.sandboxes, obj.sandboxes);
	EXPECT_EQ(obj_base.calls, obj.calls);
	EXPECT_EQ(dirs_base, debugfs_sandbox_dirs());
	counters_read_ok(&now);
	memset(&d, 0, sizeof(d));
	d.total = calls;
	d.exited = exited;
	d.aborted[CALLBOX_ABORT_SANDBOX_CLOSED] = closed;
	expect_counters(&base, &now, &d);
	expect_conserved(&now);

	/* And as the slab allocator sees it. */
	for (i = 0; i < NR_CACHES; i++) {
		if (slab_base[i] < 0)
			continue;
		slab_now = slab_active(caches[i]);
		TH_LOG("%s: %ld active objects before, %ld after", caches[i],
		       slab_base[i], slab_now);
		EXPECT_GE(slab_base[i] + SLAB_TOLERANCE, slab_now) {
			TH_LOG("%s grew by %ld objects in %u cycles",
			       caches[i], slab_now - slab_base[i], cycles);
		}
	}
}

TEST_F_TIMEOUT(leak, create_destroy_cycles, 300)
{
	leak_cycles(_metadata, self, false);
}

TEST_F_TIMEOUT(leak, create_destroy_cycles_inspected, 600)
{
	leak_cycles(_metadata, self, true);
}

/*
 * The measure can fail: HELD sandboxes held open at once (one vCPU each)
 * show in "objects", in debugfs, and in kmalloc-cg-4k; closed, they go.
 */
#define HELD	128

TEST_F_TIMEOUT(leak, measure_sees_sandboxes, 120)
{
	struct box *b = &self->b;
	struct cb_objects obj_base, obj;
	int vm_fd, vcpu[HELD], fds[HELD], dirs_base, i;
	long slab_base = slab_active("kmalloc-cg-4k"), slab_now;

	return_if_setup_skipped();
	objects_read_ok(&obj_base);
	dirs_base = debugfs_sandbox_dirs();
	vm_fd = ioctl(b->guest.vm.kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm_fd);
	for (i = 0; i < HELD; i++) {
		vcpu[i] = ioctl(vm_fd, KVM_CREATE_VCPU, i);
		ASSERT_LE(0, vcpu[i]) {
			TH_LOG("vCPU %d: %s", i, strerror(errno));
		}
		fds[i] = sandbox_create(b->dev_fd, vm_fd, vcpu[i]);
	}
	objects_read_ok(&obj);
	EXPECT_EQ(obj_base.sandboxes + HELD, obj.sandboxes);
	EXPECT_EQ(obj_base.calls, obj.calls);
	EXPECT_EQ(dirs_base + HELD, debugfs_sandbox_dirs());
	if (slab_base >= 0) {
		slab_now = slab_active("kmalloc-cg-4k");
		TH_LOG("kmalloc-cg-4k: %ld active objects, %ld with %d sandboxes",
		       slab_base, slab_now, HELD);
		EXPECT_LE(slab_base + HELD - SLAB_TOLERANCE, slab_now);
	}
	for (i = 0; i < HELD; i++) {
		close(fds[i]);
		close(vcpu[i]);
	}
	close(vm_fd);
	objects_read_ok(&obj);
	EXPECT_EQ(obj_base.sandboxes, obj.sandboxes);
	EXPECT_EQ(dirs_base, debugfs_sandbox_dirs());
}

/*
 * ==== Readers race with sandboxes coming and going ====
 *
 * WRITERS threads, each with a guest of its own, create sandboxes and
 * make calls that end every way (DONE, host calls continued or left,
 * guest aborts, spins cut by a deadline, calls left queued), then close
 * them; READERS threads meanwhile read every sandbox's debugfs files, the
 * objects and every sysfs counter, for RACE_SECONDS. Every file read must
 * parse (a counter of calls in a state never goes below 0: it would print
 * "-1"), a vanished sandbox may only answer ENOENT (gone) or EIO (opened
 * before it went), and afterwards everything is back where it was.
 */
#define WRITERS		2
#define READERS		2
#define RACE_SECONDS	5

struct race {
	struct box *boxes;
	atomic_bool stop;
	atomic_int errors;
	atomic_long reads, cycles;
	char first_error[256];
	pthread_mutex_t lock;
};

static void race_error(struct race *r, const char *what, int err)
{
	pthread_mutex_lock(&r->lock);
	if (!atomic_load(&r->errors))
		snprintf(r->first_error, sizeof(r->first_error), "%s: %s",
			 what, strerror(-err));
	atomic_fetch_add(&r->errors, 1);
	pthread_mutex_unlock(&r->lock);
}

static void *race_reader(void *p)
{
	static __thread struct dbg_call rows[2 * CALLBOX_MAX_CALLS + 1];
	static __thread struct dbg_recent rec[17];
	struct race *r = p;
	struct cb_counters c;
	struct cb_objects o;
	struct dirent *e;
	uint64_t id;
	DIR *d;
	int ret;

	while (!atomic_load(&r->stop)) {
		ret = counters_read(&c);
		if (ret)
			race_error(r, "sysfs counters", ret);
		ret = objects_read(&o);
		if (ret || o.sandboxes < 0 || o.calls < 0)
			race_error(r, "debugfs objects", ret ?: -ERANGE);
		d = opendir(CALLBOX_DEBUGFS);
		if (!d) {
			race_error(r, "opendir", -errno);
			continue;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			id = strtoull(e->d_name, NULL, 10);
			ret = dbg_calls_read(id, rows, 2 * CALLBOX_MAX_CALLS + 1);
			if (ret < 0 && ret != -ENOENT && ret != -EIO)
				race_error(r, "debugfs calls", ret);
			ret = dbg_recent_read(id, rec, 17);
			if (ret < 0 && ret != -ENOENT && ret != -EIO)
				race_error(r, "debugfs recent", ret);
			if (ret > 16)
				race_error(r, "debugfs recent", -E2BIG);
			atomic_fetch_add(&r->reads, 1);
		}
		closedir(d);
	}
	return NULL;
}

struct race_writer {
	struct race *race;
	struct box *b;
	unsigned int seed;
};

static void *race_writer_fn(void *p)
{
	struct race_writer *w = p;
	struct race *r = w->race;
	struct box *b = w->b;
	struct callbox_call_info c;
	uint64_t id;
	int fd, i, ret;

	while (!atomic_load(&r->stop)) {
		fd = _sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				     b->guest.vm.vcpu_fd);
		if (fd < 0) {
			race_error(r, "CALLBOX_SANDBOX_CREATE", fd);
			break;
		}
		for (i = rand_r(&w->seed) % 4; i >= 0; i--) {
			script_set(b->guest.mem, rand_r(&w->seed) % 4);
			/* Every call ends: a guest left spinning, too. */
			ret = _call_sync(fd, now_ns() + 3 * MS, &c);
			if (ret == -ENOTRECOVERABLE)
				break;
			if (ret) {
				race_error(r, "CALLBOX_CALL_SYNC", ret);
				break;
			}
			if (c.state == CALLBOX_STATE_HOSTCALL) {
				if (rand_r(&w->seed) % 2)
					break;	/* left in HOSTCALL */
				_call_run(fd, c.id, 0, &c);
			}
		}
		if (rand_r(&w->seed) % 2)
			_call_submit(fd, 0, &id);	/* left queued */
		close(fd);
		atomic_fetch_add(&r->cycles, 1);
	}
	return NULL;
}

FIXTURE(race) {
	struct box b[WRITERS];
};

FIXTURE_SETUP(race)
{
	int i;

	for (i = 0; i < WRITERS; i++)
		box_init(&self->b[i]);
	if (!path_exists("/dev/callbox"))
		SKIP(return, "/dev/callbox is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	for (i = 0; i < WRITERS; i++)
		box_open(_metadata, &self->b[i], guest_script,
			 sizeof(guest_script), false);
}

FIXTURE_TEARDOWN(race)
{
	int i;

	for (i = 0; i < WRITERS; i++)
		box_close(&self->b[i]);
}

TEST_F_TIMEOUT(race, readers_race_closes, 120)
{
	struct race r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct race_writer w[WRITERS];
	pthread_t readers[READERS], writers[WRITERS];
	struct cb_counters base, now;
	struct cb_objects obj_base, obj;
	int dirs_base, i;

	return_if_setup_skipped();
	counters_read_ok(&base);
	objects_read_ok(&obj_base);
	dirs_base = debugfs_sandbox_dirs();

	for (i = 0; i < READERS; i++)
		ASSERT_EQ(0, pthread_create(&readers[i], NULL, race_reader, &r));
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct race_writer) {
			.race = &r, .b = &self->b[i], .seed = 1 + i,
		};
		ASSERT_EQ(0, pthread_create(&writers[i], NULL,
					    race_writer_fn, &w[i]));
	}
	sleep(RACE_SECONDS);
	atomic_store(&r.stop, true);
	for (i = 0; i < WRITERS; i++)
		ASSERT_EQ(0, join_within(writers[i], 30000));
	for (i = 0; i < READERS; i++)
		ASSERT_EQ(0, join_within(readers[i], 30000));
	TH_LOG("%ld sandboxes, %ld reads of a sandbox's files",
	       atomic_load(&r.cycles), atomic_load(&r.reads));
	EXPECT_EQ(0, atomic_load(&r.errors)) {
		TH_LOG("%d errors, the first: %s", atomic_load(&r.errors),
		       r.first_error);
	}
	EXPECT_LT(0, atomic_load(&r.cycles));

	objects_read_ok(&obj);
	EXPECT_EQ(obj_base.sandboxes, obj.sandboxes);
	EXPECT_EQ(obj_base.calls, obj.calls);
	EXPECT_EQ(dirs_base, debugfs_sandbox_dirs());
	counters_read_ok(&now);
	EXPECT_EQ(base.sandboxes, now.sandboxes);
	EXPECT_EQ(base.queued, now.queued);
	EXPECT_EQ(base.entered, now.entered);
	EXPECT_EQ(base.hostcall, now.hostcall);
	expect_conserved(&now);
}

TEST_HARNESS_MAIN

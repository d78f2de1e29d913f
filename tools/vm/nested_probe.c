// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Does the emulator run nested KVM guests reliably? A plain KVM program,
 * with no callbox in it, for the test VM: one worker per CPU runs a
 * real-mode guest whose loop exits to userspace on every `out`, moving
 * itself to another CPU every MIGRATE_EVERY runs; the parent checks that
 * every worker's count of completed KVM_RUNs keeps growing. A worker that
 * completes none for STALL_SECONDS is reported, with its kernel stack and
 * what KVM did for it meanwhile (tracefs), then killed.
 *
 * Usage: nested-probe [SECONDS]   (default 600)
 * Exit status: 0 no stall, 1 a worker stalled, 2 setup failed.
 *
 * Run by tools/vm/nested-probe.sh. On QEMU 10.0.2's multi-threaded TCG it
 * finds a stall within minutes (see the README), which is why the VM
 * suites run single-threaded TCG.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>

#define MAX_WORKERS	64
#define MIGRATE_EVERY	50
#define STALL_SECONDS	20
#define GUEST_MEM	0x10000
#define GUEST_CODE	0x1000
#define TRACING		"/sys/kernel/tracing"

static const unsigned char guest_code[] = {
	0x66, 0x31, 0xc0,	/* xor eax, eax */
	0xba, 0x00, 0xcb,	/* mov dx, 0xcb00 */
	0x66, 0x40,		/* inc eax */
	0x66, 0xef,		/* out dx, eax */
	0xeb, 0xf7,		/* jmp to mov dx */
};

static long now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Completed KVM_RUNs of each worker, in memory the parent shares. */
static volatile unsigned long *progress;

static void die(const char *what)
{
	fprintf(stderr, "nested-probe: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* KVM's ioctls stop for any signal, SA_RESTART or not. */
static int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret < 0 && errno == EINTR);
	return ret;
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int guest_create(int kvm, struct kvm_run **run, int run_size)
{
	struct kvm_regs regs = { .rip = GUEST_CODE, .rflags = 2 };
	struct kvm_userspace_memory_region region = {
		.memory_size = GUEST_MEM,
	};
	struct kvm_sregs sregs;
	int vm, vcpu;
	void *mem;

	vm = kvm_ioctl(kvm, KVM_CREATE_VM, NULL);
	if (vm < 0)
		die("KVM_CREATE_VM");
	mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	memcpy((char *)mem + GUEST_CODE, guest_code, sizeof(guest_code));
	region.userspace_addr = (unsigned long)mem;
	if (kvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION");
	vcpu = kvm_ioctl(vm, KVM_CREATE_VCPU, NULL);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	*run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    vcpu, 0);
	if (*run == MAP_FAILED)
		die("mmap kvm_run");
	if (kvm_ioctl(vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (kvm_ioctl(vcpu, KVM_SET_SREGS, &sregs) ||
	    kvm_ioctl(vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_SREGS/KVM_SET_REGS");
	return vcpu;
}

static void on_signal(int sig)
{
	(void)sig;
}

static void __attribute__((noreturn)) worker(int n, int nr_cpus)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct kvm_run *run;
	unsigned long i;
	int kvm, size, vcpu;

	sigaction(SIGUSR1, &sa, NULL);
	/* Below the parent, so that a busy VM still lets it watch. */
	if (nice(5) < 0)
		die("nice");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	vcpu = guest_create(kvm, &run, size);
	for (i = 0;; i++) {
		if (i % MIGRATE_EVERY == 0)
			pin_to((i / MIGRATE_EVERY + n) % nr_cpus);
		if (ioctl(vcpu, KVM_RUN, 0)) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "nested-probe: worker %d: exit reason %u, not KVM_EXIT_IO\n",
				n, run->exit_reason);
			exit(2);
		}
		progress[n]++;
	}
}

/*
 * Forks and execs, so that other tasks come and go on every CPU, and
 * signals the workers now and then, as a host's signals would.
 */
static void __attribute__((noreturn)) churner(const pid_t *workers, int n)
{
	unsigned long i;
	pid_t pid;
	int w;

	if (nice(5) < 0)
		die("nice");
	for (i = 0;; i++) {
		pid = fork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
		if (i % 16 == 0)
			for (w = 0; w < n; w++)
				kill(workers[w], SIGUSR1);
	}
}

static void show_file(const char *fmt, pid_t pid)
{
	char path[64], buf[4096];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), fmt, pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return;
	buf[len] = 0;
	printf("%s:\n%s%s", path, buf, buf[len - 1] == '\n' ? "" : "\n");
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		fprintf(stderr, "nested-probe: %s: %s\n", path, strerror(errno));
	close(fd);
}

/* KVM's entries and exits for @pid, for a second, from tracefs. */
static void trace_kvm(pid_t pid)
{
	static const char *const events[] = {
		"kvm_entry", "kvm_exit", "kvm_page_fault", "kvm_userspace_exit",
	};
	char path[128], buf[8192];
	size_t i;
	ssize_t len;
	int fd;

	if (access(TRACING "/trace", F_OK)) {
		mkdir(TRACING, 0755);
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	}
	write_file(TRACING "/trace", "");
	snprintf(path, sizeof(path), "%d", pid);
	write_file(TRACING "/set_event_pid", path);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), TRACING "/events/kvm/%s/enable",
			 events[i]);
		write_file(path, "1");
	}
	sleep(1);
	write_file(TRACING "/tracing_on", "0");
	fd = open(TRACING "/trace", O_RDONLY);
	if (fd < 0) {
		printf("no tracefs: KVM's events not shown\n");
		return;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len > 0) {
		buf[len] = 0;
		printf("KVM's events for pid %d in one second (the first %zd bytes):\n%s\n",
		       pid, len, buf);
	}
}

/* A worker that died of its own (a setup error) is not a stall. */
static bool worker_exited(const pid_t *workers, int n)
{
	int status, w;

	for (w = 0; w < n; w++) {
		if (waitpid(workers[w], &status, WNOHANG) != workers[w])
			continue;
		fprintf(stderr, "nested-probe: worker %d ended by itself (status %#x)\n",
			w, status);
		return true;
	}
	return false;
}

static void report_stall(int w, pid_t pid, long t)
{
	printf("STALL: worker %d (pid %d) completed no KVM_RUN in %d s, after %lu, at %ld s\n",
	       w, pid, STALL_SECONDS, progress[w], t);
	show_file("/proc/%d/stat", pid);
	show_file("/proc/%d/syscall", pid);
	show_file("/proc/%d/stack", pid);
	trace_kvm(pid);
	kill(pid, SIGKILL);
	sleep(10);
	if (waitpid(pid, NULL, WNOHANG) == pid)
		printf("STALL: SIGKILL ended the worker\n");
	else
		printf("STALL: the worker outlived SIGKILL by 10 s\n");
}

int main(int argc, char **argv)
{
	unsigned long last[MAX_WORKERS] = { 0 }, total = 0;
	long since[MAX_WORKERS], start, now, t, report;
	pid_t workers[MAX_WORKERS], churn;
	int seconds = 600, ret = 0, nr, w;
	char *end;

	if (argc > 2 || (argc == 2 && !strcmp(argv[1], "--help"))) {
		fprintf(stderr, "usage: nested-probe [SECONDS]\n");
		return argc == 2 ? 0 : 2;
	}
	if (argc == 2) {
		seconds = strtol(argv[1], &end, 10);
		if (*end || seconds <= 0) {
			fprintf(stderr, "nested-probe: SECONDS must be a positive number, not '%s'\n",
				argv[1]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nr = sysconf(_SC_NPROCESSORS_ONLN);
	if (nr < 1 || nr > MAX_WORKERS)
		nr = nr < 1 ? 1 : MAX_WORKERS;
	progress = mmap(NULL, sizeof(long) * MAX_WORKERS,
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (progress == MAP_FAILED)
		die("mmap");
	for (w = 0; w < nr; w++) {
		workers[w] = fork();
		if (workers[w] < 0)
			die("fork");
		if (workers[w] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			worker(w, nr);
		}
	}
	churn = fork();
	if (churn < 0)
		die("fork");
	if (churn == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		churner(workers, nr);
	}
	printf("nested-probe: %d workers, %d s\n", nr, seconds);
	start = now_seconds();
	for (w = 0; w < nr; w++)
		since[w] = start;
	for (t = 0, report = 60; t < seconds; t = now - start) {
		sleep(1);
		now = now_seconds();
		if (worker_exited(workers, nr)) {
			ret = 2;
			goto out;
		}
		for (total = 0, w = 0; w < nr; w++) {
			if (progress[w] != last[w]) {
				last[w] = progress[w];
				since[w] = now;
			} else if (now - since[w] >= STALL_SECONDS) {
				report_stall(w, workers[w], now - start);
				ret = 1;
				goto out;
			}
			total += last[w];
		}
		if (now - start >= report) {
			printf("%ld s: %lu KVM_RUNs\n", now - start, total);
			report += 60;
		}
	}
	printf("nested-probe: no stall in %d s, %lu KVM_RUNs\n", seconds, total);
out:
	kill(churn, SIGKILL);
	for (w = 0; w < nr; w++)
		kill(workers[w], SIGKILL);
	while (wait(NULL) > 0)
		;
	return ret;
}

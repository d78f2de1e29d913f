/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers that need neither the kselftest harness nor libcallbox.
 * callbox_util.h and inspect_util.h build on them; the parts of a program
 * of several files (ioctl_fuzz) include only this, because the harness
 * defines functions and variables that only one file of a program may
 * hold.
 */
#ifndef CALLBOX_BASE_UTIL_H
#define CALLBOX_BASE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/callbox.h>

/* A millisecond, in the nanoseconds of deadlines and now_ns(). */
#define MS	(1000 * 1000ull)

/* CLOCK_MONOTONIC in ns: the clock of every callbox deadline. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The uapi's abort reasons, as the files of sysfs aborted/ are named. */
#define NR_REASONS	(CALLBOX_ABORT_OWNER_EXITED + 1)
static const char *const reason_names[NR_REASONS] = {
	[CALLBOX_ABORT_NONE] = "none",
	[CALLBOX_ABORT_GUEST_ABORT] = "guest_abort",
	[CALLBOX_ABORT_SHUTDOWN] = "shutdown",
	[CALLBOX_ABORT_BAD_PORT] = "bad_port",
	[CALLBOX_ABORT_MMIO] = "mmio",
	[CALLBOX_ABORT_HALT] = "halt",
	[CALLBOX_ABORT_ENTRY_FAILED] = "entry_failed",
	[CALLBOX_ABORT_INTERNAL_ERROR] = "internal_error",
	[CALLBOX_ABORT_UNEXPECTED_EXIT] = "unexpected_exit",
	[CALLBOX_ABORT_KILLED] = "killed",
	[CALLBOX_ABORT_RUN_FAILED] = "run_failed",
	[CALLBOX_ABORT_CANCELLED] = "cancelled",
	[CALLBOX_ABORT_DEADLINE] = "deadline",
	[CALLBOX_ABORT_SANDBOX_CLOSED] = "sandbox_closed",
	[CALLBOX_ABORT_OWNER_EXITED] = "owner_exited",
};

/* Join @t if it ends within @ms; ETIMEDOUT if it is still blocked. */
static inline int join_within(pthread_t t, unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

/* ---- files ---- */

/* The whole of @path, NUL-terminated: its length, or -errno. */
static inline int read_text(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n + 1 < size) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (!r)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	return n + 1 >= size ? -EFBIG : (int)n;
}

/* A file that holds one decimal number and a newline. */
static inline int read_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;
	int n = read_text(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	if (n < 2 || buf[n - 1] != '\n' || buf[0] < '0' || buf[0] > '9')
		return -EPROTO;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end != buf + n - 1)
		return -EPROTO;
	return 0;
}

/* ---- /proc/<pid>/fdinfo/<fd> of a sandbox ---- */

struct cb_fdinfo {
	uint64_t sandbox_id;
	char state[16];
	uint64_t call_id;
	char call_state[16];
	uint64_t calls, exited, aborted, unconsumed;
};

/*
 * Parse the sandbox lines of an fdinfo file (pid 0: this process). Each
 * key must be there exactly once; other lines (pos, flags ...) are the
 * VFS's own.
 */
static inline int fdinfo_read(pid_t pid, int fd, struct cb_fdinfo *fi)
{
	enum { K_ID, K_STATE, K_CALL, K_CALL_STATE, K_CALLS, K_EXITED,
	       K_ABORTED, K_UNCONSUMED, NR_KEYS };
	static const char *const keys[NR_KEYS] = {
		"sandbox_id", "state", "call_id", "call_state", "calls",
		"exited", "aborted", "unconsumed",
	};
	uint64_t *nums[NR_KEYS] = {
		&fi->sandbox_id, NULL, &fi->call_id, NULL, &fi->calls,
		&fi->exited, &fi->aborted, &fi->unconsumed,
	};
	char path[64], buf[1024], *line, *save, *tab, *end;
	unsigned int seen = 0;
	int n, k;

	memset(fi, 0, sizeof(*fi));
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	n = read_text(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		tab = strchr(line, ':');
		if (!tab || tab[1] != '\t')
			return -EPROTO;
		*tab = 0;
		for (k = 0; k < NR_KEYS && strcmp(line, keys[k]); k++)
			;
		if (k == NR_KEYS)
			continue;
		if (seen & (1u << k))
			return -EPROTO;
		seen |= 1u << k;
		tab += 2;
		if (k == K_STATE || k == K_CALL_STATE) {
			char *dst = k == K_STATE ? fi->state : fi->call_state;

			if (strlen(tab) >= sizeof(fi->state))
				return -EPROTO;
			strcpy(dst, tab);
			continue;
		}
		if (*tab < '0' || *tab > '9')
			return -EPROTO;
		errno = 0;
		*nums[k] = strtoull(tab, &end, 10);
		if (errno || *end)
			return -EPROTO;
	}
	return seen == (1u << NR_KEYS) - 1 ? 0 : -EPROTO;
}

#endif /* CALLBOX_BASE_UTIL_H */

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the sandbox object, a micro-VM with one guest loaded whose
 * calls run through callbox.ko: its creation, its fd and its end. See
 * sandbox.h for the struct and its lock rules, and the files named there
 * for each part of its work.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"

/*
 * run_lock checks its owner: a host function that runs, resets or
 * restores calls of its own sandbox gets -EDEADLK (sandbox_run_lock())
 * instead of waiting for itself for ever.
 */
static int run_lock_init(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;
	int ret;

	ret = pthread_mutexattr_init(&attr);
	if (ret)
		return ret;
	ret = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	if (!ret)
		ret = pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return ret;
}

int sandbox_run_lock(struct callbox_sandbox *sb, const char *what)
{
	if (pthread_mutex_lock(&sb->run_lock) == EDEADLK)
		return sandbox_fail(sb, -EDEADLK,
				    "%s: from a host function of this sandbox, whose call holds it",
				    what);
	return 0;
}

int callbox_sandbox_new(const struct callbox_config *cfg,
			struct callbox_sandbox **sbp)
{
	struct callbox_sandbox *sb;
	pthread_condattr_t attr;
	int ret;

	sandbox_begin(NULL);
	*sbp = NULL;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return sandbox_fail(NULL, -ENOMEM,
				    "a new sandbox: out of memory");
	if (cfg)
		sb->cfg = *cfg;
	else
		callbox_config_init(&sb->cfg);
	callbox_vm_init(&sb->vm);
	sb->sandbox_fd = -1;

	/* Deadlines are CLOCK_MONOTONIC, like the kernel's. */
	ret = pthread_condattr_init(&attr);
	if (!ret) {
		ret = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!ret)
			ret = pthread_cond_init(&sb->submitted, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (ret)
		goto out_free;
	ret = pthread_mutex_init(&sb->lock, NULL);
	if (ret)
		goto out_destroy_cond;
	ret = run_lock_init(&sb->run_lock);
	if (ret)
		goto out_destroy_lock;
	*sbp = sb;
	return 0;

out_destroy_lock:
	pthread_mutex_destroy(&sb->lock);
out_destroy_cond:
	pthread_cond_destroy(&sb->submitted);
out_free:
	free(sb);
	return sandbox_fail(NULL, -ret, "a new sandbox: %s", strerror(ret));
}

int callbox_sandbox_fd(const struct callbox_sandbox *sb)
{
	return sb->sandbox_fd;
}

void callbox_sandbox_free(struct callbox_sandbox *sb)
{
	if (!sb)
		return;
	if (sb->sandbox_fd >= 0) {
		/* Threads still waiting on its calls wake with an answer. */
		callbox_sandbox_shutdown_fd(sb->sandbox_fd);
		close(sb->sandbox_fd);
	}
	callbox_vm_destroy(&sb->vm);
	if (sb->clone && sb->boot_image)
		munmap(sb->boot_image, sb->image_end);
	else
		free(sb->boot_image);
	sandbox_memory_free(&sb->memory);
	free(sb->exports);
	free(sb->host_fns);
	pthread_cond_destroy(&sb->submitted);
	pthread_mutex_destroy(&sb->run_lock);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}

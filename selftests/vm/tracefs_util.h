/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracefs for the tests that read what the kernel traced: where it is,
 * and writing its control files.
 */
#ifndef CALLBOX_TRACEFS_UTIL_H
#define CALLBOX_TRACEFS_UTIL_H

#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "inspect_util.h"

/* tracefs, mounted if need be: its root, or NULL. */
static inline const char *tracefs_root(void)
{
	if (path_exists("/sys/kernel/tracing/instances"))
		return "/sys/kernel/tracing";
	mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	if (path_exists("/sys/kernel/tracing/instances"))
		return "/sys/kernel/tracing";
	if (path_exists("/sys/kernel/debug/tracing/instances"))
		return "/sys/kernel/debug/tracing";
	return NULL;
}

/* Write @text to the control file @path: 0 or -errno. */
static inline int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		ret = -errno;
	close(fd);
	return ret;
}

#endif /* CALLBOX_TRACEFS_UTIL_H */

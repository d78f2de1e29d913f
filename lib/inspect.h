/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox's private view of the kernel's "callbox" generic netlink
 * family, shared by the inspection queries (inspect.c) and the event
 * monitor (monitor.c): a connected libnl socket, the calling thread's
 * last error, libnl's errors as errno values. These files are the only
 * ones that use libnl; in libcallbox.a they are a member of their own, so
 * a program that never inspects links no libnl.
 */
#ifndef CALLBOX_LIB_INSPECT_H
#define CALLBOX_LIB_INSPECT_H

#include <netlink/genl/genl.h>

#include <callbox/callbox.h>

/* The calling thread's last error: a function starts, then fails. */
void inspect_begin(void);
int inspect_fail(int ret, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int inspect_errno(int nlerr);
int inspect_connect(const char *what, struct nl_sock **sk, int *family);

#endif /* CALLBOX_LIB_INSPECT_H */

/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox internal: what vm.c and vcpu_state.c share to talk to KVM,
 * an ioctl that returns -errno and an error message that names it.
 */
#ifndef CALLBOX_KVM_IOCTL_H
#define CALLBOX_KVM_IOCTL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

/* ioctl(@fd, @req, @arg): its result, or -errno. */
static inline int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

/* Put "@what: <strerror>" in @err and return @ret (a -errno). */
static inline int kvm_fail(char *err, size_t errlen, int ret,
			   const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-ret));
	return ret;
}

#endif /* CALLBOX_KVM_IOCTL_H */

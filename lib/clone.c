// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: new sandboxes from a sandbox's snapshot, which share its
 * memory copy-on-write.
 *
 * The first clone of a snapshot writes the whole of guest memory as at the
 * snapshot into a memfd, the snapshot's *template*: the image as loaded,
 * with the snapshot's pages over it. Every clone maps the template
 * MAP_PRIVATE as its guest memory, so the kernel shares its pages among
 * all clones until one writes a page, which then becomes that clone's
 * own: N clones of one guest cost N times the pages they write, not N
 * times the memory. A clone shares the snapshot itself too (its pages and
 * vCPU state, which never change once built), and restores to it as its
 * parent does. It also maps the template read-only as its image: a
 * restore takes the pages outside the snapshot from there, which equal
 * the image's.
 *
 * A clone has no image as loaded of its own: it cannot be reset, nor
 * cloned; restore it instead, or reset and clone its parent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_ioctl.h"
#include "sandbox.h"
#include "snapshot.h"

#define PAGE		CALLBOX_VM_PAGE_SIZE

int sandbox_template_build(struct callbox_sandbox *sb,
			   struct sandbox_snapshot *snap, char *err,
			   size_t errlen)
{
	size_t i;
	int fd, ret;

	if (snap->template_fd >= 0)
		return 0;
	fd = memfd_create("callbox-template", MFD_CLOEXEC);
	if (fd < 0)
		return kvm_fail(err, errlen, -errno, "memfd_create");
	/* Zeroes but where written: the file is sparse. */
	if (ftruncate(fd, (off_t)sb->cfg.mem_size) ||
	    pwrite(fd, sb->boot_image, sb->image_end, 0) !=
	    (ssize_t)sb->image_end)
		goto fail;
	for (i = 0; i < snap->nr; i++)
		if (pwrite(fd, snap->data + i * PAGE, PAGE,
			   (off_t)(snap->index[i] * PAGE)) != PAGE)
			goto fail;
	snap->template_fd = fd;
	return 0;

fail:
	ret = errno ? -errno : -EIO;
	close(fd);
	return kvm_fail(err, errlen, ret, "writing the template");
}

/* Everything of @parent a clone shares or copies, but its VM. */
static int clone_copy(struct callbox_sandbox *child,
		      const struct callbox_sandbox *parent)
{
	size_t len;

	child->entry = parent->entry;
	child->image_end = parent->image_end;
	child->io_base = parent->io_base;
	child->log_fn = parent->log_fn;
	child->log_opaque = parent->log_opaque;
	len = parent->nr_exports * sizeof(*parent->exports);
	child->exports = malloc(len ? len : 1);
	len = parent->nr_host_fns * sizeof(*parent->host_fns);
	child->host_fns = malloc(len ? len : 1);
	if (!child->exports || !child->host_fns)
		return -ENOMEM;
	memcpy(child->exports, parent->exports,
	       parent->nr_exports * sizeof(*parent->exports));
	child->nr_exports = parent->nr_exports;
	memcpy(child->host_fns, parent->host_fns,
	       parent->nr_host_fns * sizeof(*parent->host_fns));
	child->nr_host_fns = parent->nr_host_fns;
	return 0;
}

/*
 * Does @snap restore every MSR this host's vCPUs save, and only those? A
 * restore puts back @snap's MSRs alone: one it lacked would carry a
 * request's value into the next.
 */
static int check_msrs(struct callbox_sandbox *sb,
		      const struct sandbox_snapshot *snap, char *err,
		      size_t errlen)
{
	struct callbox_vcpu_state fresh;
	const struct kvm_msrs *a = snap->vcpu.msrs, *b;
	__u32 i;
	int ret;

	ret = callbox_vcpu_state_save(sb->vm.vcpu_fd, &fresh, err, errlen);
	if (ret)
		return ret;
	b = fresh.msrs;
	for (i = 0; i < a->nmsrs && i < b->nmsrs; i++)
		if (a->entries[i].index != b->entries[i].index)
			break;
	if (i < a->nmsrs || i < b->nmsrs) {
		snprintf(err, errlen,
			 "its %u MSRs are not the %u this host saves (they differ from the %u-th on)",
			 a->nmsrs, b->nmsrs, i + 1);
		ret = -EINVAL;
	}
	callbox_vcpu_state_free(&fresh);
	return ret;
}

int sandbox_boot_snapshot(struct callbox_sandbox *sb,
			  struct sandbox_snapshot *snap, bool foreign,
			  char *err, size_t errlen)
{
	struct sandbox_memory *m = &sb->memory;
	int dev_fd, ret;

	ret = callbox_vm_create(&sb->vm, sb->cfg.mem_size, snap->template_fd,
				err, errlen);
	if (!ret && foreign)
		ret = check_msrs(sb, snap, err, errlen);
	if (ret)
		return ret;
	m->written = calloc(callbox_vm_dirty_words(sb->vm.mem_size),
			    sizeof(uint64_t));
	if (!m->written)
		return kvm_fail(err, errlen, -ENOMEM, "out of memory");
	sandbox_snapshot_get(snap);
	m->snap = snap;
	m->at_snapshot = true;

	ret = callbox_vcpu_state_load(sb->vm.vcpu_fd, sb->vm.run, false,
				      &snap->vcpu, false, err, errlen);
	if (ret)
		return ret;
	dev_fd = callbox_open();
	if (dev_fd < 0)
		return kvm_fail(err, errlen, dev_fd,
				"open /dev/callbox (is callbox.ko loaded?)");
	ret = callbox_sandbox_create_fd(dev_fd, sb->vm.vm_fd, sb->vm.vcpu_fd);
	close(dev_fd);
	if (ret < 0)
		return kvm_fail(err, errlen, ret, "CALLBOX_SANDBOX_CREATE");
	sb->sandbox_fd = ret;
	sb->ready = true;
	return 0;
}

/* Build @child's VM and sandbox from @snap, whose template exists. */
static int clone_boot(struct callbox_sandbox *child,
		      struct sandbox_snapshot *snap, char *err, size_t errlen)
{
	int ret;

	ret = sandbox_boot_snapshot(child, snap, false, err, errlen);
	if (ret)
		return ret;
	child->boot_image = mmap(NULL, child->image_end, PROT_READ,
				 MAP_SHARED, snap->template_fd, 0);
	if (child->boot_image == MAP_FAILED) {
		child->boot_image = NULL;
		return kvm_fail(err, errlen, -errno, "mmap the template");
	}
	child->clone = true;
	return 0;
}

int callbox_sandbox_clone(struct callbox_sandbox *parent,
			  struct callbox_sandbox **childp)
{
	struct callbox_sandbox *child = NULL;
	struct sandbox_snapshot *snap;
	char err[256];
	int ret;

	*childp = NULL;
	sandbox_begin(parent);
	if (parent->sandbox_fd < 0)
		return sandbox_fail(parent, -EBADF, "clone: no guest loaded");
	if (parent->clone)
		return sandbox_fail(parent, -EOPNOTSUPP,
				    "clone: a clone cannot be cloned: clone the sandbox it was cloned from");

	/* The snapshot, and its template, as no restore or snapshot changes. */
	ret = sandbox_run_lock(parent, "clone");
	if (ret)
		return ret;
	snap = parent->memory.snap;
	ret = sandbox_template_build(parent, snap, err, sizeof(err));
	if (!ret)
		sandbox_snapshot_get(snap);
	pthread_mutex_unlock(&parent->run_lock);
	if (ret)
		return sandbox_fail(parent, ret, "clone: %s", err);

	ret = callbox_sandbox_new(&parent->cfg, &child);
	if (ret) {
		sandbox_snapshot_put(snap);
		return sandbox_fail(parent, ret, "clone: %s", strerror(-ret));
	}
	ret = clone_copy(child, parent);
	if (ret)
		snprintf(err, sizeof(err), "out of memory");
	else
		ret = clone_boot(child, snap, err, sizeof(err));
	sandbox_snapshot_put(snap);
	if (ret) {
		sandbox_fail(parent, ret, "clone: %s", err);
		callbox_sandbox_free(child);
		return ret;
	}
	*childp = child;
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: booting a guest. The load creates the VM, lays out guest
 * memory, loads the ELF, binds the vCPU to a kernel sandbox and runs the
 * guest's init; a reset puts memory and registers back as they were at
 * the load and runs the init again.
 *
 * The init always runs as the init call of CALLBOX_SANDBOX_RESET, so the
 * kernel runs no other call until it has exited, and poisons the sandbox
 * if it does not: whatever happens to it (a cancel, its deadline), no call
 * can enter a guest that is still at its boot entry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf.h"
#include "layout.h"
#include "sandbox.h"

/*
 * End call @id, which this thread started and cannot finish (a failure of
 * its own): cancel it, and continue it once if it waits in a host call
 * (it then ends at once). Best effort: the failure that led here is what
 * the caller reports.
 */
void sandbox_end_call(struct callbox_sandbox *sb, uint64_t id)
{
	struct callbox_call_info c = { 0 };

	callbox_call_cancel_fd(sb->sandbox_fd, id);
	if (!callbox_call_get_fd(sb->sandbox_fd, id, &c) &&
	    c.state == CALLBOX_STATE_HOSTCALL)
		callbox_call_run_fd(sb->sandbox_fd, id, 0, &c);
}

/* The same, and collect it: nobody else waits for it. */
void sandbox_abandon_call(struct callbox_sandbox *sb, uint64_t id)
{
	struct callbox_call_info c;

	sandbox_end_call(sb, id);
	callbox_call_wait_fd(sb->sandbox_fd, id, 0, &c);
}

/* Run the guest's init to its end, with run_lock held (or before use). */
static int boot_init_call(struct callbox_sandbox *sb)
{
	struct sandbox_abort abort = { 0 };
	struct callbox_call_info c = { 0 };
	uint64_t deadline, id = 0;
	int ret;

	sb->ready = false;
	/* A guest whose init never ends must not hang the load, or a reset. */
	deadline = callbox_deadline_after(sb->cfg.init_timeout_ns);
	ret = callbox_sandbox_reset_fd(sb->sandbox_fd, deadline, &id);
	if (ret)
		return sandbox_fail(sb, ret, "CALLBOX_SANDBOX_RESET: %s",
				    strerror(-ret));
	ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, &c);
	if (ret)
		ret = sandbox_run_error(sb, "guest init", ret);
	if (!ret)
		ret = sandbox_check_outcome(sb, "guest init", id, &c);
	/* The guest's init may log, or call host functions. */
	if (!ret)
		ret = sandbox_serve_host_calls(sb, &c);
	if (ret) {
		sandbox_abandon_call(sb, id);
		return ret;
	}
	ret = callbox_call_wait_fd(sb->sandbox_fd, id, 0, &c);
	if (ret)
		return sandbox_run_error(sb, "guest init", ret);
	ret = sandbox_check_outcome(sb, "guest init", id, &c);
	if (ret)
		return ret;

	sandbox_set_call(sb, &c);
	sandbox_note_abort(sb, &c, &abort);
	if (c.state != CALLBOX_STATE_EXITED)
		return sandbox_outcome(sb, "guest init", &c, -1, &abort, NULL);
	if (c.status == CALLBOX_STATUS_BAD_ABI)
		return sandbox_fail(sb, -EPROTO,
				    "guest init: the guest was built for another callbox ABI (host speaks version %u)",
				    CALLBOX_ABI_VERSION);
	if (c.status != CALLBOX_STATUS_OK)
		return sandbox_fail(sb, -EPROTO,
				    "guest init failed with status %" PRIu32,
				    c.status);
	sb->ready = true;
	return 0;
}

/* Lay out guest memory and load the ELF at @guest_path into it. */
static int boot_load_image(struct callbox_sandbox *sb, const char *guest_path)
{
	const struct callbox_layout layout = {
		.mem_size = sb->cfg.mem_size,
		.stack_size = sb->cfg.stack_size,
		.heap_size = sb->cfg.heap_size,
		.io_base = sb->io_base,
		.nr_slots = sb->cfg.max_calls,
		.input_size = (uint32_t)sb->cfg.input_size,
		.output_size = (uint32_t)sb->cfg.output_size,
		.log_level = sb->cfg.log_level,
	};
	char err[256];
	size_t size;
	void *image;
	int ret;

	ret = callbox_read_file(guest_path, &image, &size, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "%s", err);
	callbox_layout_build(sb->vm.mem, &layout);
	/* The image must end below the I/O area. */
	ret = callbox_elf_load(image, size, sb->vm.mem, sb->io_base,
			       CALLBOX_GPA_IMAGE_MIN, &sb->entry, &sb->image_end,
			       err, sizeof(err));
	free(image);
	if (ret)
		return sandbox_fail(sb, ret, "%s: %s", guest_path, err);
	if (sb->cfg.heap_size > sb->io_base - sb->image_end)
		return sandbox_fail(sb, -EINVAL,
				    "config: a %" PRIu64 " KiB heap does not fit: %s leaves %" PRIu64 " KiB between its image and the I/O buffers",
				    sb->cfg.heap_size >> 10, guest_path,
				    (sb->io_base - sb->image_end) >> 10);

	/* What callbox_sandbox_reset() restores. */
	sb->boot_image = malloc(sb->image_end);
	if (!sb->boot_image)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	memcpy(sb->boot_image, sb->vm.mem, sb->image_end);
	return 0;
}

static int boot(struct callbox_sandbox *sb, const char *guest_path)
{
	char err[256];
	int dev_fd;
	int ret;

	ret = callbox_vm_create(&sb->vm, sb->cfg.mem_size, -1, err,
				sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "creating the VM: %s", err);
	ret = boot_load_image(sb, guest_path);
	if (ret)
		return ret;
	ret = callbox_vm_boot_regs(&sb->vm, sb->entry, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "setting up the vCPU: %s", err);

	dev_fd = callbox_open();
	if (dev_fd < 0)
		return sandbox_fail(sb, dev_fd,
				    "open /dev/callbox: %s (is callbox.ko loaded?)",
				    strerror(-dev_fd));
	ret = callbox_sandbox_create_fd(dev_fd, sb->vm.vm_fd, sb->vm.vcpu_fd);
	close(dev_fd);
	if (ret < 0)
		return sandbox_fail(sb, ret, "CALLBOX_SANDBOX_CREATE: %s",
				    strerror(-ret));
	sb->sandbox_fd = ret;

	ret = boot_init_call(sb);
	if (ret)
		return ret;
	ret = sandbox_snapshot_take(sb, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "taking the snapshot: %s", err);
	/*
	 * Only here, not after a reset's init call: the same image publishes
	 * the same table, and callers check calls against it without a lock.
	 */
	return sandbox_read_exports(sb);
}

int callbox_sandbox_load(struct callbox_sandbox *sb, const char *guest_path)
{
	int ret;

	sandbox_begin(sb);
	if (sb->vm.vm_fd >= 0)
		return sandbox_fail(sb, -EALREADY,
				    "a guest is already loaded in this sandbox");
	ret = sandbox_check_config(sb);
	if (ret)
		return ret;

	ret = boot(sb, guest_path);
	if (ret)
		sandbox_unload(sb);
	return ret;
}

void sandbox_unload(struct callbox_sandbox *sb)
{
	if (sb->sandbox_fd >= 0)
		close(sb->sandbox_fd);
	sb->sandbox_fd = -1;
	free(sb->boot_image);
	sb->boot_image = NULL;
	sandbox_memory_free(&sb->memory);
	callbox_vm_destroy(&sb->vm);
	free(sb->exports);
	sb->exports = NULL;
	sb->nr_exports = 0;
}

/*
 * A reset that failed half way left the guest neither as it was nor at its
 * entry: no call may enter it, in the library or through the fd, until a
 * reset or a restore succeeds. A restore fenced and abandoned poisons it.
 */
static void reset_failed(struct callbox_sandbox *sb)
{
	uint64_t id = 0;

	sb->ready = false;
	if (callbox_sandbox_restore_fd(sb->sandbox_fd, CALLBOX_RESTORE_BEGIN,
				       &id) >= 0)
		callbox_sandbox_restore_fd(sb->sandbox_fd,
					   CALLBOX_RESTORE_ABANDON, &id);
}

int callbox_sandbox_reset(struct callbox_sandbox *sb)
{
	char err[256];
	int ret;

	sandbox_begin(sb);
	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");
	if (sb->clone)
		return sandbox_fail(sb, -EOPNOTSUPP,
				    "reset: a clone has no image of its own: restore it instead");

	ret = sandbox_run_lock(sb, "reset");
	if (ret)
		return ret;
	ret = callbox_vm_flush_exit(&sb->vm, err, sizeof(err));
	if (!ret)
		ret = sandbox_memory_put_back(sb, false, err, sizeof(err));
	if (!ret)
		ret = callbox_vm_boot_regs(&sb->vm, sb->entry, err,
					   sizeof(err));
	if (ret) {
		reset_failed(sb);
		sandbox_fail(sb, ret, "reset: %s", err);
		goto out_unlock;
	}
	ret = boot_init_call(sb);
	/*
	 * With CALLBOX_CONFIG_FRESH_CALLS the next call starts from the
	 * load's snapshot, as every other does, not from this init's state.
	 */
	sb->memory.entered = true;

out_unlock:
	pthread_mutex_unlock(&sb->run_lock);
	return ret;
}

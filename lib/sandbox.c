// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the host SDK's sandbox. A micro-VM with one guest loaded,
 * whose calls run through callbox.ko.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "elf.h"
#include "layout.h"
#include "vm.h"

struct callbox_sandbox {
	struct callbox_config cfg;
	struct callbox_vm vm;
	int sandbox_fd;
	struct callbox_call_sync last_call;
	char last_error[512];
};

static int sandbox_fail(struct callbox_sandbox *sb, int ret,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sb->last_error, sizeof(sb->last_error), fmt, ap);
	va_end(ap);
	return ret;
}

void callbox_config_init(struct callbox_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CALLBOX_DEFAULT_MEM_SIZE;
}

struct callbox_sandbox *callbox_sandbox_new(const struct callbox_config *cfg)
{
	struct callbox_sandbox *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	if (cfg)
		sb->cfg = *cfg;
	else
		callbox_config_init(&sb->cfg);
	sb->vm = (struct callbox_vm) { .kvm_fd = -1, .vm_fd = -1,
				       .vcpu_fd = -1 };
	sb->sandbox_fd = -1;
	return sb;
}

static int sandbox_check_config(struct callbox_sandbox *sb)
{
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(sb->cfg.reserved) / sizeof(sb->cfg.reserved[0]);
	     i++) {
		if (sb->cfg.reserved[i])
			return sandbox_fail(sb, -EINVAL,
					    "config: reserved field %zu is not zero (use callbox_config_init())",
					    i);
	}
	ret = callbox_layout_check(sb->cfg.mem_size, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "config: %s", err);
	return 0;
}

static struct callbox_mailbox *sandbox_mailbox(struct callbox_sandbox *sb)
{
	return (struct callbox_mailbox *)((char *)sb->vm.mem +
					  CALLBOX_GPA_MAILBOX);
}

/*
 * Run one call through the kernel. Returns 0 with the guest's status in
 * *status when the call EXITED; otherwise -errno and last_error says why.
 */
static int sandbox_run(struct callbox_sandbox *sb, const char *what,
		       uint32_t *status)
{
	struct callbox_call_sync *c = &sb->last_call;
	char outcome[256];
	int ret;

	ret = callbox_call_sync_fd(sb->sandbox_fd, c);
	if (ret == -ENOTRECOVERABLE)
		return sandbox_fail(sb, ret,
				    "%s: an earlier call aborted inside the guest, so its state is unknown; create a new sandbox",
				    what);
	if (ret)
		return sandbox_fail(sb, ret, "%s: CALLBOX_CALL_SYNC: %s", what,
				    strerror(-ret));

	if (c->out_state == CALLBOX_STATE_EXITED) {
		*status = c->out_status;
		return 0;
	}

	callbox_describe_call(c, outcome, sizeof(outcome));
	switch (c->out_reason) {
	case CALLBOX_ABORT_GUEST_ABORT:
		ret = -ECONNABORTED;
		break;
	case CALLBOX_ABORT_INTERRUPTED:
		ret = -EINTR;
		break;
	default:
		ret = -EIO;
		break;
	}
	return sandbox_fail(sb, ret, "%s: call %" PRIu64 " aborted: %s", what,
			    (uint64_t)c->out_id, outcome);
}

static int sandbox_boot(struct callbox_sandbox *sb, const char *guest_path)
{
	char err[256];
	uint64_t entry;
	uint32_t status;
	size_t size;
	void *image;
	int dev_fd;
	int ret;

	ret = callbox_read_file(guest_path, &image, &size, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "%s", err);

	ret = callbox_vm_create(&sb->vm, sb->cfg.mem_size, err, sizeof(err));
	if (ret) {
		free(image);
		return sandbox_fail(sb, ret, "creating the VM: %s", err);
	}

	callbox_layout_build(sb->vm.mem, sb->vm.mem_size);
	ret = callbox_elf_load(image, size, sb->vm.mem, sb->vm.mem_size,
			       CALLBOX_GPA_IMAGE_MIN, &entry, err, sizeof(err));
	free(image);
	if (ret)
		return sandbox_fail(sb, ret, "%s: %s", guest_path, err);

	ret = callbox_vm_boot_regs(&sb->vm, entry, err, sizeof(err));
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

	/* The guest's init is the first call; it ends with DONE too. */
	ret = sandbox_run(sb, "guest init", &status);
	if (ret)
		return ret;
	if (status == CALLBOX_STATUS_BAD_ABI)
		return sandbox_fail(sb, -EPROTO,
				    "guest init: the guest was built for another callbox ABI (host speaks version %u)",
				    CALLBOX_ABI_VERSION);
	if (status != CALLBOX_STATUS_OK)
		return sandbox_fail(sb, -EPROTO,
				    "guest init failed with status %" PRIu32,
				    status);
	return 0;
}

int callbox_sandbox_load(struct callbox_sandbox *sb, const char *guest_path)
{
	int ret;

	sb->last_error[0] = '\0';
	if (sb->vm.vm_fd >= 0)
		return sandbox_fail(sb, -EALREADY,
				    "a guest is already loaded in this sandbox");
	ret = sandbox_check_config(sb);
	if (ret)
		return ret;

	ret = sandbox_boot(sb, guest_path);
	if (ret) {
		if (sb->sandbox_fd >= 0)
			close(sb->sandbox_fd);
		sb->sandbox_fd = -1;
		callbox_vm_destroy(&sb->vm);
	}
	return ret;
}

int callbox_call_int(struct callbox_sandbox *sb, const char *function,
		     const int64_t *args, unsigned int nargs, int64_t *result)
{
	struct callbox_mailbox *mb;
	uint32_t status;
	size_t len;
	int ret;

	sb->last_error[0] = '\0';
	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");
	len = strlen(function);
	if (len >= CALLBOX_FUNCTION_NAME_MAX)
		return sandbox_fail(sb, -EINVAL,
				    "function name '%.32s...' is longer than %d bytes",
				    function, CALLBOX_FUNCTION_NAME_MAX - 1);
	if (nargs > CALLBOX_MAX_ARGS)
		return sandbox_fail(sb, -EINVAL,
				    "%s: %u arguments, at most %d are supported",
				    function, nargs, CALLBOX_MAX_ARGS);

	mb = sandbox_mailbox(sb);
	memset(mb->function, 0, sizeof(mb->function));
	memcpy(mb->function, function, len);
	mb->argc = nargs;
	memset(mb->args, 0, sizeof(mb->args));
	if (nargs)
		memcpy(mb->args, args, nargs * sizeof(args[0]));
	mb->result = 0;

	ret = sandbox_run(sb, function, &status);
	if (ret)
		return ret;

	switch (status) {
	case CALLBOX_STATUS_OK:
		if (result)
			*result = mb->result;
		return 0;
	case CALLBOX_STATUS_NO_FUNCTION:
		return sandbox_fail(sb, -ENOENT,
				    "the guest has no function named '%s'",
				    function);
	case CALLBOX_STATUS_BAD_ARGC:
		return sandbox_fail(sb, -EINVAL,
				    "%s: wrong number of arguments (%u given)",
				    function, nargs);
	case CALLBOX_STATUS_BAD_REQUEST:
		return sandbox_fail(sb, -EPROTO,
				    "%s: the guest rejected the request as malformed",
				    function);
	default:
		return sandbox_fail(sb, -EPROTO,
				    "%s: the guest answered with unknown status %" PRIu32,
				    function, status);
	}
}

const char *callbox_last_error(const struct callbox_sandbox *sb)
{
	return sb->last_error;
}

const struct callbox_call_sync *
callbox_last_call(const struct callbox_sandbox *sb)
{
	return &sb->last_call;
}

void callbox_sandbox_free(struct callbox_sandbox *sb)
{
	if (!sb)
		return;
	if (sb->sandbox_fd >= 0)
		close(sb->sandbox_fd);
	callbox_vm_destroy(&sb->vm);
	free(sb);
}

// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: a sandbox's snapshot in a file, for another process to load.
 *
 * The file holds everything a sandbox needs to start as the snapshot
 * without its ELF: the guest's layout, its image as loaded (for resets),
 * its exports, the snapshot's pages and the whole vCPU state; and what it
 * was taken on (the CPU), since the vCPU state of one CPU model does not
 * load into another. Its header names the version of the format; a
 * checksum over the whole file (FNV-1a, 64 bits: it finds corruption, not
 * tampering) is checked before anything else is read, and then every
 * count, size and offset is bounded before use, so a file truncated,
 * corrupt or from another CPU gets a clear error and builds nothing. The
 * loaded sandbox maps the snapshot copy-on-write, as a clone does.
 *
 * Layout, in this order, every field in the host's byte order:
 *   struct snapshot_file_header
 *   nr_exports  struct callbox_export_desc
 *   image_end   bytes of the image as loaded
 *   nr_pages    uint64_t page numbers, increasing
 *   nr_pages    pages of 4096 bytes, in that order
 *   the vCPU: kvm_regs, kvm_vcpu_events, kvm_mp_state, kvm_sregs,
 *             kvm_debugregs, kvm_xcrs, kvm_xsave, nr_msrs kvm_msr_entry
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf.h"
#include "kvm_ioctl.h"
#include "sandbox.h"
#include "snapshot.h"

#define PAGE			CALLBOX_VM_PAGE_SIZE
#define SNAPSHOT_MAGIC		"CBSNAP\r\n"
/*
 * 2: the guest of guest ABI 7, which follows the mailbox's chain of a
 * batch; a guest of before would serve one request twice.
 * 3: only the MSRs the guest may write (vcpu_state.c); a snapshot of
 * before was taken of a guest that could write others.
 */
#define SNAPSHOT_VERSION	3
#define SNAPSHOT_MAX_MSRS	4096
/* Bounds the counts, so that the size computed from them cannot wrap. */
#define SNAPSHOT_MAX_MEM	(1ull << 40)

struct snapshot_cpu {
	char vendor[12];
	uint32_t signature;	/* CPUID 1 EAX: family, model, stepping */
	uint64_t xcr0_mask;	/* CPUID 0xd.0 EDX:EAX: XSAVE components */
};

struct snapshot_file_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t file_size;
	uint64_t checksum;	/* of the whole file, with this field 0 */
	struct snapshot_cpu cpu;
	uint32_t __pad;
	uint64_t mem_size, stack_size, heap_size, input_size, output_size;
	uint32_t max_calls, log_level;
	uint64_t entry, image_end, io_base;
	uint32_t nr_exports, nr_msrs;
	uint64_t nr_pages;
};

/* The format: a field that moves is a new version. */
_Static_assert(offsetof(struct snapshot_file_header, checksum) == 24,
	       "snapshot format");
_Static_assert(offsetof(struct snapshot_file_header, cpu) == 32,
	       "snapshot format");
_Static_assert(offsetof(struct snapshot_file_header, nr_pages) == 144,
	       "snapshot format");
_Static_assert(sizeof(struct snapshot_file_header) == 152, "snapshot format");

#define VCPU_FIXED	(sizeof(struct kvm_regs) + \
			 sizeof(struct kvm_vcpu_events) + \
			 sizeof(struct kvm_mp_state) + \
			 sizeof(struct kvm_sregs) + \
			 sizeof(struct kvm_debugregs) + \
			 sizeof(struct kvm_xcrs) + sizeof(struct kvm_xsave))

static void cpu_this(struct snapshot_cpu *cpu)
{
	unsigned int a = 0, b = 0, c = 0, d = 0;

	memset(cpu, 0, sizeof(*cpu));
	__cpuid(0, a, b, c, d);
	memcpy(cpu->vendor, &b, 4);
	memcpy(cpu->vendor + 4, &d, 4);
	memcpy(cpu->vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	cpu->signature = a;
	if (__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		cpu->xcr0_mask = (uint64_t)d << 32 | a;
}

static uint64_t fnv1a(const void *p, size_t len, uint64_t h)
{
	const unsigned char *b = p;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

static uint64_t file_checksum(const char *buf, size_t size)
{
	const size_t at = offsetof(struct snapshot_file_header, checksum);
	const uint64_t zero = 0;
	uint64_t h = 0xcbf29ce484222325ull;

	h = fnv1a(buf, at, h);
	h = fnv1a(&zero, sizeof(zero), h);
	return fnv1a(buf + at + sizeof(zero), size - at - sizeof(zero), h);
}

/* The size of a file with @h's counts; 0 if they cannot be right. */
static uint64_t file_size_of(const struct snapshot_file_header *h)
{
	if (h->nr_exports > CALLBOX_MAX_EXPORTS ||
	    h->nr_msrs > SNAPSHOT_MAX_MSRS ||
	    h->mem_size > SNAPSHOT_MAX_MEM ||
	    h->nr_pages > h->mem_size / PAGE || h->image_end > h->mem_size)
		return 0;
	return sizeof(*h) +
	       (uint64_t)h->nr_exports * sizeof(struct callbox_export_desc) +
	       h->image_end + h->nr_pages * (sizeof(uint64_t) + PAGE) +
	       VCPU_FIXED + (uint64_t)h->nr_msrs * sizeof(struct kvm_msr_entry);
}

/* A cursor over the file's sections. */
struct cursor {
	char *p;
};

static void put(struct cursor *c, const void *src, size_t len)
{
	memcpy(c->p, src, len);
	c->p += len;
}

static void get(struct cursor *c, void *dst, size_t len)
{
	memcpy(dst, c->p, len);
	c->p += len;
}

/*
 * Write @size bytes of @buf into a new file of mode 0600 beside @path,
 * then rename it over @path: a file already there is replaced whole, or
 * left as it was, never cut short; and it does not keep its own mode,
 * which could let others read guest memory. 0, or -errno with what
 * failed in *@step.
 */
static int replace_file(const char *path, const char *buf, size_t size,
			const char **step)
{
	size_t len = strlen(path), off;
	char *tmp = malloc(len + sizeof(".XXXXXX"));
	ssize_t n;
	int fd, ret = 0;

	*step = "creating a file beside";
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", sizeof(".XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	*step = "writing";
	for (off = 0; off < size && !ret; off += (size_t)n) {
		n = write(fd, buf + off, size - off);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
	}
	/* On disk before the rename, which a crash must not outrun. */
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret) {
		*step = "replacing";
		if (rename(tmp, path))
			ret = -errno;
	}
	if (ret)
		unlink(tmp);
out_free:
	free(tmp);
	return ret;
}

int callbox_sandbox_save(struct callbox_sandbox *sb, const char *path)
{
	struct snapshot_file_header h = {
		.magic = SNAPSHOT_MAGIC,
		.version = SNAPSHOT_VERSION,
		.header_size = sizeof(h),
	};
	struct callbox_export_desc desc;
	struct sandbox_snapshot *snap;
	struct cursor c;
	const char *step;
	char *buf;
	uint64_t size;
	unsigned int i;
	int ret;

	sandbox_begin(sb);
	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "save: no guest loaded");
	if (sb->clone)
		return sandbox_fail(sb, -EOPNOTSUPP,
				    "save: a clone has no image of its own: save the sandbox it was cloned from");
	ret = sandbox_run_lock(sb, "save");
	if (ret)
		return ret;
	/* A snapshot never changes: hold it, and let calls go on. */
	snap = sb->memory.snap;
	sandbox_snapshot_get(snap);
	pthread_mutex_unlock(&sb->run_lock);

	cpu_this(&h.cpu);
	h.mem_size = sb->cfg.mem_size;
	h.stack_size = sb->cfg.stack_size;
	h.heap_size = sb->cfg.heap_size;
	h.input_size = sb->cfg.input_size;
	h.output_size = sb->cfg.output_size;
	h.max_calls = sb->cfg.max_calls;
	h.log_level = sb->cfg.log_level;
	h.entry = sb->entry;
	h.image_end = sb->image_end;
	h.io_base = sb->io_base;
	h.nr_exports = sb->nr_exports;
	h.nr_msrs = snap->vcpu.msrs->nmsrs;
	h.nr_pages = snap->nr;
	h.file_size = size = file_size_of(&h);

	ret = -ENOMEM;
	buf = size ? calloc(1, size) : NULL;
	if (!buf)
		goto out_put;
	c.p = buf;
	put(&c, &h, sizeof(h));
	for (i = 0; i < sb->nr_exports; i++) {
		memset(&desc, 0, sizeof(desc));
		memcpy(desc.name, sb->exports[i].name, sizeof(desc.name));
		desc.ret_type = sb->exports[i].sig.ret_type;
		desc.nr_params = sb->exports[i].sig.nr_params;
		memcpy(desc.params, sb->exports[i].sig.params,
		       sizeof(desc.params));
		put(&c, &desc, sizeof(desc));
	}
	put(&c, sb->boot_image, sb->image_end);
	put(&c, snap->index, snap->nr * sizeof(uint64_t));
	put(&c, snap->data, snap->nr * PAGE);
	put(&c, &snap->vcpu.regs, sizeof(snap->vcpu.regs));
	put(&c, &snap->vcpu.events, sizeof(snap->vcpu.events));
	put(&c, &snap->vcpu.mp_state, sizeof(snap->vcpu.mp_state));
	put(&c, &snap->vcpu.sregs, sizeof(snap->vcpu.sregs));
	put(&c, &snap->vcpu.debugregs, sizeof(snap->vcpu.debugregs));
	put(&c, &snap->vcpu.xcrs, sizeof(snap->vcpu.xcrs));
	put(&c, snap->vcpu.xsave, sizeof(*snap->vcpu.xsave));
	put(&c, snap->vcpu.msrs->entries,
	    h.nr_msrs * sizeof(struct kvm_msr_entry));
	h.checksum = file_checksum(buf, size);
	memcpy(buf + offsetof(struct snapshot_file_header, checksum),
	       &h.checksum, sizeof(h.checksum));

	ret = replace_file(path, buf, size, &step);
	if (ret)
		sandbox_fail(sb, ret, "save: %s %s: %s", step, path,
			     strerror(-ret));
	free(buf);
out_put:
	sandbox_snapshot_put(snap);
	if (ret == -ENOMEM)
		sandbox_fail(sb, ret, "save: out of memory");
	return ret;
}

/* Check @buf, @size bytes of @path, before anything in it is used. */
static int check_file(struct callbox_sandbox *sb, const char *path,
		      const char *buf, size_t size,
		      const struct snapshot_file_header *h)
{
	struct snapshot_cpu cpu;
	uint64_t sum;

	if (size < sizeof(h->magic) || memcmp(h->magic, SNAPSHOT_MAGIC, 8))
		return sandbox_fail(sb, -EINVAL,
				    "%s: not a callbox snapshot", path);
	if (size < sizeof(*h))
		return sandbox_fail(sb, -EINVAL,
				    "%s: truncated: %zu bytes, less than its header",
				    path, size);
	if (h->version != SNAPSHOT_VERSION)
		return sandbox_fail(sb, -EINVAL,
				    "%s: snapshot format version %" PRIu32 ", this library reads version %d",
				    path, h->version, SNAPSHOT_VERSION);
	if (h->header_size != sizeof(*h))
		return sandbox_fail(sb, -EINVAL,
				    "%s: inconsistent: a header of %" PRIu32 " bytes, which version %d's is not (%zu)",
				    path, h->header_size, SNAPSHOT_VERSION,
				    sizeof(*h));
	if (h->file_size != size)
		return sandbox_fail(sb, -EINVAL,
				    "%s: truncated or padded: %zu bytes, the header says %" PRIu64,
				    path, size, h->file_size);
	sum = file_checksum(buf, size);
	if (sum != h->checksum)
		return sandbox_fail(sb, -EBADMSG,
				    "%s: corrupt: checksum %016" PRIx64 ", the header says %016" PRIx64,
				    path, sum, h->checksum);
	cpu_this(&cpu);
	if (memcmp(&cpu, &h->cpu, sizeof(cpu)))
		return sandbox_fail(sb, -ENOEXEC,
				    "%s: taken on another CPU (%.12s, signature %#" PRIx32 ", XSAVE %#" PRIx64 "; this one is %.12s, %#" PRIx32 ", %#" PRIx64 ")",
				    path, h->cpu.vendor, h->cpu.signature,
				    h->cpu.xcr0_mask, cpu.vendor,
				    cpu.signature, cpu.xcr0_mask);
	if (file_size_of(h) != size)
		return sandbox_fail(sb, -EINVAL,
				    "%s: its counts do not add up to its size",
				    path);
	return 0;
}

/* Take the guest's layout from @h, and check it as a config. */
static int load_layout(struct callbox_sandbox *sb, const char *path,
		       const struct snapshot_file_header *h)
{
	int ret;

	sb->cfg.mem_size = h->mem_size;
	sb->cfg.stack_size = h->stack_size;
	sb->cfg.heap_size = h->heap_size;
	sb->cfg.input_size = h->input_size;
	sb->cfg.output_size = h->output_size;
	sb->cfg.max_calls = h->max_calls;
	sb->cfg.log_level = h->log_level;
	ret = sandbox_check_config(sb);
	if (ret)
		return ret;
	if (h->io_base != sb->io_base || h->image_end > h->io_base ||
	    h->image_end < CALLBOX_GPA_IMAGE_MIN ||
	    h->entry < CALLBOX_GPA_IMAGE_MIN || h->entry >= h->image_end ||
	    h->heap_size > h->io_base - h->image_end)
		return sandbox_fail(sb, -EINVAL,
				    "%s: its image does not fit its layout",
				    path);
	sb->entry = h->entry;
	sb->image_end = h->image_end;
	return 0;
}

/* The snapshot's pages and vCPU, at @c, into @snap. */
static int load_snapshot(struct callbox_sandbox *sb, const char *path,
			 const struct snapshot_file_header *h,
			 struct cursor *c, struct sandbox_snapshot *snap)
{
	size_t words = callbox_vm_dirty_words(h->mem_size);
	const uint64_t io_first = h->io_base / PAGE;
	const uint64_t io_end = (h->io_base +
				 callbox_io_size(sb->cfg.input_size,
						 sb->cfg.output_size,
						 sb->cfg.max_calls) +
				 PAGE - 1) / PAGE;
	uint64_t i, page;

	snap->nr = h->nr_pages;
	snap->pages = calloc(words, sizeof(uint64_t));
	snap->index = calloc(snap->nr ? snap->nr : 1, sizeof(uint64_t));
	snap->data = malloc(snap->nr ? snap->nr * PAGE : 1);
	snap->vcpu.xsave = calloc(1, sizeof(*snap->vcpu.xsave));
	snap->vcpu.msrs = calloc(1, sizeof(*snap->vcpu.msrs) +
				 h->nr_msrs * sizeof(struct kvm_msr_entry));
	if (!snap->pages || !snap->index || !snap->data || !snap->vcpu.xsave ||
	    !snap->vcpu.msrs)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	get(c, snap->index, snap->nr * sizeof(uint64_t));
	for (i = 0; i < snap->nr; i++) {
		page = snap->index[i];
		/* A snapshot holds no I/O buffer. */
		if (page >= h->mem_size / PAGE ||
		    (page >= io_first && page < io_end) ||
		    (i && page <= snap->index[i - 1]))
			return sandbox_fail(sb, -EINVAL,
					    "%s: page %" PRIu64 " of the snapshot is out of order or not guest memory it may hold",
					    path, i);
		snap->pages[page / 64] |= 1ull << (page % 64);
	}
	get(c, snap->data, snap->nr * PAGE);
	for (i = 0; i < snap->nr; i++)
		sandbox_snapshot_clear_calls(snap->index[i],
					     snap->data + i * PAGE);
	get(c, &snap->vcpu.regs, sizeof(snap->vcpu.regs));
	get(c, &snap->vcpu.events, sizeof(snap->vcpu.events));
	get(c, &snap->vcpu.mp_state, sizeof(snap->vcpu.mp_state));
	get(c, &snap->vcpu.sregs, sizeof(snap->vcpu.sregs));
	get(c, &snap->vcpu.debugregs, sizeof(snap->vcpu.debugregs));
	get(c, &snap->vcpu.xcrs, sizeof(snap->vcpu.xcrs));
	get(c, snap->vcpu.xsave, sizeof(*snap->vcpu.xsave));
	snap->vcpu.msrs->nmsrs = h->nr_msrs;
	get(c, snap->vcpu.msrs->entries,
	    h->nr_msrs * sizeof(struct kvm_msr_entry));
	/* At a call boundary, nothing is pending, and the vCPU is not in SMM. */
	if (snap->vcpu.events.exception.injected ||
	    snap->vcpu.events.exception.pending ||
	    snap->vcpu.events.interrupt.injected ||
	    snap->vcpu.events.nmi.injected || snap->vcpu.events.nmi.pending ||
	    snap->vcpu.events.smi.smm || snap->vcpu.events.smi.pending)
		return sandbox_fail(sb, -EINVAL,
				    "%s: its vCPU has an event pending, or is in SMM",
				    path);
	return 0;
}

static int load_file(struct callbox_sandbox *sb, const char *path,
		     char *buf, size_t size)
{
	const struct snapshot_file_header *h = (const void *)buf;
	struct sandbox_snapshot *snap;
	struct cursor c;
	char err[256];
	int ret;

	ret = check_file(sb, path, buf, size, h);
	if (!ret)
		ret = load_layout(sb, path, h);
	if (ret)
		return ret;
	c.p = buf + sizeof(*h);
	ret = sandbox_set_exports(sb, (const void *)c.p, h->nr_exports, path);
	if (ret)
		return ret;
	c.p += h->nr_exports * sizeof(struct callbox_export_desc);
	sb->boot_image = malloc(h->image_end);
	if (!sb->boot_image)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	get(&c, sb->boot_image, h->image_end);

	snap = sandbox_snapshot_alloc();
	if (!snap)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	ret = load_snapshot(sb, path, h, &c, snap);
	if (!ret) {
		ret = sandbox_template_build(sb, snap, err, sizeof(err));
		if (!ret)
			ret = sandbox_boot_snapshot(sb, snap, true, err,
						    sizeof(err));
		if (ret)
			sandbox_fail(sb, ret, "%s: %s", path, err);
	}
	/* The sandbox holds its own reference once booted. */
	sandbox_snapshot_put(snap);
	return ret;
}

int callbox_sandbox_load_snapshot(struct callbox_sandbox *sb,
				  const char *path)
{
	struct callbox_config cfg = sb->cfg;
	char err[256];
	size_t size;
	void *buf;
	int ret;

	sandbox_begin(sb);
	if (sb->vm.vm_fd >= 0)
		return sandbox_fail(sb, -EALREADY,
				    "a guest is already loaded in this sandbox");
	ret = callbox_read_file(path, &buf, &size, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "%s", err);
	ret = load_file(sb, path, buf, size);
	free(buf);
	if (ret) {
		sandbox_unload(sb);
		sb->cfg = cfg;
	}
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot files: callbox_sandbox_save() and callbox_sandbox_load_snapshot().
 *
 * "The file holds what a sandbox needs to start as the snapshot in another
 * process, without the guest's ELF ... It is versioned and checksummed."
 * "Every byte of the file is checked before it is used ... on error @sb is
 * as it was, and may load again."
 */
#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "inspect_util.h"
#include "residue_util.h"

/* Offsets in the file's header (lib/snapshot_file.c). */
#define OFF_VERSION	8
#define OFF_HEADER_SIZE	12
#define OFF_CHECKSUM	24
#define OFF_CPU_VENDOR	32
#define OFF_NR_PAGES	144
#define OFF_FILE_SIZE	16
#define OFF_IMAGE_END	120
#define OFF_IO_BASE	128
#define OFF_NR_EXPORTS	136
#define OFF_NR_MSRS	140
#define HEADER_SIZE	152

static const char *const good_path = "/tmp/snapshot_file_test.cbsnap";
static const char *const bad_path = "/tmp/snapshot_file_test.bad";

static uint64_t fnv1a(const unsigned char *p, size_t len, uint64_t h)
{
	while (len--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/* The file's checksum, as the library computes it: its own field as 0. */
static void fix_checksum(unsigned char *buf, size_t size)
{
	uint64_t zero = 0, h = 0xcbf29ce484222325ull;

	h = fnv1a(buf, OFF_CHECKSUM, h);
	h = fnv1a((const unsigned char *)&zero, 8, h);
	h = fnv1a(buf + OFF_CHECKSUM + 8, size - OFF_CHECKSUM - 8, h);
	memcpy(buf + OFF_CHECKSUM, &h, 8);
}

static int write_file(const char *path, const void *buf, size_t size)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(buf, 1, size, f) == size;
	return fclose(f) || !ok ? -EIO : 0;
}

/* The residue guest with PATTERN + i in its words and MSR_STAR set, saved. */
struct saved {
	struct callbox_sandbox *sb;
	struct word w[NR_WORDS];	/* fresh: as in the file */
	struct word init[NR_WORDS];	/* as after the init */
	int64_t star_fresh;
	unsigned char *buf;		/* the good file */
	size_t size;
};

static void save_file(struct __test_metadata *_metadata, struct saved *s)
{
	struct callbox_config cfg;
	struct stat st;
	unsigned int i;
	FILE *f;

	residue_config(&cfg);
	s->sb = load(&cfg, "residue");
	find_words(_metadata, s->sb, s->w);
	memcpy(s->init, s->w, sizeof(s->w));
	ASSERT_EQ(0, read_piece(s->sb, &pieces[0], &s->star_fresh));
	poke_words(_metadata, s->sb, s->w);
	ASSERT_EQ(0, write_piece(s->sb, &pieces[0]));
	ASSERT_EQ(0, callbox_sandbox_snapshot(s->sb));
	for (i = 0; i < NR_WORDS; i++)
		s->w[i].fresh = (int64_t)PATTERN + i;
	ASSERT_EQ(0, callbox_sandbox_save(s->sb, good_path)) {
		TH_LOG("%s", callbox_sandbox_last_error(s->sb));
	}
	ASSERT_EQ(0, stat(good_path, &st));
	EXPECT_EQ(0600, st.st_mode & 0777);
	s->size = st.st_size;
	s->buf = malloc(s->size);
	ASSERT_NE(NULL, s->buf);
	f = fopen(good_path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(s->size, fread(s->buf, 1, s->size, f));
	fclose(f);
}

static void saved_free(struct saved *s)
{
	callbox_sandbox_free(s->sb);
	free(s->buf);
	unlink(good_path);
	unlink(bad_path);
}

FIXTURE(file) {
	struct saved s;
};

FIXTURE_SETUP(file)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	save_file(_metadata, &self->s);
}

FIXTURE_TEARDOWN(file)
{
	saved_free(&self->s);
}

FIXTURE(bad) {
	struct saved s;
};

FIXTURE_SETUP(bad)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	save_file(_metadata, &self->s);
}

FIXTURE_TEARDOWN(bad)
{
	saved_free(&self->s);
}

/*
 * In a child process, with no ELF: the snapshot's words and MSR, calls,
 * no init; a reset then goes to the image and the init; and a clone of it
 * starts as the snapshot. The child's verdict is its exit status.
 */
static int child_loads(const struct word *w, const struct word *init,
		       int64_t star_fresh)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb, *clone;
	int64_t v;
	unsigned int i;

	callbox_config_init(&cfg);
	if (callbox_sandbox_new(&cfg, &sb))
		return 10;
	if (callbox_sandbox_load_snapshot(sb, good_path)) {
		fprintf(stderr, "load: %s\n", callbox_sandbox_last_error(sb));
		return 11;
	}
	for (i = 0; i < NR_WORDS; i++)
		if (callbox_call_int(sb, "peek", (int64_t *)&w[i].addr, 1, &v) ||
		    v != w[i].fresh)
			return 20 + i;
	if (read_piece(sb, &pieces[0], &v) || v != (int64_t)pieces[0].value)
		return 30;
	if (callbox_sandbox_clone(sb, &clone))
		return 31;
	if (callbox_call_int(clone, "peek", (int64_t *)&w[0].addr, 1, &v) ||
	    v != w[0].fresh)
		return 32;
	callbox_sandbox_free(clone);
	if (callbox_sandbox_reset(sb)) {
		fprintf(stderr, "reset: %s\n", callbox_sandbox_last_error(sb));
		return 40;
	}
	for (i = 0; i < NR_WORDS; i++)
		if (callbox_call_int(sb, "peek", (int64_t *)&init[i].addr, 1,
				     &v) || v != init[i].fresh)
			return 41 + i;
	if (read_piece(sb, &pieces[0], &v) || v != star_fresh)
		return 50;
	if (callbox_sandbox_restore(sb) ||
	    callbox_call_int(sb, "peek", (int64_t *)&w[1].addr, 1, &v) ||
	    v != w[1].fresh)
		return 51;
	callbox_sandbox_free(sb);
	return 0;
}

TEST_F(file, loads_in_another_process)
{
	int status;
	pid_t pid;

	return_if_setup_skipped();
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_loads(self->s.w, self->s.init, self->s.star_fresh));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * "Created with mode 0600, and replaced if it exists": over a file of
 * mode 0644, the save leaves 0600; and a save that cannot be written
 * whole (a tmpfs, in a mount namespace of this process, with room for
 * one copy of the file but not two) fails with ENOSPC and leaves the file
 * that was there, which still loads, and nothing beside it.
 */
TEST_F(file, a_save_replaces_the_file_whole_or_not_at_all)
{
	const char *dir = "/tmp/snapshot_file_test.small";
	char path[128], leftover[sizeof(((struct dirent *)0)->d_name)] = "";
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	struct dirent *e;
	char opts[64];
	struct stat st;
	int64_t v;
	int n = 0;
	DIR *d;

	return_if_setup_skipped();
	ASSERT_EQ(0, chmod(good_path, 0644));
	ASSERT_EQ(0, callbox_sandbox_save(self->s.sb, good_path));
	ASSERT_EQ(0, stat(good_path, &st));
	EXPECT_EQ(0600, st.st_mode & 0777);

	if (unshare(CLONE_NEWNS))
		SKIP(return, "unshare(CLONE_NEWNS): %s", strerror(errno));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	ASSERT_EQ(0, mkdir(dir, 0700) && errno != EEXIST ? -1 : 0);
	snprintf(opts, sizeof(opts), "size=%lldk",
		 (long long)(st.st_size * 3 / 2 / 1024 + 1));
	ASSERT_EQ(0, mount("tmpfs", dir, "tmpfs", 0, opts));
	snprintf(path, sizeof(path), "%s/s.cbsnap", dir);
	ASSERT_EQ(0, callbox_sandbox_save(self->s.sb, path)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->s.sb));
	}
	EXPECT_EQ(-ENOSPC, callbox_sandbox_save(self->s.sb, path)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->s.sb));
	}
	/* The old file, whole, and nothing else left beside it. */
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		snprintf(leftover, sizeof(leftover), "%s", e->d_name);
	}
	closedir(d);
	EXPECT_EQ(1, n) {
		TH_LOG("left in %s: %s", dir, leftover);
	}
	callbox_config_init(&cfg);
	sb = sandbox_new(&cfg);
	ASSERT_EQ(0, callbox_sandbox_load_snapshot(sb, path)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
	callbox_sandbox_free(sb);
	umount(dir);
}

/* Where the vCPU's state begins in the file @buf. */
static size_t vcpu_offset(const unsigned char *buf)
{
	uint32_t nr_exports;
	uint64_t image_end, nr_pages;

	memcpy(&nr_exports, buf + OFF_NR_EXPORTS, 4);
	memcpy(&image_end, buf + OFF_IMAGE_END, 8);
	memcpy(&nr_pages, buf + OFF_NR_PAGES, 8);
	return HEADER_SIZE + nr_exports * 128 + image_end +
	       nr_pages * (8 + 4096);
}

/*
 * Files with a good checksum, made by someone: each must still be refused
 * (a third hostile review loaded the first two).
 */
enum forge {
	FORGE_NONE,
	FORGE_NO_MSRS,		/* the MSR table cut: a restore left them */
	FORGE_SMM,		/* the vCPU in SMM: every call times out */
	FORGE_IO_PAGE,		/* a page of the I/O buffers */
};

static size_t forge(unsigned char *buf, size_t size, enum forge how)
{
	size_t at = vcpu_offset(buf);
	uint32_t nr_msrs, nr_exports;
	uint64_t v, image_end;

	switch (how) {
	case FORGE_NONE:
		break;
	case FORGE_NO_MSRS:
		memcpy(&nr_msrs, buf + OFF_NR_MSRS, 4);
		size -= (size_t)nr_msrs * sizeof(struct kvm_msr_entry);
		nr_msrs = 0;
		memcpy(buf + OFF_NR_MSRS, &nr_msrs, 4);
		break;
	case FORGE_SMM:
		buf[at + sizeof(struct kvm_regs) +
		    offsetof(struct kvm_vcpu_events, smi.smm)] = 1;
		break;
	case FORGE_IO_PAGE:
		/* The first page of the snapshot, moved into the buffers. */
		memcpy(&v, buf + OFF_IO_BASE, 8);
		v /= 4096;
		memcpy(&nr_exports, buf + OFF_NR_EXPORTS, 4);
		memcpy(&image_end, buf + OFF_IMAGE_END, 8);
		memcpy(buf + HEADER_SIZE + nr_exports * 128 + image_end, &v,
		       8);
		break;
	}
	v = size;
	memcpy(buf + OFF_FILE_SIZE, &v, 8);
	fix_checksum(buf, size);
	return size;
}

/* A file to refuse, and how it is made from the good one. */
FIXTURE_VARIANT(bad) {
	enum forge forge;
	long keep;		/* bytes kept; <= 0: the file less -keep */
	bool empty;
	size_t at;		/* a byte to change, 0: none */
	bool fix_checksum;	/* and make the checksum agree */
	int err;
	const char *message;	/* the error, after the path */
};

FIXTURE_VARIANT_ADD(bad, truncated) {
	.keep = -1, .err = -EINVAL, .message = "truncated or padded",
};

FIXTURE_VARIANT_ADD(bad, header_only) {
	.keep = 40, .err = -EINVAL,
	.message = "truncated: 40 bytes, less than its header",
};

FIXTURE_VARIANT_ADD(bad, empty) {
	.empty = true, .err = -EINVAL, .message = "not a callbox snapshot",
};

FIXTURE_VARIANT_ADD(bad, not_a_snapshot) {
	.at = 1, .err = -EINVAL, .message = "not a callbox snapshot",
};

FIXTURE_VARIANT_ADD(bad, corrupt_page) {
	.at = 4096 * 3, .err = -EBADMSG, .message = "corrupt: checksum",
};

FIXTURE_VARIANT_ADD(bad, another_version) {
	.at = OFF_VERSION, .fix_checksum = true, .err = -EINVAL,
	.message = "snapshot format version 2, this library reads version 3",
};

FIXTURE_VARIANT_ADD(bad, header_size_wrong) {
	.at = OFF_HEADER_SIZE, .fix_checksum = true, .err = -EINVAL,
	.message = "inconsistent: a header of",
};

FIXTURE_VARIANT_ADD(bad, another_cpu) {
	.at = OFF_CPU_VENDOR, .fix_checksum = true, .err = -ENOEXEC,
	.message = "taken on another CPU",
};

FIXTURE_VARIANT_ADD(bad, msrs_missing) {
	.forge = FORGE_NO_MSRS, .err = -EINVAL,
	.message = "its 0 MSRs are not the",
};

FIXTURE_VARIANT_ADD(bad, vcpu_in_smm) {
	.forge = FORGE_SMM, .err = -EINVAL,
	.message = "its vCPU has an event pending, or is in SMM",
};

FIXTURE_VARIANT_ADD(bad, io_buffer_page) {
	.forge = FORGE_IO_PAGE, .err = -EINVAL,
	.message = "page 0 of the snapshot is out of order or not guest memory it may hold",
};

FIXTURE_VARIANT_ADD(bad, counts_wrong) {
	.at = OFF_NR_PAGES, .fix_checksum = true, .err = -EINVAL,
	.message = "its counts do not add up to its size",
};

/*
 * Each bad file gets its errno and a message naming the file and what is
 * wrong, builds no sandbox, and leaves the sandbox free to load the good
 * one after.
 */
TEST_F(bad, refused)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	unsigned char *bad;
	size_t size;
	char want[512];
	int64_t v;

	return_if_setup_skipped();
	size = variant->empty ? 0 :
	       variant->keep > 0 ? (size_t)variant->keep :
	       self->s.size + variant->keep;
	bad = malloc(self->s.size);
	ASSERT_NE(NULL, bad);
	memcpy(bad, self->s.buf, self->s.size);
	if (variant->at)
		bad[variant->at] ^= variant->at == OFF_VERSION ? 1 : 0x5a;
	if (variant->fix_checksum)
		fix_checksum(bad, self->s.size);
	if (variant->forge)
		size = forge(bad, self->s.size, variant->forge);
	ASSERT_EQ(0, write_file(bad_path, bad, size));
	free(bad);

	callbox_config_init(&cfg);
	sb = sandbox_new(&cfg);
	EXPECT_EQ(variant->err, callbox_sandbox_load_snapshot(sb, bad_path));
	snprintf(want, sizeof(want), "%s: %s", bad_path, variant->message);
	EXPECT_EQ(0, strncmp(want, callbox_sandbox_last_error(sb),
			     strlen(want))) {
		TH_LOG("error: %s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(-EBADF, callbox_sandbox_restore(sb));
	/* As it was: it loads the good one. */
	ASSERT_EQ(0, callbox_sandbox_load_snapshot(sb, good_path)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN

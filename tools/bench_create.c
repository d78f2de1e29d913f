// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: what creating a sandbox costs against the floor, a
 * bare KVM VM with a memory region and a vCPU, created and destroyed, from
 * an ELF and from a snapshot (a clone); and what resetting and restoring
 * one cost against the pages a call dirtied and the memory size.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include <callbox/callbox.h>

#include "bench.h"
#include "bench_report.h"
#include "bench_util.h"

#define CREATE_SAMPLES	30
#define CREATE_QUICK	3
/*
 * A reset or restore costs a fraction of a millisecond, so each takes
 * ten times the samples of a creation: with 30, restore.d1.m4's median
 * swung between 3.2x and 6.4x the floor from one run to the next.
 */
#define PUT_BACK_SAMPLES	(CREATE_SAMPLES * 10)

/* The KVM objects of a sandbox of the default size, and nothing else. */
static void create_floor_once(void)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = CALLBOX_DEFAULT_MEM_SIZE,
	};
	int kvm, vm, vcpu;
	void *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm", errno);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM", errno);
	mem = mmap(NULL, region.memory_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap", errno);
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION", errno);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU", errno);
	close(vcpu);
	close(vm);
	munmap(mem, region.memory_size);
	close(kvm);
}

static void create_elf_once(const char *guest)
{
	struct callbox_sandbox *sb;
	int ret = callbox_sandbox_new(NULL, &sb);

	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_load(sb, guest)) {
		fprintf(stderr, "bench: %s\n", callbox_sandbox_last_error(sb));
		exit(1);
	}
	callbox_sandbox_free(sb);
}

/*
 * Figure @name (the report keeps the pointer), against @baseline: a call
 * that dirties @pages pages of the heap (dirty()) in a sandbox of @mib
 * MiB, then the timed @put_back (a reset or a restore), @n times.
 */
static void bench_put_back(const char *guest, const char *name,
			   const char *baseline, unsigned int mib,
			   int64_t pages, int n,
			   int (*put_back)(struct callbox_sandbox *sb))
{
	static uint64_t t[PUT_BACK_SAMPLES];
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t wrote;
	uint64_t t0;
	int i, ret;

	callbox_config_init(&cfg);
	cfg.mem_size = (uint64_t)mib << 20;
	ret = callbox_sandbox_new(&cfg, &sb);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_load(sb, guest))
		goto fail;
	for (i = 0; i < n; i++) {
		if (callbox_call_int(sb, "dirty", &pages, 1, &wrote))
			goto fail;
		if (wrote != pages) {
			fprintf(stderr, "bench: %s: dirty(%lld) wrote %lld pages\n",
				name, (long long)pages, (long long)wrote);
			exit(1);
		}
		t0 = now_ns();
		if (put_back(sb))
			goto fail;
		t[i] = now_ns() - t0;
	}
	callbox_sandbox_free(sb);
	bench_figure(name, t, n, baseline);
	return;
fail:
	fprintf(stderr, "bench: %s: %s\n", name,
		callbox_sandbox_last_error(sb));
	exit(1);
}

/*
 * create.snapshot: a sandbox cloned from a loaded one's snapshot, and
 * freed, @n times, against create.elf.
 */
static void bench_clone(const char *guest, int n)
{
	static uint64_t t[CREATE_SAMPLES];
	struct callbox_config cfg;
	struct callbox_sandbox *parent, *child;
	uint64_t t0;
	int i, ret;

	callbox_config_init(&cfg);
	ret = callbox_sandbox_new(&cfg, &parent);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_load(parent, guest))
		goto fail;
	/* The first clone writes the snapshot's template. */
	if (callbox_sandbox_clone(parent, &child))
		goto fail;
	callbox_sandbox_free(child);
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (callbox_sandbox_clone(parent, &child))
			goto fail;
		callbox_sandbox_free(child);
		t[i] = now_ns() - t0;
	}
	callbox_sandbox_free(parent);
	bench_figure("create.snapshot", t, n, "create.elf");
	return;
fail:
	fprintf(stderr, "bench: create.snapshot: %s\n",
		callbox_sandbox_last_error(parent));
	exit(1);
}

void bench_create(const char *guest)
{
	static uint64_t t_floor[CREATE_SAMPLES], t_elf[CREATE_SAMPLES];
	int i, n = bench_quick ? CREATE_QUICK : CREATE_SAMPLES;
	uint64_t t0;

	create_floor_once();
	create_elf_once(guest);
	/* Interleaved, so that drift hits both alike. */
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		create_floor_once();
		t_floor[i] = now_ns() - t0;
		t0 = now_ns();
		create_elf_once(guest);
		t_elf[i] = now_ns() - t0;
	}
	bench_figure("create.floor", t_floor, n, NULL);
	bench_figure("create.elf", t_elf, n, "create.floor");
	bench_clone(guest, n);
	/*
	 * restore.dD.mM: D pages dirtied, M MiB of memory. Its cost must
	 * grow with D, not with M: each is compared with its smaller M.
	 */
	n = bench_quick ? CREATE_QUICK : PUT_BACK_SAMPLES;
	bench_put_back(guest, "reset.d1.m4", "create.floor", 4, 1, n,
		       callbox_sandbox_reset);
	bench_put_back(guest, "reset.d1.m256", "reset.d1.m4", 256, 1, n,
		       callbox_sandbox_reset);
	/* --lifecycle measures no KVM_RUN floor: then against creation. */
	bench_put_back(guest, "restore.d1.m4",
		       bench_has_figure("floor.kvm_run") ? "floor.kvm_run" :
		       "create.floor", 4, 1, n, callbox_sandbox_restore);
	bench_put_back(guest, "restore.d1.m256", "restore.d1.m4", 256, 1, n,
		       callbox_sandbox_restore);
	bench_put_back(guest, "restore.d256.m4", "restore.d1.m4", 4, 256, n,
		       callbox_sandbox_restore);
	bench_put_back(guest, "restore.d256.m256", "restore.d256.m4", 256,
		       256, n, callbox_sandbox_restore);
}

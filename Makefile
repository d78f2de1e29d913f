# SPDX-License-Identifier: GPL-2.0
#
# callbox: build everything, and run the demo, the tests and the benchmark
# in a QEMU VM booting Debian's kernel. See README.md.
#
#   make            the module, the library, the CLI, the benchmark, guests
#   make userspace  all of that but the module
#   make selftests  the test programs (needs the linux-source-6.1 package)
#   make demo       boot the VM and run real guest calls
#   make check      every test, host and VM; ends "N passed, N failed"
#   make check-6.12 the VM suites on Debian's 6.12 kernel (bookworm-backports)
#   make check-debug the VM suites on a debug kernel (KASAN, lockdep, ...)
#   make bench      benchmarks in the VM
#   make vm-shell   interactive shell in the VM, module loaded
#   make install    install the library, headers, CLI, guest SDK, man pages
#                   (DESTDIR, PREFIX, LIBDIR, ...; see dist/install.mk)
#   make modules_install  install the module built for KDIR
#
# CC, CFLAGS, CPPFLAGS and LDFLAGS are honoured, from the command line or
# the environment; the flags the code needs are added to them. Warnings are
# errors unless WERROR=0 (make check always builds with WERROR=1).
#
# The module builds against KDIR if given, else the running kernel's
# build directory if it exists, else the headers of the Debian kernel the
# test VM boots. The VM always gets a module built against its own kernel.

BUILD := build
# callbox's version: the library's .pc, the CLI's --version, dkms.conf.
VERSION := 0.1.0
# `make` alone: all (below), not the first file rule.
.DEFAULT_GOAL := all

# The Debian kernel the test VM boots (resolved at build time).
VM_KVER = $(shell tools/vm/kernel.sh --kver)
VM_KDIR = /lib/modules/$(VM_KVER)/build
KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),$(VM_KDIR))

# ---- flags: the user's, then what the code needs ----
CFLAGS ?= -O2 -g
WERROR ?= 1
OBJCOPY ?= objcopy
CALLBOX_CFLAGS := -std=gnu11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror)
CALLBOX_CPPFLAGS := -D_GNU_SOURCE -MMD -MP
# User code includes only the installed layout of the public headers.
USER_CPPFLAGS := -I$(BUILD)/include $(CALLBOX_CPPFLAGS)

# ---- the public headers, as they install: <callbox/...> and the uapi ----
PUBLIC_HDRS := $(BUILD)/include/callbox/callbox.h \
	$(BUILD)/include/callbox/abi.h $(BUILD)/include/callbox/wire.h \
	$(BUILD)/include/linux/callbox.h \
	$(BUILD)/include/linux/callbox_netlink.h

$(BUILD)/include/callbox/callbox.h: lib/include/callbox/callbox.h
$(BUILD)/include/callbox/abi.h: shared/include/callbox/abi.h
$(BUILD)/include/callbox/wire.h: shared/include/callbox/wire.h
$(BUILD)/include/linux/callbox.h: uapi/linux/callbox.h
$(BUILD)/include/linux/callbox_netlink.h: uapi/linux/callbox_netlink.h
$(PUBLIC_HDRS):
	install -D -m 644 $< $@

# ---- libcallbox ----
LIB_SRCS := $(wildcard lib/*.c) shared/wire.c
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
# The inspection part (callbox_inspect_*(), callbox_monitor_*()) reads the
# kernel's generic netlink family through libnl; nothing else uses libnl.
# Whoever links libcallbox needs $(NL_LIBS) too, after it: always for the
# shared library, for the static one if the program inspects.
NL_PKG := libnl-genl-3.0
NL_CFLAGS := $(or $(shell pkg-config --cflags $(NL_PKG) 2>/dev/null),\
	-I/usr/include/libnl3)
NL_LIBS := $(or $(shell pkg-config --libs $(NL_PKG) 2>/dev/null),\
	-lnl-genl-3 -lnl-3)
LIB_NL_OBJS := $(patsubst %.c,$(BUILD)/%.o,lib/inspect.c lib/monitor.c)
LIB_CORE_OBJS := $(filter-out $(LIB_NL_OBJS),$(LIB_OBJS))
LIB_MAP := lib/libcallbox.map
LIB_SYMS := $(BUILD)/lib/exports.list
LIB_A := $(BUILD)/libcallbox.a
LIB_SO := $(BUILD)/libcallbox.so.1
LIB_CPPFLAGS := -Ilib -Ilib/include -Ishared/include -Iuapi $(CALLBOX_CPPFLAGS)
$(LIB_NL_OBJS): LIB_CPPFLAGS += $(NL_CFLAGS)

LIB_COMPILE = $(CC) $(LIB_CPPFLAGS) $(CPPFLAGS) $(CALLBOX_CFLAGS) $(CFLAGS) \
	-fPIC -c $< -o $@

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(LIB_COMPILE)
$(BUILD)/shared/%.o: shared/%.c
	@mkdir -p $(@D)
	$(LIB_COMPILE)

# The names the map exports, one a line: what the static library keeps.
$(LIB_SYMS): $(LIB_MAP)
	@mkdir -p $(@D)
	sed -n '/global:/,/local:/{s/^[[:space:]]*\([a-z_0-9]*\);.*/\1/p}' \
		$< >$@

# The static library hides its internals as the shared one does: its
# objects are linked into one, and every global symbol not in the map is
# made local. The inspection part is a second member, hidden the same
# way, which only a program that inspects pulls in, with libnl.
$(BUILD)/lib/libcallbox.o: $(LIB_CORE_OBJS) $(LIB_SYMS)
$(BUILD)/lib/libcallbox-inspect.o: $(LIB_NL_OBJS) $(LIB_SYMS)
$(BUILD)/lib/libcallbox.o $(BUILD)/lib/libcallbox-inspect.o:
	$(CC) -r -nostdlib -o $@.tmp $(filter %.o,$^)
	$(OBJCOPY) --keep-global-symbols=$(LIB_SYMS) $@.tmp $@
	@rm -f $@.tmp

$(LIB_A): $(BUILD)/lib/libcallbox.o $(BUILD)/lib/libcallbox-inspect.o
	rm -f $@ && $(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(LIB_MAP)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libcallbox.so.1 \
		-Wl,-z,defs -Wl,--version-script=$(LIB_MAP) -o $@ $(LIB_OBJS) \
		$(NL_LIBS)

# ---- programs: static, so that the VM's initramfs needs no libc ----
CLI := $(BUILD)/callbox
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/cli/*.c))
BENCH := $(BUILD)/callbox-bench
BENCH_OBJS := $(patsubst %.c,$(BUILD)/%.o,tools/bench.c tools/bench_batch.c tools/bench_create.c \
	tools/bench_memory.c tools/bench_old_design.c tools/bench_counts.c tools/bench_report.c \
	tools/bench_stop.c tools/bench_typed.c) \
	$(BUILD)/tools/raw_guest.o
BENCH_INSPECT := $(BUILD)/bench-inspect
BENCH_INSPECT_OBJS := $(BUILD)/tools/bench_inspect.o $(BUILD)/tools/raw_guest.o
# A plain KVM program that tells whether the emulator runs nested guests
# reliably (tools/vm/nested-probe.sh).
NESTED_PROBE := $(BUILD)/nested-probe
NESTED_PROBE_OBJS := $(BUILD)/tools/vm/nested_probe.o
TOOL_OBJS := $(CLI_OBJS) $(BENCH_OBJS) $(BENCH_INSPECT_OBJS) $(NESTED_PROBE_OBJS)

# Before the first build there are no dependency files to say so.
$(TOOL_OBJS): | $(PUBLIC_HDRS)
$(BUILD)/tools/cli/main.o: USER_CPPFLAGS += -DCALLBOX_VERSION='"$(VERSION)"'
$(BUILD)/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(USER_CPPFLAGS) $(CPPFLAGS) $(CALLBOX_CFLAGS) $(CFLAGS) \
		-c $< -o $@

$(CLI): $(CLI_OBJS) $(LIB_A)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ $(NL_LIBS) -lpthread

$(BENCH): $(BENCH_OBJS) $(LIB_A)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ -lpthread

$(BENCH_INSPECT): $(BENCH_INSPECT_OBJS) $(LIB_A)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ $(NL_LIBS) -lpthread

$(NESTED_PROBE): $(NESTED_PROBE_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^

# ---- guests ----
GUEST_BUILD := $(BUILD)/guest
include guest/guest.mk
# Guests of the tests, beside the examples.
$(eval $(call callbox_guest_dir,selftests/guests))
TEST_GUEST_ELFS := $(GUEST_BUILD)/hostile.elf $(GUEST_BUILD)/hostile2.elf \
	$(GUEST_BUILD)/residue.elf $(GUEST_BUILD)/init_spin.elf

# ---- installing (make install, uninstall, modules_install) ----
include dist/install.mk

# ---- the module ----
VM_KO := $(BUILD)/kmod-vm/callbox.ko
KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h) kmod/Kbuild $(wildcard uapi/linux/*.h)

.PHONY: all module userspace lib selftests ksft-install demo check bench nlspec \
	vm-shell deps clean vm-module

all: module userspace

lib: $(LIB_A) $(LIB_SO) $(PUBLIC_HDRS)

userspace: lib $(CLI) $(BENCH) $(BENCH_INSPECT) $(NESTED_PROBE) $(GUEST_EXAMPLE_ELFS) \
	$(CLI_SHARED) $(LIB_SO_LINK)

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# The netlink family's C, generated from its spec (tools/check-nlspec.sh
# checks that it has been).
NLSPEC := Documentation/netlink/specs/callbox.yaml
nlspec:
	tools/nlspec.py uapi $(NLSPEC) > uapi/linux/callbox_netlink.h
	tools/nlspec.py policy-h $(NLSPEC) > kmod/netlink_policy.h
	tools/nlspec.py policy-c $(NLSPEC) > kmod/netlink_policy.c

# The VM's module: a private copy of the sources, built against the VM's
# kernel with W=1 and sparse. Any compiler or sparse warning fails it. It is
# rebuilt when that kernel is (its Module.symvers changes): the debug
# lane's kernel is rebuilt in place when its configuration changes.
vm-module: $(VM_KO)
$(VM_KO): $(KMOD_SRCS) $(wildcard $(VM_KDIR)/Module.symvers)
	rm -rf $(@D) && mkdir -p $(@D)/kmod $(@D)/uapi/linux
	cp Kbuild $(@D)/
	cp kmod/Kbuild kmod/*.c kmod/*.h $(@D)/kmod/
	cp uapi/linux/*.h $(@D)/uapi/linux/
	$(MAKE) -C $(VM_KDIR) M=$(CURDIR)/$(@D) W=1 C=1 modules \
		> $(@D)/build.log 2>&1 || { cat $(@D)/build.log; exit 1; }
	@if grep -E 'warning:|error:' $(@D)/build.log; then \
		echo "callbox.ko: the build has warnings (W=1, sparse)"; \
		rm -f $@; exit 1; fi
	@cp $(@D)/kmod/callbox.ko $@

# ---- the 6.12 lane: the VM boots Debian 13's kernel, 6.12, installed from
# bookworm-backports beside the default 6.1 (tools/deps.sh --kernel-6.12).
# The same userspace and suites; the module is built by the rule above, for
# 6.12 (CALLBOX_VM_KVER) and into its own directory.
VM_KO_612 := $(BUILD)/kmod-vm-6.12/callbox.ko

.PHONY: deps-6.12 check-6.12
deps-6.12:
	tools/deps.sh --kernel-6.12

check-6.12: deps-6.12
	CALLBOX_VM_KVER=6.12 $(MAKE) -j$(shell nproc) WERROR=1 userspace \
		ksft-install vm-module VM_KO=$(VM_KO_612)
	CALLBOX_VM_KVER=6.12 tools/check-6.12.sh $(VM_KO_612)

# ---- the debug lane: the VM suites on a kernel built from linux-source-6.1
# with KASAN, lockdep, kmemleak, UBSAN and fault injection (tools/debug-kernel/,
# cached by its configuration's hash), with the module built against it.
DEBUG_KO := $(BUILD)/kmod-vm-debug/callbox.ko

.PHONY: check-debug
check-debug:
	tools/deps.sh --debug-kernel
	$(MAKE) -j$(shell nproc) WERROR=1 userspace ksft-install
	dir=$$(tools/debug-kernel/build.sh) && \
	$(MAKE) vm-module VM_KDIR=$$dir/obj VM_KO=$(DEBUG_KO) && \
	tools/check-debug.sh $$dir $(DEBUG_KO)

# ---- the tests: selftests/, in the kselftest layout ----
# The kselftest harness, lib.mk and runner come from Debian's kernel source.
LINUX_SOURCE := /usr/src/linux-source-6.1.tar.xz
KSFT := $(BUILD)/ksft
KSFT_FILES := $(KSFT)/lib.mk $(KSFT)/kselftest_harness.h \
	$(KSFT)/kselftest/runner.sh $(KSFT)/run_kselftest.sh

$(KSFT_FILES) &: $(LINUX_SOURCE)
	@mkdir -p $(KSFT)
	tar -xJf $(LINUX_SOURCE) -C $(KSFT) --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/lib.mk \
		linux-source-6.1/tools/testing/selftests/run_kselftest.sh \
		--wildcards 'linux-source-6.1/tools/testing/selftests/kselftest*'
	touch $(KSFT_FILES)

$(LINUX_SOURCE):
	@echo "$@ is missing: install linux-source-6.1 (tools/deps.sh)"; exit 1

# What the selftests' makefiles need from here (see selftests/Makefile).
# Everything goes on their command line, so that CC overrides lib.mk's own
# choice of compiler. libnl's flags are for what builds libcallbox's
# sources itself (the TSan lane) and what links its inspection part.
SELFTESTS_MAKE = $(MAKE) -C selftests TOP=$(CURDIR) \
	CALLBOX_BUILD=$(abspath $(BUILD)) CC="$(CC)" CFLAGS="$(CFLAGS)" \
	CPPFLAGS="$(CPPFLAGS) $(NL_CFLAGS)" LDFLAGS="$(LDFLAGS)" \
	LDLIBS="$(LDLIBS) $(NL_LIBS)" WERROR=$(WERROR)

selftests: lib $(BUILD)/tools/raw_guest.o $(KSFT_FILES) $(TEST_GUEST_ELFS) \
		$(GUEST_EXAMPLE_ELFS)
	+$(SELFTESTS_MAKE) all

# The installed suites, as run_kselftest.sh runs them (in the VM).
KSFT_INSTALL := $(BUILD)/kselftest
ksft-install: selftests
	rm -rf $(KSFT_INSTALL)
	+$(SELFTESTS_MAKE) install INSTALL_PATH=$(abspath $(KSFT_INSTALL))

# ---- running things ----

deps:
	tools/deps.sh

# demo, check and bench install what is missing first, then build with a
# fresh make (so the kernel version is resolved after the install).
demo: deps
	$(MAKE) userspace vm-module
	tools/demo.sh

check: deps
	$(MAKE) -j$(shell nproc) WERROR=1 userspace ksft-install vm-module
	tools/check.sh

# The figures, as a table and as build/bench/results.json (the VM prints
# the JSON after a marker line; the log keeps the whole output). The VM
# reads the time from its TSC, as a real host does: to Linux the emulated
# TSCs look unsynchronised, and it would fall back on the emulated HPET,
# whose every read is an exit to QEMU (see tools/vm/bench-inspect.sh).
bench: deps
	$(MAKE) userspace vm-module $(BENCH_BASE_KO)
	@mkdir -p $(BUILD)/bench
	bash -o pipefail -c 'tools/vm/run.sh --append tsc=reliable --module $(VM_KO) \
		--add $(BENCH):/bin/bench \
		$(foreach g,$(GUEST_EXAMPLE_ELFS),--add $(g):/guests/) -- \
		"/bin/bench --json /tmp/results.json && echo --- results.json && cat /tmp/results.json" | \
		tee $(BUILD)/bench/bench.log'
	sed -n '/^--- results.json$$/,$$p' $(BUILD)/bench/bench.log | \
		tail -n +2 >$(BUILD)/bench/results.json
	@echo "bench: $(BUILD)/bench/results.json"
	tools/vm/run.sh --timeout 900 --append tsc=reliable --module $(VM_KO) \
		--add $(VM_KO):/bench/callbox.ko \
		--add $(BENCH_BASE_KO):/bench/callbox-base.ko \
		--add $(BENCH_INSPECT):/bin/bench-inspect --add $(CLI):/bin/callbox \
		--script tools/vm/bench-inspect.sh

# What inspection costs is measured against the module as it was before
# inspection existed, built from git for the VM's kernel.
BENCH_BASE_REV := db977bb
BENCH_BASE := $(BUILD)/kmod-base
BENCH_BASE_KO := $(BENCH_BASE)/kmod/callbox.ko
$(BENCH_BASE_KO):
	rm -rf $(BENCH_BASE) && mkdir -p $(BENCH_BASE)
	git archive $(BENCH_BASE_REV) Kbuild kmod uapi | tar -x -C $(BENCH_BASE)
	$(MAKE) -C $(VM_KDIR) M=$(CURDIR)/$(BENCH_BASE) modules \
		> $(BENCH_BASE)/build.log 2>&1 || \
		{ cat $(BENCH_BASE)/build.log; exit 1; }

vm-shell: deps
	$(MAKE) userspace ksft-install vm-module
	tools/vm/run.sh --shell --module $(VM_KO) --add $(CLI):/bin/callbox \
		$(foreach g,$(GUEST_EXAMPLE_ELFS),--add $(g):/guests/) \
		--add $(KSFT_INSTALL):/kselftest --add $(BENCH):/bin/bench

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(TOOL_OBJS:.o=.d)

# SPDX-License-Identifier: GPL-2.0
#
# callbox: build everything, and run the demo, the tests and the benchmark
# in a QEMU VM booting Debian's kernel. See README.md.
#
#   make            module, library, guests, CLI, tests
#   make demo       boot the VM and run real guest calls
#   make check      every test, host and VM; ends "N passed, N failed"
#   make bench      benchmarks in the VM
#   make vm-shell   interactive shell in the VM, module loaded
#
# The module builds against KDIR if given, else the running kernel's
# build directory if it exists, else the headers of the Debian kernel the
# test VM boots. The VM always gets a module built against its own kernel.

BUILD := build
V ?= 0

# The Debian kernel the test VM boots (resolved at build time).
VM_KVER = $(shell tools/vm/kernel.sh --kver)
VM_KDIR = /lib/modules/$(VM_KVER)/build
KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),$(VM_KDIR))

CC := gcc
CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE
CPPFLAGS := -Iuapi -Ilib/include -Iguest/include -MMD -MP
KSFT := $(BUILD)/ksft
KSFT_HARNESS := $(KSFT)/kselftest_harness.h
LINUX_SOURCE := /usr/src/linux-source-6.1.tar.xz

# ---- libcallbox ----
LIB_SRCS := lib/ioctl.c lib/vm.c lib/sandbox.c lib/elf.c lib/layout.c \
	lib/signature.c
# The wire codec is shared with the guest SDK, which owns its source.
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/lib/wire.o
LIB_A := $(BUILD)/libcallbox.a
LIB_SO := $(BUILD)/libcallbox.so.1
LIB_MAP := lib/libcallbox.map

# ---- programs; static, so the VM's initramfs needs no libc ----
CLI := $(BUILD)/callbox
BENCH := $(BUILD)/bench
# Every selftests/vm/*_test.c is a VM suite; a suite that needs more than
# the default rule brings its own selftests/vm/*.mk.
VM_TESTS := $(patsubst selftests/vm/%.c,$(BUILD)/selftests/%, \
	$(wildcard selftests/vm/*_test.c))
HOST_TESTS := $(BUILD)/host-tests/elf_test $(BUILD)/host-tests/layout_test \
	$(BUILD)/host-tests/heap_test $(BUILD)/host-tests/format_test \
	$(BUILD)/host-tests/wire_test $(BUILD)/host-tests/signature_test

GUEST_BUILD := $(BUILD)/guest
include guest/guest.mk
# Guests of the tests, beside the examples.
$(eval $(call callbox_guest_dir,selftests/guests))
TEST_GUEST_ELFS := $(GUEST_BUILD)/hostile.elf

VM_KO := $(BUILD)/kmod-vm/callbox.ko
VM_GUESTS = $(foreach g,$(GUEST_EXAMPLE_ELFS),--add $(g):/guests/)
KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h) kmod/Kbuild uapi/linux/callbox.h

.PHONY: all module userspace demo check bench vm-shell deps clean \
	vm-module checkpatch

all: module userspace

userspace: $(LIB_A) $(LIB_SO) $(CLI) $(BENCH) $(VM_TESTS) $(HOST_TESTS) \
	$(GUEST_EXAMPLE_ELFS) $(TEST_GUEST_ELFS)

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# The VM's module: a private copy of the sources, built against the VM's
# kernel with W=1 and sparse. Any compiler or sparse warning fails it.
vm-module: $(VM_KO)
$(VM_KO): $(KMOD_SRCS)
	rm -rf $(@D) && mkdir -p $(@D)/kmod $(@D)/uapi/linux
	cp Kbuild $(@D)/
	cp kmod/Kbuild kmod/*.c kmod/*.h $(@D)/kmod/
	cp uapi/linux/callbox.h $(@D)/uapi/linux/
	$(MAKE) -C $(VM_KDIR) M=$(CURDIR)/$(@D) W=1 C=1 modules \
		> $(@D)/build.log 2>&1 || { cat $(@D)/build.log; exit 1; }
	@if grep -E 'warning:|error:' $(@D)/build.log; then \
		echo "callbox.ko: the build has warnings (W=1, sparse)"; \
		rm -f $@; exit 1; fi
	@cp $(@D)/kmod/callbox.ko $@

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/lib/wire.o: guest/sdk/wire.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(LIB_MAP)
	$(CC) -shared -Wl,-soname,libcallbox.so.1 -Wl,-z,defs \
		-Wl,--version-script=$(LIB_MAP) -o $@ $(LIB_OBJS)

$(CLI): tools/callbox.c $(LIB_A)
	$(CC) $(CPPFLAGS) $(CFLAGS) -static -o $@ $< $(LIB_A)

$(BENCH): tools/bench.c selftests/vm/raw_guest.h $(LIB_A)
	$(CC) $(CPPFLAGS) -Iselftests/vm $(CFLAGS) -static -o $@ $< $(LIB_A) \
		-lpthread

$(KSFT_HARNESS):
	@test -r $(LINUX_SOURCE) || { echo "$(LINUX_SOURCE) missing: run tools/deps.sh"; exit 1; }
	mkdir -p $(KSFT)
	tar -xJf $(LINUX_SOURCE) -C $(KSFT) --strip-components=4 \
		--wildcards 'linux-source-6.1/tools/testing/selftests/kselftest*'
	touch $@

$(BUILD)/selftests/%: selftests/vm/%.c selftests/vm/callbox_util.h selftests/vm/stall.h \
		selftests/vm/raw_guest.h \
		$(LIB_A) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -isystem $(KSFT) $(CFLAGS) -static -o $@ $< $(LIB_A) \
		-lpthread

# Host tests feed hostile input to the parsers: always under ASan+UBSan.
HOST_TEST_CFLAGS := $(CFLAGS) -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD)/host-tests/elf_test: selftests/host/elf_test.c lib/elf.c \
		$(GUEST_EXAMPLE_ELFS) $(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib -isystem $(KSFT) $(HOST_TEST_CFLAGS) -o $@ $< \
		lib/elf.c

$(BUILD)/host-tests/layout_test: selftests/host/layout_test.c lib/layout.c \
		$(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib -isystem $(KSFT) $(HOST_TEST_CFLAGS) -o $@ $< \
		lib/layout.c

$(BUILD)/host-tests/signature_test: selftests/host/signature_test.c \
		lib/signature.c guest/sdk/wire.c $(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib -isystem $(KSFT) $(HOST_TEST_CFLAGS) -o $@ $< \
		lib/signature.c guest/sdk/wire.c

# The guest SDK's heap, formatter and wire codec, compiled natively.
$(BUILD)/host-tests/%_test: selftests/host/%_test.c guest/sdk/%.c \
		$(KSFT_HARNESS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -isystem $(KSFT) $(HOST_TEST_CFLAGS) -o $@ $< \
		guest/sdk/$*.c

# ---- running things ----

deps:
	tools/deps.sh

# demo, check and bench install what is missing first, then build with a
# fresh make (so the kernel version is resolved after the install).
demo: deps
	$(MAKE) userspace vm-module
	tools/demo.sh

check: deps
	$(MAKE) userspace vm-module
	tools/check.sh

bench: deps
	$(MAKE) userspace vm-module
	tools/vm/run.sh --module $(VM_KO) --add $(BENCH):/bin/bench \
		$(VM_GUESTS) -- /bin/bench

vm-shell: deps
	$(MAKE) userspace vm-module
	tools/vm/run.sh --shell --module $(VM_KO) --add $(CLI):/bin/callbox \
		$(VM_GUESTS) --add $(BUILD)/selftests:/selftests \
		--add $(BENCH):/bin/bench

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	rm -rf $(BUILD)

-include selftests/vm/*.mk
-include $(LIB_OBJS:.o=.d)

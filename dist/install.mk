# SPDX-License-Identifier: GPL-2.0
#
# Installing callbox: included by the Makefile. The files it installs that
# the build does not make are beside it in dist/; dkms.conf is at the top,
# where DKMS looks for it.
#
#   make install         the library (shared and static), the headers, the
#                        pkg-config files, the CLI, the guest SDK, the man
#                        pages, the udev rule and the modules-load.d example
#   make uninstall       removes what install installed
#   make modules_install the module, built for KDIR, into its modules tree
#   make dkms-source     the module's sources and dkms.conf, as DKMS wants
#                        them under /usr/src/callbox-VERSION
#
# DESTDIR, PREFIX, EXEC_PREFIX, BINDIR, LIBDIR, INCLUDEDIR, DATADIR, MANDIR,
# PKGCONFIGDIR, UDEVRULESDIR and DKMS_SOURCEDIR are honoured, with GNU
# defaults under PREFIX (/usr/local). The .pc files name the directories
# as given, without DESTDIR.

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# udev reads /usr/local/lib/udev/rules.d as well as /usr/lib/udev/rules.d.
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
DKMS_SOURCEDIR ?= /usr/src/callbox-$(VERSION)

# The guest SDK: its headers apart from the host's, so that a host program
# does not find a guest header on its include path (each header also
# refuses the other kind of build: __STDC_HOSTED__).
GUEST_SDK_DIR = $(LIBDIR)/callbox/guest
GUEST_INCLUDEDIR = $(INCLUDEDIR)/callbox-guest

# make quotes no path: refuse one with a space rather than install into
# the wrong directories.
$(foreach v,DESTDIR PREFIX EXEC_PREFIX BINDIR LIBDIR INCLUDEDIR DATADIR \
	MANDIR PKGCONFIGDIR UDEVRULESDIR DKMS_SOURCEDIR,\
	$(if $(word 2,$($(v))),$(error $(v) may not contain a space: "$($(v))")))

INSTALL ?= install

# ---- what install takes that the tree does not use itself ----

# The CLI as a host installs it: linked against libcallbox.so. The tree's
# own build/callbox is static, for the test VM, which has no libc. Both
# are built by `make` (userspace), so that `sudo make install` after it
# writes nothing into build/.
CLI_SHARED := $(BUILD)/shared/callbox
LIB_SO_LINK := $(BUILD)/libcallbox.so

$(LIB_SO_LINK): $(LIB_SO)
	ln -sf $(notdir $<) $@

$(CLI_SHARED): $(CLI_OBJS) $(LIB_SO_LINK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) -L$(BUILD) -lcallbox

# The .pc files name the install directories, which may differ at each
# install: install writes them from their templates, straight to DESTDIR.
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@EXEC_PREFIX@|$(EXEC_PREFIX)|g' \
	-e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	-e 's|@GUEST_SDK_DIR@|$(GUEST_SDK_DIR)|g' \
	-e 's|@GUEST_INCLUDEDIR@|$(GUEST_INCLUDEDIR)|g' \
	-e 's|@GUEST_TARGET_CFLAGS@|$(strip $(GUEST_TARGET_CFLAGS))|g' \
	-e 's|@GUEST_TARGET_LDFLAGS@|$(strip $(GUEST_TARGET_LDFLAGS))|g' \
	-e 's|@VERSION@|$(VERSION)|g'

.PHONY: install uninstall modules_install dkms-source

# ---- install ----
MAN_PAGES = $(wildcard man/man1/*.1 man/man3/*.3 man/man4/*.4 man/man7/*.7)
HOST_HDRS := lib/include/callbox/callbox.h shared/include/callbox/abi.h \
	shared/include/callbox/wire.h
UAPI_HDRS := uapi/linux/callbox.h uapi/linux/callbox_netlink.h
GUEST_HDRS := $(wildcard guest/include/callbox/*.h)
D := $(DESTDIR)

install: lib $(LIB_SO_LINK) $(CLI_SHARED) $(GUEST_SDK)
	$(INSTALL) -d $(D)$(BINDIR) $(D)$(LIBDIR) $(D)$(PKGCONFIGDIR) \
		$(D)$(INCLUDEDIR)/callbox $(D)$(INCLUDEDIR)/linux \
		$(D)$(GUEST_INCLUDEDIR)/callbox $(D)$(GUEST_SDK_DIR) \
		$(D)$(MANDIR)/man1 $(D)$(MANDIR)/man3 $(D)$(MANDIR)/man4 \
		$(D)$(MANDIR)/man7 \
		$(D)$(UDEVRULESDIR) $(D)$(DATADIR)/callbox/modules-load.d
	$(INSTALL) -m 755 $(CLI_SHARED) $(D)$(BINDIR)/callbox
	$(INSTALL) -m 644 $(LIB_SO) $(D)$(LIBDIR)/libcallbox.so.1
	ln -sf libcallbox.so.1 $(D)$(LIBDIR)/libcallbox.so
	$(INSTALL) -m 644 $(LIB_A) $(D)$(LIBDIR)/libcallbox.a
	$(INSTALL) -m 644 $(HOST_HDRS) $(D)$(INCLUDEDIR)/callbox/
	$(INSTALL) -m 644 $(UAPI_HDRS) $(D)$(INCLUDEDIR)/linux/
	$(PC_SUBST) dist/libcallbox.pc.in >$(D)$(PKGCONFIGDIR)/libcallbox.pc
	$(PC_SUBST) dist/callbox-guest.pc.in >$(D)$(PKGCONFIGDIR)/callbox-guest.pc
	chmod 644 $(D)$(PKGCONFIGDIR)/libcallbox.pc $(D)$(PKGCONFIGDIR)/callbox-guest.pc
	$(INSTALL) -m 644 $(GUEST_HDRS) $(D)$(GUEST_INCLUDEDIR)/callbox/
	$(INSTALL) -m 644 $(GUEST_SDK) $(GUEST_LDS) $(D)$(GUEST_SDK_DIR)/
	$(INSTALL) -m 644 $(filter man/man1/%,$(MAN_PAGES)) $(D)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(filter man/man3/%,$(MAN_PAGES)) $(D)$(MANDIR)/man3/
	$(INSTALL) -m 644 $(filter man/man4/%,$(MAN_PAGES)) $(D)$(MANDIR)/man4/
	$(INSTALL) -m 644 $(filter man/man7/%,$(MAN_PAGES)) $(D)$(MANDIR)/man7/
	$(INSTALL) -m 644 dist/60-callbox.rules $(D)$(UDEVRULESDIR)/
	$(INSTALL) -m 644 dist/modules-load.conf \
		$(D)$(DATADIR)/callbox/modules-load.d/callbox.conf

uninstall:
	rm -f $(D)$(BINDIR)/callbox
	rm -f $(D)$(LIBDIR)/libcallbox.so.1 $(D)$(LIBDIR)/libcallbox.so \
		$(D)$(LIBDIR)/libcallbox.a
	rm -f $(addprefix $(D)$(INCLUDEDIR)/callbox/,$(notdir $(HOST_HDRS)))
	rm -f $(addprefix $(D)$(INCLUDEDIR)/linux/,$(notdir $(UAPI_HDRS)))
	rm -f $(D)$(PKGCONFIGDIR)/libcallbox.pc $(D)$(PKGCONFIGDIR)/callbox-guest.pc
	rm -rf $(D)$(GUEST_INCLUDEDIR) $(D)$(LIBDIR)/callbox
	rm -f $(addprefix $(D)$(MANDIR)/,$(patsubst man/%,%,$(MAN_PAGES)))
	rm -f $(D)$(UDEVRULESDIR)/60-callbox.rules
	rm -rf $(D)$(DATADIR)/callbox
	-rmdir $(D)$(INCLUDEDIR)/callbox 2>/dev/null

# Kbuild's modules_install, into /lib/modules/KVER/updates (DESTDIR is
# its INSTALL_MOD_PATH); M= is kmod/, so that the module lands there and not
# in a kmod/ below. depmod then, for the kernel the module was built for,
# unless installing into DESTDIR. Without KDIR, only for the running
# kernel: the fallback on the test VM's headers (see KDIR in the Makefile)
# would install a module that kernel cannot load.
modules_install:
	@test "$(origin KDIR)" != file || test -d /lib/modules/$$(uname -r)/build || \
		{ echo "modules_install: no headers for the running kernel" \
			"($$(uname -r)) in /lib/modules/$$(uname -r)/build:" \
			"install them, or say which kernel with KDIR=" >&2; exit 1; }
	$(MAKE) module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod INSTALL_MOD_DIR=updates \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR)) modules_install
	$(if $(DESTDIR),,depmod -a $$(modinfo -F vermagic kmod/callbox.ko | cut -d' ' -f1))

# What DKMS builds the module from: the Kbuild files, the module's and the
# uapi's sources, and dkms.conf (whose version tools/check-install.sh
# checks against VERSION). `dkms add` of the source tree itself works too.
dkms-source:
	$(INSTALL) -d $(D)$(DKMS_SOURCEDIR)/kmod $(D)$(DKMS_SOURCEDIR)/uapi/linux
	$(INSTALL) -m 644 Kbuild $(D)$(DKMS_SOURCEDIR)/
	$(INSTALL) -m 644 kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c)) \
		$(wildcard kmod/*.h) $(D)$(DKMS_SOURCEDIR)/kmod/
	$(INSTALL) -m 644 $(UAPI_HDRS) $(D)$(DKMS_SOURCEDIR)/uapi/linux/
	$(INSTALL) -m 644 dkms.conf $(D)$(DKMS_SOURCEDIR)/

#!/bin/bash
# Boot Debian's kernel in QEMU (TCG, nested SVM) with kvm_amd loaded and run a
# test script inside. This machine has no /dev/kvm and cannot load modules,
# so everything that needs callbox.ko runs here.
#
# Usage: tools/vm/run.sh [options] --script FILE
#        tools/vm/run.sh [options] -- CMD...
#        tools/vm/run.sh [options] --shell
#
# Options:
#   --script FILE     run FILE with sh inside the VM (cwd /)
#   -- CMD...         run CMD...: the words are joined with spaces into one
#                     sh command line, as ssh does ("-- 'cd /x && ./t'" works)
#   --shell           interactive busybox shell on this terminal instead of a
#                     script; no timeout unless --timeout is given; `exit`
#                     powers off, Ctrl-A x kills QEMU
#   --timeout SEC     kill the VM after SEC seconds (default 300; 0 = none)
#                     two minutes before (SEC >= 240), a script still running
#                     gets every task's state and kernel stack dumped to
#                     the console log, to tell where it hung
#   --log FILE        keep the VM console log at FILE (default
#                     build/vm/console.log)
#   --kver VER        boot another installed Debian kernel than the default
#                     (linux-image-amd64's, 6.1): a series such as 6.12, or
#                     an exact version; same as CALLBOX_VM_KVER=VER (see
#                     tools/vm/kernel.sh). Its vmlinux, runs and default log
#                     live in build/vm-VER/ instead of build/vm/.
#                     CALLBOX_VM_KERNEL=DIR boots the kernel that
#                     tools/debug-kernel/build.sh built into DIR instead
#                     CALLBOX_VM_ACCEL replaces the -accel choice below;
#                     CALLBOX_VM_QEMU_EXTRA adds QEMU arguments, such as
#                     "-icount shift=0" (the VM's clock counts instructions:
#                     single-threaded TCG only)
#   --add SRC[:DEST]  copy SRC (file or directory, recursively, modes kept)
#                     to absolute path DEST in the VM (default /bin/NAME);
#                     a DEST ending in / or naming an existing directory
#                     gets /NAME appended, as with cp; repeatable
#   --add-libs BINARY what the dynamic program BINARY needs to run in the
#                     VM, whose initramfs has no libc: every library
#                     `ldd BINARY` lists, and the dynamic loader, copied to
#                     the same paths in the VM (symlinks followed); add
#                     BINARY itself with --add; repeatable
#   --module KO       insmod KO after kvm-amd; if it is callbox.ko, also
#                     require /dev/callbox to appear
#   --append ARGS     more kernel command line (e.g. "tsc=reliable")
#   -h, --help        this text
#
# The script's stdout+stderr go to the VM's second serial port, which QEMU
# writes to a file; that file is printed on stdout after the VM exits.
# After the script, dmesg is scanned for kernel warnings (WARNING, BUG, Oops,
# lockdep, hung task, UBSAN, KASAN, leaks ...); on a kernel with kmemleak,
# a scan after the script adds what it finds. Exit status: 0 if the script
# exited 0 and dmesg is clean, 1 otherwise (reason and the console tail on
# stderr), 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

die() {
	echo "vm: $*" >&2
	exit 2
}

# ---------------------------------------------------------------- options
shell=0
append=
timeout=
log=
script=
cmd=()
adds=()
libs_of=()
module=
while (($#)); do
	case "$1" in
	--shell) shell=1 ;;
	--timeout)
		[[ "${2:-}" =~ ^[0-9]+$ ]] || die "--timeout needs a number of seconds"
		timeout=$2
		shift
		;;
	--append)
		[[ -n "${2:-}" ]] || die "--append needs kernel arguments"
		append+=" $2"
		shift
		;;
	--log)
		[[ -n "${2:-}" ]] || die "--log needs a file"
		log=$2
		shift
		;;
	--kver)
		[[ -n "${2:-}" ]] || die "--kver needs a kernel version (e.g. 6.12)"
		export CALLBOX_VM_KVER=$2
		shift
		;;
	--add)
		[[ -n "${2:-}" ]] || die "--add needs SRC[:DEST]"
		adds+=("$2")
		shift
		;;
	--add-libs)
		[[ -f "${2:-}" ]] || die "--add-libs: no such file: ${2:-}"
		libs_of+=("$2")
		shift
		;;
	--module)
		[[ -f "${2:-}" ]] || die "--module: no such file: ${2:-}"
		module=$2
		shift
		;;
	--script)
		[[ -f "${2:-}" ]] || die "--script: no such file: ${2:-}"
		script=$2
		shift
		;;
	--)
		shift
		cmd=("$@")
		break
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
	shift
done

# The default kernel keeps build/vm; another one gets its own directory, so
# the two vmlinux caches never evict each other.
if [[ -n "${CALLBOX_VM_KERNEL:-}" ]]; then
	build=$root/build/vm-$(basename "$CALLBOX_VM_KERNEL")
elif [[ -n "${CALLBOX_VM_KVER:-}" ]]; then
	build=$root/build/vm-${CALLBOX_VM_KVER//\//_}
else
	build=$root/build/vm
fi
log=${log:-$build/console.log}

if ((shell)); then
	[[ -z "$script" && ${#cmd[@]} -eq 0 ]] || die "--shell takes no --script or -- CMD"
	timeout=${timeout:-0}
else
	[[ -n "$script" || ${#cmd[@]} -gt 0 ]] || die "nothing to run: give --script FILE, -- CMD... or --shell"
	[[ -z "$script" || ${#cmd[@]} -eq 0 ]] || die "give either --script or -- CMD, not both"
	timeout=${timeout:-300}
fi

# ---------------------------------------------------------------- tools
for tool in qemu-system-x86_64 cpio gzip modprobe /bin/busybox; do
	if ! command -v "$tool" >/dev/null; then
		echo "vm: $tool not found; run tools/deps.sh" >&2
		exit 1
	fi
done

# ---------------------------------------------------------------- kernel
mkdir -p "$build"
"$here/kernel.sh" "$build"
kver=$(cat "$build/kver")

# Per-run staging dir, so concurrent runs (make -j) do not trample each other.
stage=$(mktemp -d "$build/run.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rootfs=$stage/rootfs
results=$stage/results
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc/vm,lib/modules}

# ---------------------------------------------------------------- busybox
# Only /bin/sh is linked here (/init needs it); /init makes the other applet
# links with `busybox --install -s`, which takes milliseconds, where 270 `ln`
# runs on the host take 0.3 s. --install leaves existing files alone, so
# --add can still override an applet.
cp /bin/busybox "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/sh"

# ---------------------------------------------------------------- modules
# Copy a module into the initramfs, uncompressed (busybox insmod only reads
# plain .ko), and append it to the load list /etc/vm/modules.
add_module() {
	local src=$1 opts=${2:-} name
	name=$(basename "$src")
	case "$src" in
	*.ko.xz) name=${name%.xz} && xz -dc "$src" >"$rootfs/lib/modules/$name" ;;
	*.ko.zst) name=${name%.zst} && zstd -dcq "$src" >"$rootfs/lib/modules/$name" ;;
	*.ko.gz) name=${name%.gz} && gzip -dc "$src" >"$rootfs/lib/modules/$name" ;;
	*) cp "$src" "$rootfs/lib/modules/$name" ;;
	esac
	echo "$name $opts" >>"$rootfs/etc/vm/modules"
}

# modprobe resolves kvm-amd's dependencies for the VM kernel (not the host's
# running one) in load order: irqbypass, kvm, ccp, kvm-amd on 6.1. Lines are
# "insmod PATH [OPTIONS]"; "builtin NAME" lines need nothing.
: >"$rootfs/etc/vm/modules"
modroot=()
[[ -n "${CALLBOX_VM_KERNEL:-}" ]] && modroot=(-d "$CALLBOX_VM_KERNEL/root")
deps=$(modprobe "${modroot[@]}" -S "$kver" --show-depends kvm-amd) || die "modprobe cannot resolve kvm-amd for $kver"
while read -r verb path opts; do
	[[ "$verb" == insmod ]] && add_module "$path" "$opts"
done <<<"$deps"
check_callbox=0
if [[ -n "$module" ]]; then
	add_module "$module"
	[[ "$(basename "$module")" == callbox.ko ]] && check_callbox=1
fi

# ---------------------------------------------------------------- files
for spec in "${adds[@]}"; do
	# Split at the last colon only if what follows is an absolute path, so a
	# SRC containing ':' still works without DEST.
	src=$spec dest=
	if [[ "$spec" == *:/* && "${spec##*:}" == /* ]]; then
		src=${spec%:*}
		dest=${spec##*:}
	fi
	[[ -e "$src" ]] || die "--add: no such file or directory: $src"
	[[ -z "$dest" ]] && dest=/bin/
	# Like cp: a DEST that is (or ends like) a directory receives SRC inside
	# it. This also keeps "--add x:/bin" from replacing all of /bin.
	if [[ "$dest" == */ || -d "$rootfs$dest" ]]; then
		dest=${dest%/}/$(basename "$src")
	fi
	mkdir -p "$rootfs$(dirname "$dest")"
	# Replace what is there (e.g. a busybox applet link of the same name).
	rm -rf "${rootfs:?}$dest"
	# -L: a symlink pointing outside the tree would dangle inside the VM.
	cp -RL --preserve=mode "$src" "$rootfs$dest"
done

# ---------------------------------------------------------------- libraries
# Everything else in the VM is static. A dynamic program (a sanitizer's
# runtime cannot be linked statically) gets the loader and its libraries
# at the paths they have here: the loader is the program's PT_INTERP, and
# with no /etc/ld.so.cache it searches /lib/x86_64-linux-gnu, /usr/lib/...
# itself. Lines of ldd: "NAME => PATH (ADDR)", "PATH (ADDR)" for the
# loader, "NAME (ADDR)" for the vDSO, which has no file.
for bin in "${libs_of[@]}"; do
	out=$(ldd "$bin" 2>&1) || die "--add-libs: ldd $bin: $out"
	while read -r line; do
		case "$line" in
		*"=> not found"*) die "--add-libs: $bin: $line" ;;
		*"=> /"*) lib=${line#*=> } ;;
		/*) lib=$line ;;
		*) continue ;;
		esac
		lib=${lib% (0x*)}
		[[ -f "$lib" ]] || die "--add-libs: $bin: no such file: $lib"
		mkdir -p "$rootfs$(dirname "$lib")"
		cp -L --preserve=mode "$lib" "$rootfs$lib"
	done <<<"$out"
done

# ---------------------------------------------------------------- script
if [[ -n "$script" ]]; then
	cp "$script" "$rootfs/etc/vm/script"
elif ((${#cmd[@]})); then
	printf '%s\n' "${cmd[*]}" >"$rootfs/etc/vm/script"
fi

cat >"$rootfs/etc/vm/conf" <<EOF
VM_SHELL=$shell
VM_CHECK_CALLBOX=$check_callbox
VM_TIMEOUT=${timeout:-0}
EOF

# ---------------------------------------------------------------- /init
# Verdict protocol: /init writes one byte B to I/O port 0xf4, where QEMU's
# isa-debug-exit makes QEMU exit with status (B<<1)|1. B is a bit set:
# 1 = script failed, 2 = dmesg has warnings, 4 = setup (mount/insmod) failed.
# So 1 = pass; a panic or plain poweroff exits 0, which is never a pass.
cat >"$rootfs/init" <<'EOF'
#!/bin/sh
# Generated by tools/vm/run.sh.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ TERM=linux
. /etc/vm/conf

# Patterns of kernel reports that fail a run even if the script passed.
# Lockdep's reports start "WARNING:" (or "BUG:"), and it says when it
# turns itself off; a debug kernel's banner "RCU lockdep checking is
# enabled" is no report.
WARN_RE='WARNING:|BUG:|Oops|general protection|lockdep is turned off|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|Call Trace:|UBSAN:|KASAN:|kernel BUG|refcount_t:|list_add corruption|list_del corruption|unreferenced object'

# Messages go to the console (log) and to the results port (printed by the
# host on stdout).
say() {
	echo "vm: $*"
	echo "vm: $*" >/dev/ttyS1
}

verdict() {
	# QEMU exits the instant the port is written: first wait until the
	# serial ports have sent everything (stty sets the mode with TCSADRAIN;
	# the console stays open in init, so closing it would not wait).
	stty -F /dev/console -echo 2>/dev/null
	stty -F /dev/ttyS1 -echo 2>/dev/null
	# shellcheck disable=SC2059 # the format is the octal escape of $1 (0-7)
	printf "\\00$1" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	# Only reached if isa-debug-exit is missing.
	poweroff -f
}

setup_failed() {
	say "$*"
	if [ "$VM_SHELL" = 1 ]; then
		return # let the human look around anyway
	fi
	dmesg | tail -n 40
	verdict 4
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Debian's kernel does not mount devtmpfs on the initramfs by itself.
mount -t devtmpfs devtmpfs /dev || setup_failed "cannot mount devtmpfs"
# What udev would add, and scripts expect: the kselftest runner writes to
# /dev/stdout, which would otherwise become a plain file.
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t debugfs debugfs /sys/kernel/debug || setup_failed "cannot mount debugfs"
mount -t tmpfs tmpfs /tmp || setup_failed "cannot mount tmpfs on /tmp"
# Raw mode: the tty's default ONLCR would turn every \n into \r\n in the
# results file.
stty -F /dev/ttyS1 raw -echo || setup_failed "cannot set up /dev/ttyS1"

# Load order was computed on the host (kvm-amd's dependencies, then --module).
while read -r mod opts; do
	# shellcheck disable=SC2086 # opts are module parameters, split on purpose
	insmod "/lib/modules/$mod" $opts || setup_failed "insmod $mod failed"
done </etc/vm/modules

# devtmpfs creates nodes when the device registers; allow a moment anyway.
wait_dev() {
	n=0
	while [ ! -c "$1" ] && [ $n -lt 20 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -c "$1" ] || setup_failed "$1 did not appear"
}
wait_dev /dev/kvm
[ "$VM_CHECK_CALLBOX" = 1 ] && wait_dev /dev/callbox

echo "vm: modules loaded: $(cut -d' ' -f1 /etc/vm/modules | tr '\n' ' ')"

# A kernel with kmemleak (the debug lane): forget what boot left behind
# (ACPI's caches, for one), so that what the final scan finds was leaked
# while the script ran. kmemleak reports an object only once it is 5 s
# old, so wait until boot's are.
KMEMLEAK=/sys/kernel/debug/kmemleak
if [ -w $KMEMLEAK ]; then
	sleep 5
	echo scan >$KMEMLEAK
	echo clear >$KMEMLEAK
fi
cd /
if [ "$VM_SHELL" = 1 ]; then
	echo "vm: shell; 'exit' powers off, Ctrl-A x kills QEMU"
	# cttyhack gives sh the console as controlling tty, so Ctrl-C works.
	setsid cttyhack sh
	poweroff -f
fi

# A script that hangs is killed with QEMU at the timeout, and nothing would
# tell where it stood. So, two minutes before (booting takes under one),
# every user task's state, CPU and kernel stack go to the console log,
# then SysRq's blocked tasks (w) and every CPU's backtrace (l).
hang_report() {
	sleep "$1"
	echo "vm: the script still runs after $1 s: task dump in the console log" >/dev/ttyS1
	echo "vm: ---- tasks after $1 s ----"
	for t in /proc/[0-9]*/task/[0-9]*; do
		# A kernel thread has no command line (proc files have no size).
		[ -n "$(tr -d '\0' <"${t%/task/*}/cmdline" 2>/dev/null)" ] || continue
		read -r _ comm state _ <"$t/stat" 2>/dev/null || continue
		echo "task ${t##*/} $comm $state cpu $(cut -d' ' -f39 "$t/stat") wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cat "$t/syscall" 2>/dev/null)"
		sed 's/^/    /' "$t/stack" 2>/dev/null
	done
	echo w >/proc/sysrq-trigger
	echo l >/proc/sysrq-trigger
	dmesg | sed -n '/sysrq: Show Blocked State/,$p'
}
hang_reporter=
if [ "$VM_TIMEOUT" -ge 240 ]; then
	hang_report $((VM_TIMEOUT - 120)) &
	hang_reporter=$!
fi

v=0
echo "vm: running the test script"
sh /etc/vm/script </dev/null >/dev/ttyS1 2>&1
rc=$?
[ -n "$hang_reporter" ] && kill "$hang_reporter" 2>/dev/null
echo "vm: test script exited with status $rc"
if [ $rc -ne 0 ]; then
	echo "vm: test script exited with status $rc" >/dev/ttyS1
	v=1
fi

# kmemleak reports an object only once it is older than 5 s, and found
# unreferenced by a scan.
if [ -w $KMEMLEAK ]; then
	sleep 5
	echo scan >$KMEMLEAK
	cat $KMEMLEAK >/tmp/kmemleak.txt
	if [ -s /tmp/kmemleak.txt ]; then
		echo "vm: kmemleak found leaks:"
		cat /tmp/kmemleak.txt
	fi
fi
dmesg >/tmp/dmesg.txt
[ -s /tmp/kmemleak.txt ] && cat /tmp/kmemleak.txt >>/tmp/dmesg.txt
if grep -E "$WARN_RE" /tmp/dmesg.txt >/tmp/warnings.txt; then
	{
		echo "vm: dmesg has kernel warnings"
		cat /tmp/warnings.txt
	} >/dev/ttyS1
	v=$((v | 2))
fi
# Whole dmesg into the console log: quiet keeps warnings off the console,
# and the host shows the log's tail when a run fails.
echo "vm: ---- dmesg ----"
cat /tmp/dmesg.txt
verdict $v
EOF
chmod 755 "$rootfs/init"

# ---------------------------------------------------------------- pack
initrd=$stage/initrd.cpio.gz
(cd "$rootfs" && find . -print0 | cpio -o -0 -H newc --quiet | gzip -1) >"$initrd"

# ---------------------------------------------------------------- boot
mkdir -p "$(dirname "$log")"
: >"$results"
if ((shell)); then
	# mon:stdio multiplexes the QEMU monitor in, so Ctrl-A x can kill it.
	console=mon:stdio
else
	console=file:$log
fi
# Single-threaded TCG. Multi-threaded TCG (QEMU 10's tcg,thread=multi:
# the VM's two vCPUs at once, so races inside the module can happen here
# as on a real host) is opt-in, CALLBOX_VM_ACCEL=tcg,thread=multi: QEMU
# 10.0.2's corrupts the state of nested guests, callbox or not, within
# minutes (tools/vm/nested-probe.sh; see the README); QEMU 7.2's wedged
# the guest kernel outright.
qemu_major=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
accel=tcg,thread=single
accel=${CALLBOX_VM_ACCEL:-$accel}
echo "vm: QEMU ${qemu_major:-(unknown version)}, -accel $accel" >&2
qemu=(
	qemu-system-x86_64 -accel "$accel"
	-cpu max -m 1G -smp 2
	-nographic -no-reboot -nodefaults -display none
	-serial "$console" -serial "file:$results"
	-device "isa-debug-exit,iobase=0xf4,iosize=0x04"
	-kernel "$build/vmlinux" -initrd "$initrd"
	-append "console=ttyS0 panic=-1 oops=panic softlockup_panic=1 quiet$append"
)
# shellcheck disable=SC2206 # arguments, split on purpose
[ -n "${CALLBOX_VM_QEMU_EXTRA:-}" ] && qemu+=(${CALLBOX_VM_QEMU_EXTRA})
if ((timeout > 0)); then
	# --foreground lets an interactive QEMU read the terminal; QEMU has no
	# children for timeout to miss.
	qemu=(timeout --foreground "$timeout" "${qemu[@]}")
fi

set +e
if ((shell)); then
	"${qemu[@]}"
else
	"${qemu[@]}" </dev/null
fi
rc=$?
set -e

if ((shell)); then
	case $rc in
	0) exit 0 ;;
	124) echo "vm: timeout after $timeout s" >&2 ;;
	*) echo "vm: qemu exited with status $rc" >&2 ;;
	esac
	exit 1
fi

cat "$results"

case $rc in
1) exit 0 ;;
3) reason="test script failed" ;;
5) reason="dmesg has kernel warnings" ;;
7) reason="test script failed; dmesg has kernel warnings" ;;
9) reason="VM setup failed (mount, insmod or device node; see above)" ;;
124) reason="timeout after $timeout s" ;;
0) reason="kernel panicked or VM exited without a verdict" ;;
*) reason="qemu exited with status $rc" ;;
esac
{
	echo "vm: $reason"
	echo "vm: last 60 lines of the console log ($log):"
	tail -n 60 "$log" 2>/dev/null || true
} >&2
exit 1

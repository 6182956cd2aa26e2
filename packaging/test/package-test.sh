#!/bin/bash
# package-test.sh DIST tests the .debs `make deb` put in DIST, as an
# installer would meet them (`make package-test`; root, Debian 12):
#
#  1. lintian --pedantic prints nothing for each .deb but the documented
#     overrides (packaging/lintian-overrides);
#  2. the amd64 package in a fresh Debian root made with debootstrap:
#     dpkg -i, then files, owners and modes, the doorhub user in dialout,
#     the unit enabled and accepted by systemd-analyze verify, the
#     conffile registered, the daemon started from the installed files as
#     its user; an upgrade over itself keeps an edited config; remove
#     keeps config and state; purge removes them; a reinstall works;
#  3. the arm64 and armhf doorhubd and doorhub run under qemu-user:
#     --version, --check-config, and the daemon opens its store (on armhf,
#     Badger's memory maps in a 32-bit address space) and stops cleanly.
#
# The debootstrap root is cached as a tarball in DOORHUB_CI_CACHE
# (default /var/cache/doorhub-ci), so a rerun needs no download. The
# mirror is the one this machine's apt uses.
set -euo pipefail

dist=${1:?usage: package-test.sh DIST}
cache=${DOORHUB_CI_CACHE:-/var/cache/doorhub-ci}
suite=bookworm
# What a hub has beyond debootstrap's minbase: adduser (Depends) and
# systemd (systemd-analyze verify; deb-systemd-helper's enable).
include=adduser,systemd,systemd-sysv

t0=$(date +%s)
fails=0
passes=0
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }
ok() {
	passes=$((passes + 1))
	printf 'ok   %s\n' "$*"
}
fail() {
	fails=$((fails + 1))
	printf 'FAIL %s\n' "$*"
}
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	local what=$1
	shift
	if out=$("$@" 2>&1); then ok "$what"; else fail "$what: $out"; fi
}

[ "$(id -u)" = 0 ] || { echo "package-test.sh: run as root (dpkg in a chroot)" >&2; exit 2; }
for c in lintian debootstrap qemu-aarch64-static qemu-arm-static dpkg-deb; do
	command -v "$c" >/dev/null || { echo "package-test.sh: $c missing (.ci/run installs it)" >&2; exit 2; }
done
shopt -s nullglob
debs=("$dist"/doorhub_*.deb)
[ ${#debs[@]} -gt 0 ] || { echo "package-test.sh: no .deb in $dist: run make deb" >&2; exit 2; }
deb_for() { # ARCH -> the newest .deb of that architecture
	local f
	f=$(ls -t "$dist"/doorhub_*_"$1".deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "package-test.sh: no $1 .deb in $dist" >&2; exit 2; }
	echo "$f"
}
amd64=$(deb_for amd64)
arm64=$(deb_for arm64)
armhf=$(deb_for armhf)
version=$(dpkg-deb -f "$amd64" Version)

work=$(mktemp -d /tmp/doorhub-package-test.XXXXXX)
root=$work/root
cleanup() {
	# A daemon left by a failed check, then the chroot's mounts.
	[ -z "${daemon_pid:-}" ] || kill "$daemon_pid" 2>/dev/null || true
	umount -l "$root/proc" 2>/dev/null || true
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

step "lintian --pedantic"
for deb in "$amd64" "$arm64" "$armhf"; do
	# Overridden tags are not printed; anything else is a finding.
	out=$(lintian --pedantic "$deb" 2>&1 | grep -v 'running with root privileges is not recommended' || true)
	if [ -z "$out" ]; then ok "lintian $(basename "$deb")"; else fail "lintian $(basename "$deb"):"$'\n'"$out"; fi
done

step "Debian root ($suite, debootstrap)"
mkdir -p "$cache"
rootball=$cache/$suite-amd64-minbase-${include//,/-}.tar.gz
if [ ! -s "$rootball" ]; then
	# The mirror this machine's apt uses (deb822 sources or sources.list).
	mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$mirror" ] || { echo "package-test.sh: no Debian mirror in this machine's apt sources" >&2; exit 2; }
	mkdir "$work/boot"
	debootstrap --variant=minbase --include="$include" "$suite" "$work/boot" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$work/debootstrap.log"; exit 1; }
	rm -rf "$work/boot/var/cache/apt/archives/"*.deb "$work/boot/var/lib/apt/lists/"*_Packages
	tar -C "$work/boot" -czf "$rootball.tmp.$$" .
	mv "$rootball.tmp.$$" "$rootball"
	rm -rf "$work/boot"
	ok "debootstrap $suite into $rootball"
fi
mkdir "$root"
tar -C "$root" -xzf "$rootball"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" "$@"; }
ok "fresh root from $rootball"

step "install $(basename "$amd64")"
cp "$amd64" "$root/tmp/doorhub.deb"
check "dpkg -i" in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/doorhub.deb
check "dpkg says installed" in_root dpkg-query -W -f='${Status} ${Version}\n' doorhub

# mode owner group path
while read -r want path; do
	got=$(in_root stat -c '%a:%U:%G' "$path" 2>/dev/null || echo missing)
	if [ "$got" = "$want" ]; then ok "$path $got"; else fail "$path is $got, want $want"; fi
done <<'EOF'
755:root:root /usr/sbin/doorhubd
755:root:root /usr/bin/doorhub
644:root:root /lib/systemd/system/doorhub.service
644:root:root /lib/udev/rules.d/60-doorhub.rules
644:root:root /etc/doorhub/doorhub.yaml
755:root:root /etc/doorhub/conf.d
640:root:doorhub /etc/doorhub/token
750:doorhub:doorhub /var/lib/doorhub
644:root:root /usr/share/man/man8/doorhubd.8.gz
644:root:root /usr/share/man/man1/doorhub.1.gz
644:root:root /usr/share/doc/doorhub/copyright
644:root:root /usr/share/doc/doorhub/changelog.Debian.gz
EOF
check "token is 64 hex digits" grep -qxE '[0-9a-f]{64}' "$root/etc/doorhub/token"

pw=$(in_root getent passwd doorhub || true)
IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
if [ -n "$pw" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/doorhub ] && [ "$shell" = /usr/sbin/nologin ]; then
	ok "system user doorhub ($pw)"
else
	fail "user doorhub: '$pw'"
fi
groups=$(in_root id -nG doorhub 2>&1 || true)
if [[ " $groups " == *" dialout "* && " $groups " == *" doorhub "* ]]; then ok "doorhub in groups: $groups"; else fail "doorhub groups: $groups"; fi

if [ "$(readlink "$root/etc/systemd/system/multi-user.target.wants/doorhub.service")" = /lib/systemd/system/doorhub.service ]; then
	ok "doorhub.service enabled (multi-user.target.wants)"
else
	fail "doorhub.service not enabled"
fi
# Documentation= needs man(1), which a minimal root does not have; the
# pages themselves are checked above.
check "systemd-analyze verify doorhub.service" in_root systemd-analyze verify --man=no /lib/systemd/system/doorhub.service
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' doorhub)
if grep -q '^ /etc/doorhub/doorhub.yaml [0-9a-f]\{32\}$' <<<"$conffiles"; then ok "conffile registered:$conffiles"; else fail "conffiles: $conffiles"; fi

v=$(in_root /usr/sbin/doorhubd --version 2>&1 || true)
if [ "$v" = "doorhubd ${version%-*}" ]; then ok "doorhubd --version: $v"; else fail "doorhubd --version: '$v', want doorhubd ${version%-*}"; fi
check "doorhubd --check-config (shipped config, as doorhub, as ExecStartPre does)" \
	in_root setpriv --reuid=doorhub --regid=doorhub --init-groups /usr/sbin/doorhubd --check-config --config /etc/doorhub/doorhub.yaml

# The daemon from the installed files, as its user, with the shipped
# config; the status endpoint on a free loopback port instead of 8765.
mkdir -p "$root/run/doorhub" && in_root chown doorhub:doorhub /run/doorhub
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DOORHUB_STATUS_LISTEN=127.0.0.1:0 \
	chroot "$root" setpriv --reuid=doorhub --regid=doorhub --init-groups \
	/usr/sbin/doorhubd --config /etc/doorhub/doorhub.yaml >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
	grep -q 'msg=ready' "$work/daemon.log" && break
	sleep 0.1
done
if grep -q 'msg=ready' "$work/daemon.log"; then ok "doorhubd started as doorhub (msg=ready)"; else fail "doorhubd did not start:"$'\n'"$(cat "$work/daemon.log")"; fi
kill -TERM "$daemon_pid" 2>/dev/null || true
if wait "$daemon_pid"; then ok "doorhubd stopped on SIGTERM, exit 0"; else fail "doorhubd exit $? on SIGTERM:"$'\n'"$(tail -n 5 "$work/daemon.log")"; fi
daemon_pid=
got=$(in_root stat -c '%U:%G' /var/lib/doorhub/db 2>/dev/null || echo missing)
if [ "$got" = doorhub:doorhub ]; then ok "database /var/lib/doorhub/db owned by $got"; else fail "database owner $got"; fi

step "upgrade over itself with an edited config"
printf '\n# edited by the installer\nlog:\n  level: debug\n' >>"$root/etc/doorhub/doorhub.yaml"
edited=$(sha256sum <"$root/etc/doorhub/doorhub.yaml")
token=$(cat "$root/etc/doorhub/token")
check "dpkg -i again (no prompt: stdin closed)" in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/doorhub.deb </dev/null
if [ "$(sha256sum <"$root/etc/doorhub/doorhub.yaml")" = "$edited" ]; then ok "edited config kept"; else fail "edited config changed by the upgrade"; fi
if [ "$(cat "$root/etc/doorhub/token")" = "$token" ]; then ok "token kept"; else fail "token changed by the upgrade"; fi
check "database kept" test -d "$root/var/lib/doorhub/db"
check "doorhubd --check-config accepts the edited config" in_root /usr/sbin/doorhubd --check-config

step "remove, then purge"
check "dpkg -r" in_root dpkg -r doorhub
check "binaries gone" test ! -e "$root/usr/sbin/doorhubd" -a ! -e "$root/usr/bin/doorhub"
check "config kept after remove" test -f "$root/etc/doorhub/doorhub.yaml"
check "state kept after remove" test -d "$root/var/lib/doorhub/db"
check "dpkg -P" in_root dpkg -P doorhub
check "state gone after purge" test ! -e "$root/var/lib/doorhub"
check "config gone after purge" test ! -e "$root/etc/doorhub"
check "unit no longer enabled" test ! -e "$root/etc/systemd/system/multi-user.target.wants/doorhub.service"
if in_root dpkg-query -W -f='${Status}\n' doorhub 2>/dev/null | grep -q installed; then fail "dpkg still knows doorhub"; else ok "dpkg forgot doorhub"; fi
check "the user stays (as Debian's daemons leave theirs)" in_root getent passwd doorhub
check "install again after purge" in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/doorhub.deb
check "a new token" grep -qxE '[0-9a-f]{64}' "$root/etc/doorhub/token"
umount -l "$root/proc"

# The same root booted with systemd as PID 1 (systemd-nspawn, its own
# network namespace so port 8765 is its own). A unit inside runs
# boot-test.sh after doorhub.service, writes its findings and powers off.
step "doorhub.service under systemd (systemd-nspawn --boot)"
if ! command -v systemd-nspawn >/dev/null ||
	! timeout 30 systemd-nspawn -q -D "$root" --register=no --keep-unit --private-network --pipe /bin/true >/dev/null 2>&1; then
	echo "SKIP this machine cannot run a systemd-nspawn container: no boot test"
else
	install -m 0755 "$(dirname "$0")/boot-test.sh" "$root/usr/local/sbin/doorhub-boot-test"
	cat >"$root/etc/systemd/system/doorhub-boot-test.service" <<'EOF2'
[Unit]
Description=doorhub package test under systemd
After=doorhub.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/doorhub-boot-test
ExecStartPost=/bin/systemctl --no-block poweroff
StandardOutput=journal+console
EOF2
	ln -sf /etc/systemd/system/doorhub-boot-test.service "$root/etc/systemd/system/multi-user.target.wants/"
	# A short watchdog, so that the test sees it kept alive and firing in
	# seconds; the shipped unit's values otherwise.
	mkdir -p "$root/etc/systemd/system/doorhub.service.d"
	printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=3s\nRestartSec=1s\n' >"$root/etc/systemd/system/doorhub.service.d/test.conf"
	rm -f "$root/boot-test.result"
	timeout 180 systemd-nspawn -q -D "$root" --register=no --keep-unit --private-network --boot >"$work/boot.log" 2>&1 || true
	if [ -s "$root/boot-test.result" ]; then
		while read -r verdict line; do
			case $verdict in
			ok) ok "systemd: $line" ;;
			*) fail "systemd: $line" ;;
			esac
		done <"$root/boot-test.result"
	else
		fail "the container wrote no result:"$'\n'"$(tail -n 30 "$work/boot.log")"
	fi
fi

step "arm64 and armhf under qemu-user"
cat >"$work/arm.yaml" <<EOF
hub_id: hub-qemu
state_dir: $work/arm-state
radio: {port: /dev/null}
status: {listen: "127.0.0.1:0", socket: "", token_file: ""}
EOF
for a in arm64:qemu-aarch64-static:"$arm64" armhf:qemu-arm-static:"$armhf"; do
	IFS=: read -r arch qemu deb <<<"$a"
	x=$work/$arch
	dpkg-deb -x "$deb" "$x"
	want=$(dpkg-deb -f "$deb" Version)
	got=$(file -b "$x/usr/sbin/doorhubd")
	ok "$arch doorhubd: ${got%%, Go BuildID*}"
	v=$(env -i "$qemu" "$x/usr/sbin/doorhubd" --version 2>&1 || true)
	if [ "$v" = "doorhubd ${want%-*}" ]; then ok "$arch doorhubd --version: $v"; else fail "$arch doorhubd --version: '$v'"; fi
	check "$arch doorhub --version" env -i "$qemu" "$x/usr/bin/doorhub" --version
	check "$arch doorhubd --check-config" env -i "$qemu" "$x/usr/sbin/doorhubd" --check-config --config "$work/arm.yaml"
	check "$arch doorhubd --check-config accepts the shipped config" \
		env -i "$qemu" "$x/usr/sbin/doorhubd" --check-config --config "$x/etc/doorhub/doorhub.yaml"
	printf 'hub_id: ""\nradio: {baud: 7}\n' >"$work/bad.yaml"
	if env -i "$qemu" "$x/usr/sbin/doorhubd" --check-config --config "$work/bad.yaml" >"$work/bad.out" 2>&1; then
		fail "$arch doorhubd --check-config accepted a bad config"
	elif grep -q 'radio.baud' "$work/bad.out" && grep -q 'hub_id' "$work/bad.out"; then
		ok "$arch doorhubd --check-config refuses a bad config, naming each field"
	else
		fail "$arch doorhubd --check-config on a bad config: $(cat "$work/bad.out")"
	fi
	rm -rf "$work/arm-state"
	env -i "$qemu" "$x/usr/sbin/doorhubd" --config "$work/arm.yaml" >"$work/$arch.log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 300); do
		grep -q 'msg=ready' "$work/$arch.log" && break
		sleep 0.1
	done
	if grep -q 'msg=ready' "$work/$arch.log"; then ok "$arch doorhubd opened its store and came up"; else fail "$arch doorhubd did not come up:"$'\n'"$(tail -n 20 "$work/$arch.log")"; fi
	kill -TERM "$daemon_pid" 2>/dev/null || true
	if wait "$daemon_pid"; then ok "$arch doorhubd stopped, exit 0"; else fail "$arch doorhubd exit $? on SIGTERM:"$'\n'"$(tail -n 5 "$work/$arch.log")"; fi
	daemon_pid=
done

printf '\npackage-test: %ss\n%d passed, %d failed\n' "$(($(date +%s) - t0))" "$passes" "$fails"
[ "$fails" = 0 ]

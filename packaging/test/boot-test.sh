#!/bin/bash
# boot-test.sh runs inside a container booted with systemd (package-test.sh)
# after doorhub.service started from the installed package with a 2 s
# watchdog. It writes "ok ..." or "FAIL ..." lines to /boot-test.result.
set -u
out=/boot-test.result
: >"$out.tmp"
ok() { echo "ok $*" >>"$out.tmp"; }
fail() { echo "FAIL $*" >>"$out.tmp"; }
prop() { systemctl show -P "$1" doorhub.service; }
# until SECONDS COMMAND...: retry COMMAND until it succeeds.
until_ok() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}
http_get() { # PATH -> the status line and body from 127.0.0.1:8765
	exec 3<>/dev/tcp/127.0.0.1/8765 || return 1
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3
	cat <&3
	exec 3<&-
}

# Type=notify: "active" only once the daemon sent READY=1.
if until_ok 30 systemctl is-active --quiet doorhub; then
	ok "doorhub.service active (READY=1 received; started by the package's enable and the boot)"
else
	fail "doorhub.service not active: $(systemctl status doorhub --no-pager 2>&1 | tail -n 15)"
fi
status=$(prop StatusText)
case $status in
"ready: new-hub, store version 0"*) ok "STATUS= line: $status" ;;
*) fail "STATUS= line: '$status'" ;;
esac
[ "$(prop User)" = doorhub ] && ok "runs as User=doorhub" || fail "User=$(prop User)"
pid=$(prop MainPID)
if grep -q "^Uid:.*\b$(id -u doorhub)\b" "/proc/$pid/status" && id -nG doorhub | grep -qw dialout; then
	ok "main process $pid has the doorhub uid; doorhub is in dialout"
else
	fail "main process $pid credentials: $(grep -E '^(Uid|Gid|Groups)' "/proc/$pid/status" | tr '\n' ' ')"
fi

livez=$(http_get /livez 2>&1)
case $livez in
"HTTP/1.0 200"* | "HTTP/1.1 200"*) ok "status page answers: GET /livez 200" ;;
*) fail "GET /livez: $livez" ;;
esac
if doors=$(doorhub doors --json 2>&1) || doors=$(doorhub doors 2>&1); then
	ok "doorhub doors (the CLI through /run/doorhub/doorhub.sock with the package's token): $(echo "$doors" | head -c 80)"
else
	fail "doorhub doors: $doors"
fi

# Watchdog: WatchdogSec=2s; over 6 s the daemon keeps pinging.
restarts=$(prop NRestarts)
sleep 6
if [ "$(prop MainPID)" = "$pid" ] && [ "$(prop NRestarts)" = "$restarts" ] && systemctl is-active --quiet doorhub; then
	ok "watchdog kept it alive: same pid $pid after 3 watchdog periods"
else
	fail "watchdog: pid $pid -> $(prop MainPID), restarts $restarts -> $(prop NRestarts)"
fi

# SIGKILL: Restart=on-failure brings it back.
systemctl kill --kill-whom=main --signal=KILL doorhub
if until_ok 20 sh -c "[ \"\$(systemctl show -P NRestarts doorhub)\" = $((restarts + 1)) ] && systemctl is-active --quiet doorhub"; then
	ok "SIGKILL -> restarted (pid $pid -> $(prop MainPID), NRestarts $(prop NRestarts))"
else
	fail "after SIGKILL: $(prop ActiveState) pid $(prop MainPID) NRestarts $(prop NRestarts)"
fi

# A hung daemon (stopped with SIGSTOP) sends no pings: the watchdog
# aborts it and systemd restarts it.
pid=$(prop MainPID)
kill -STOP "$pid"
if until_ok 30 sh -c "[ \"\$(systemctl show -P NRestarts doorhub)\" = $((restarts + 2)) ] && systemctl is-active --quiet doorhub"; then
	ok "hung daemon -> watchdog timeout -> restarted ($(journalctl -u doorhub --no-pager -o cat | grep -m1 -i 'watchdog timeout'))"
else
	fail "after SIGSTOP: $(prop ActiveState) NRestarts $(prop NRestarts)"
fi

# Stop: STOPPING=1, then a clean exit.
systemctl stop doorhub
if [ "$(prop Result)" = success ] && [ "$(prop ExecMainStatus)" = 0 ]; then
	ok "systemctl stop: result success, exit status 0"
else
	fail "stop: result $(prop Result), exit $(prop ExecMainStatus)"
fi
score=$(systemd-analyze security doorhub.service 2>/dev/null | tail -n 1)
ok "systemd-analyze security (online, in the container): ${score#→ }"
mv "$out.tmp" "$out"

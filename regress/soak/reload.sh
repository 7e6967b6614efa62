# Soak: reloads under load.  Twenty keep-alive clients send requests
# without a pause while eight CONNECT tunnels carry lines to an echo
# server and back, and the configuration is reloaded RELOADS times (40),
# each time only once the last reload is in force everywhere and the
# load has moved on by 100 requests: not a request may fail, not a
# tunnel be cut, not a child be restarted.  Every destination is allowed
# by both configurations, which differ by a service of their own.
# Before and after the reloads, at rest (the clients gone, the pooled
# upstreams expired, the tunnels still open), the descriptors and the
# resident memory of every process are compared: descriptors must be
# the same in number, memory within 10 % and 2 MiB of what it was.
. "$SRCDIR/regress/e2e/common.sh"

RELOADS=${RELOADS:-40}
P=$(free_port); OP=$(free_port); EP=$(free_port)
start_origin 127.0.0.1 "$OP"
python3 "$SRCDIR/regress/soak/echo.py" 127.0.0.1 "$EP" 1800 > "$T/echo.out" &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 50 grep -q ready "$T/echo.out"

conf() {	# conf N: the configuration of generation parity N
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
pool timeout 1
control socket "$T/egressd.sock"
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1
	allow private
}
service "echo" {
	hosts { "echo.test" }
	port $EP tcp
	resolution static
	endpoint 127.0.0.1
	allow private
}
service "only-in-$1" {
	hosts { "gen$1.test" }
	port 80 http
}
CONF
}
conf 0
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
kids0=$(children_of "$EGD_PID" | sort | tr '\n' ' ')
gen=1

progress() { cat "$1" 2>/dev/null || echo 0; }
moved() {	# moved FILE N: the progress in FILE reached N
	[ "$(progress "$1")" -ge "$2" ]
}
reload() {	# one reload, in force everywhere, and the load moved on
	gen=$((gen + 1))
	conf $((gen % 2))
	want=$(( $(progress "$T/load.progress") + 100 ))
	kill -HUP "$EGD_PID"
	wait_for 200 log_has "reload: generation $gen in force" &&
	    wait_for 300 moved "$T/load.progress" "$want"
}
load() {	# load STOPFILE: the keep-alive clients, in the background
	rm -f "$T/load.progress"
	python3 "$SRCDIR/regress/soak/load.py" "$P" "origin.test:$OP" /small 20 \
	    5000000 1200 "$1" "$T/load.progress" > "$T/load.out" &
	LOAD=$!
	EXTRA_PIDS="$EXTRA_PIDS $LOAD"
}
# What every process holds: "pid fds rss_kB" lines.
holdings() {
	for pid in $EGD_PID $(children_of "$EGD_PID"); do
		echo "$pid $(ls /proc/$pid/fd | wc -l) $(status_field "$pid" VmRSS | sed 's/ kB//')"
	done | sort
}
fds_of() { holdings | awk '{ print $1, $2 }'; }
settled() {	# the descriptors at rest, equal on two looks
	a=$(fds_of); sleep 0.5; b=$(fds_of)
	[ "$a" = "$b" ] && [ "$a" = "${1:-$a}" ]
}

# --- warm-up: load, tunnels, two reloads ---
rm -f "$T/tunnels.stop"
python3 "$SRCDIR/regress/soak/tunnels.py" "$P" "echo.test:$EP" 8 1200 \
    "$T/tunnels.stop" "$T/tunnels.progress" > "$T/tunnels.out" &
TUN=$!
EXTRA_PIDS="$EXTRA_PIDS $TUN"
load "$T/load1.stop"
ok $(wait_for 300 moved "$T/load.progress" 500 &&
    wait_for 300 moved "$T/tunnels.progress" 40; echo $?) "load and tunnels are running"
reload && reload
ok $? "two reloads under load (warm-up, generation $gen)"
touch "$T/load1.stop"
wait "$LOAD"
warm=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], d["failed"])' "$T/load.out")
ok $([ "${warm#* }" = 0 ]; echo $?) "warm-up: no request failed ($warm: ok, failed)"
wait_for 100 settled
holdings > "$T/before"
diag "at rest before: $(tr '\n' ';' < "$T/before")"

# --- the soak ---
load "$T/load2.stop"
wait_for 300 moved "$T/load.progress" 200
# (not "n": wait_for uses it)
reloads=0
while [ "$reloads" -lt "$RELOADS" ] && reload; do
	reloads=$((reloads + 1))
done
ok $([ "$reloads" = "$RELOADS" ] && [ "$(log_count "reload: generation [0-9]* in force")" = $((RELOADS + 2)) ] &&
    ! log_has "not yet in force"; echo $?) \
    "$RELOADS reloads under load, each in force everywhere ($reloads done, generation $gen)"
touch "$T/load2.stop"
wait "$LOAD"
read -r lok lfail lre <<EOF
$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], d["failed"], d["reconnects"])' "$T/load.out")
EOF
ok $([ "$lfail" = 0 ] && [ "$lok" -gt 0 ]; echo $?) \
    "no request failed across the reloads ($lok answered, $lfail failed, $lre reconnections)"
ok $([ "$(children_of "$EGD_PID" | sort | tr '\n' ' ')" = "$kids0" ]; echo $?) "no child was restarted"

# --- at rest again: the same holdings ---
ok $(wait_for 100 settled "$(awk '{ print $1, $2 }' "$T/before")"; echo $?) \
    "every process holds as many descriptors as before the reloads"
holdings > "$T/after"
diag "at rest after:  $(tr '\n' ';' < "$T/after")"
ok $(awk 'NR == FNR { rss[$1] = $3; next }
    { if ($3 > rss[$1] * 1.10 + 2048) { print "# pid " $1 ": " rss[$1] " kB, then " $3 " kB"; bad = 1 } }
    END { exit bad }' "$T/before" "$T/after"; echo $?) \
    "every process's resident memory is within 10 % and 2 MiB of what it was"

# --- the tunnels, still there ---
mid=$(progress "$T/tunnels.progress")
ok $(wait_for 300 moved "$T/tunnels.progress" $((mid + 40)); echo $?) "the tunnels still carry lines after the reloads"
touch "$T/tunnels.stop"
wait "$TUN"
read -r topen ttrips tcut <<EOF
$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["opened"], d["trips"], d["cut"])' "$T/tunnels.out")
EOF
ok $([ "$topen" = 8 ] && [ "$tcut" = 0 ]; echo $?) \
    "8 tunnels across $RELOADS reloads, none cut ($ttrips round trips, $tcut cut)"
[ "$tcut" = 0 ] || sed 's/^/# /' "$T/tunnels.out"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing

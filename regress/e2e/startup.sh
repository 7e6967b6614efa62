# Start-up refusals and the parent's death: a missing user, a chroot that
# others may write or that is not empty, a port already taken, a broken
# file: each a clear one-line error and exit status 1, nothing left
# running.  Children leave when the parent dies.
. "$SRCDIR/regress/e2e/common.sh"

PORT=$(free_port)
conf() {	# conf USER CHROOT
	cat > "$T/egressd.conf" <<CONF
user "$1"
chroot "$2"
workers 1
nameserver 127.0.0.1 port 53
gateway "t" {
	listen on 127.0.0.1 port $PORT http
}
CONF
}
refuses() {	# refuses PATTERN DESCRIPTION
	"$EGRESSD" -d -f "$T/egressd.conf" > "$T/out" 2>&1 &
	pid=$!
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"; wait "$pid"
		fail "$2: egressd refused to start (it kept running)"
		return
	fi
	wait "$pid"; st=$?
	ok $([ "$st" -eq 1 ] && grep -q -- "$1" "$T/out"; echo $?) "$2: exit 1 with '$1' ($(tail -1 "$T/out"))"
}

conf no_such_user_egd "$T/root"
refuses 'user "no_such_user_egd" does not exist' "a missing user"

mkdir -p "$T/open"; chmod 777 "$T/open"
conf "$EGD_USER" "$T/open"
refuses "must be owned by root and writable by nobody else" "a world-writable chroot"

mkdir -p "$T/full"; touch "$T/full/file"
conf "$EGD_USER" "$T/full"
refuses "not empty" "a chroot that is not empty"

conf "$EGD_USER" "relative/path"
refuses "chroot" "a relative chroot"

python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(1); open(sys.argv[2],"w").close(); time.sleep(15)' "$PORT" "$T/taken" &
TAKER=$!; EXTRA_PIDS="$TAKER"
wait_for 50 test -f "$T/taken"
conf "$EGD_USER" "$T/root"
refuses "Address already in use" "a port already taken"
kill "$TAKER"; wait "$TAKER" 2>/dev/null

conf "$EGD_USER" "$T/root"
sed -i "s|port $PORT http|port $PORT https cert \"$T/nonexistent.pem\" key \"$T/nonexistent.key\"|" "$T/egressd.conf"
refuses "nonexistent.pem\": No such file or directory" "an https listener whose certificate is missing"

printf 'workers 0\n' > "$T/egressd.conf"
refuses "egressd.conf:1: " "a broken file"

# The parent dies: its children follow.
conf "$EGD_USER" "$T/root"
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
kids=$(children_of "$EGD_PID")
kill -KILL "$EGD_PID"; wait "$EGD_PID" 2>/dev/null
gone() { for c in $kids; do kill -0 "$c" 2>/dev/null && return 1; done; return 0; }
ok $(wait_for 50 gone; echo $?) "children exit when the parent is killed ($kids)"
EGD_PID=
done_testing

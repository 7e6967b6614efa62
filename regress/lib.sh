# Shared shell helpers for the regress/ drivers: TAP output, scratch
# directories, starting and stopping what a test started (by PID only).
set -u
: "${SRCDIR:?}" "${EGRESSD:?}"
# The suite's peers and clients are Debian's (autogen.sh --deps installs
# them): their directories come first, ahead of a user's shims (a pyenv
# python3 shim takes seconds to start on a loaded machine).
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export PATH
T_N=0
T_FAILED=0
ok() {	# ok CONDITION-STATUS DESCRIPTION
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then echo "ok $T_N - $2"
	else echo "not ok $T_N - $2"; T_FAILED=$((T_FAILED + 1)); fi
}
pass() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
fail() { T_N=$((T_N + 1)); echo "not ok $T_N - $1"; T_FAILED=$((T_FAILED + 1)); }
skip() { T_N=$((T_N + 1)); echo "ok $T_N # skip $1"; }
diag() { echo "# $*"; }
done_testing() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; }

#!/bin/sh
# Prepares a checkout for ./configure.  With --deps (as root on Debian 12)
# it first installs what egressd needs to build and to run its tests, and
# creates the unprivileged system user egressd's children run as.
set -e
cd "$(dirname "$0")"
if [ "${1:-}" = --deps ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# build: toolchain, autotools, bison and the libraries (libyaml for
	#        egressctl import istio)
	# tests: real peers and clients (curl, openssl, dnsmasq, nginx,
	#        rsyslog), python3 for small helpers, systemd-container for
	#        the unit tests in a throw-away container, mandoc for lint,
	#        nftables for the shipped rulesets in transparent mode
	# package: debhelper, lintian and debootstrap for the Debian package
	#        and its test (regress/e2e/package.sh);
	#        debian/control's build dependencies are the build's above
	# fuzz:  clang and its libFuzzer runtime (make fuzz)
	apt-get install -y -q --no-install-recommends \
	    build-essential autoconf automake pkg-config bison \
	    libevent-dev libssl-dev libseccomp-dev libcap-ng-dev node-llhttp \
	    libyaml-dev \
	    curl openssl ca-certificates python3 procps iproute2 \
	    dnsmasq-base nginx-light rsyslog mandoc libivykis0 libnet1 libwrap0 \
	    systemd-container nftables git debhelper lintian debootstrap \
	    clang libclang-rt-14-dev
	if ! getent passwd _egressd >/dev/null; then
		useradd --system --no-create-home --home-dir /var/empty \
		    --shell /usr/sbin/nologin _egressd
	fi
fi
autoreconf -fi

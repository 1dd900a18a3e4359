#! /usr/bin/env atf-sh
# hyve's command line for virtio-net, virtio-rng and virtio-console: bad
# options give one line and exit 64; virtio-net opens its tap (inside a
# network namespace this test creates and deletes; never the host's).

hyve() { echo "$(atf_get_srcdir)/../../hyve"; }

# A kernel that writes 0 to isa-debug-exit (hyve exits 1), or spins.
mkkernel() {
	if [ "$1" = exit ]; then
		printf '\t.globl _start\n_start:\n\tmovb $0, %%al\n\toutb %%al, $0xf4\n\thlt\n' > k.S
	else
		printf '\t.globl _start\n_start:\n1:\tpause\n\tjmp 1b\n' > k.S
	fi
	cc -nostdlib -static -no-pie -Wl,-Ttext=0x200000 -Wl,--build-id=none \
	    -Wl,-z,noexecstack -o k.elf k.S || atf_fail "cannot build a test kernel"
}

need() {
	[ -x "$(hyve)" ] || atf_skip "$(hyve) not built"
	[ -c /dev/kvm ] && [ -w /dev/kvm ] || atf_skip "no usable /dev/kvm"
	command -v cc >/dev/null || atf_skip "no C compiler for the test kernel"
}

# usage ERROR-SUBSTRING -s ARGS...: exit 64 with exactly one line naming it
bad() {
	want=$1; shift
	"$(hyve)" "$@" -k k.elf "cli$$" >out 2>err
	st=$?
	[ "$st" -eq 64 ] || { cat err; atf_fail "exit $st for: $*"; }
	[ "$(wc -l <err)" -eq 1 ] || { cat err; atf_fail "not one line: $*"; }
	grep -q -- "$want" err || { cat err; atf_fail "no '$want' in: $(cat err)"; }
}

atf_test_case bad_options
bad_options_head() {
	atf_set descr "Bad virtio-net/rng/console options: one line, exit 64"
	atf_set require.progs cc
}
bad_options_body() {
	need
	mkkernel exit
	bad "no backend" -s 3,virtio-net
	bad "unknown option 'bogus'" -s 3,virtio-net,tap=vt0,bogus
	bad "bad mac=01:00:5e:00:00:01" -s 3,virtio-net,tap0,mac=01:00:5e:00:00:01
	bad "bad queues=9" -s 3,virtio-net,tap=vt0,queues=9
	bad "bad tap name" -s 3,virtio-net,tap=abcdefghijklmnopq
	bad "more than one backend" -s 3,virtio-net,tap0,tap1
	bad "fd=77" -s 3,virtio-net,fd=77
	bad "virtio-rng: takes no options" -s 3,virtio-rng,x
	bad "virtio-console: one backend only" -s 3,virtio-console,stdio,null
	bad "virtio-console: /nonexistent/x" -s 3,virtio-console,/nonexistent/x
	# And good ones start the guest.
	atf_check -s exit:1 -e ignore "$(hyve)" -s 3,virtio-rng \
	    -s 4,virtio-console,./con.out -k k.elf "cli$$"
	atf_check test -f con.out
}

atf_test_case tap cleanup
tap_head() {
	atf_set descr "virtio-net opens a tap with virtio headers (tap=NAME" \
	    "and bhyve's tapN) inside a private network namespace"
	atf_set require.user root
	atf_set require.progs "cc ip timeout"
	atf_set timeout 60
}
tap_body() {
	need
	[ -c /dev/net/tun ] || atf_skip "no /dev/net/tun"
	ns="hyve-t$$"
	echo "$ns" >netns
	ip netns add "$ns" || atf_skip "cannot create a network namespace"
	mkkernel spin
	# tap=NAME: hyve creates it, with IFF_VNET_HDR, and it goes with hyve.
	ip netns exec "$ns" timeout 20 "$(hyve)" -s 3,virtio-net,tap=vt0 \
	    -k k.elf "tap$$" 2>err &
	pid=$!
	ok=no
	for i in $(seq 50); do
		if ip -n "$ns" -d link show vt0 >link 2>/dev/null; then
			ok=yes; break
		fi
		sleep 0.1
	done
	[ $ok = yes ] || { kill $pid; cat err; atf_fail "no tap vt0 appeared"; }
	grep -q "tun type tap" link || { kill $pid; cat link; atf_fail "not a tap"; }
	grep -q "vnet_hdr on" link || { kill $pid; cat link; atf_fail "no vnet_hdr"; }
	kill $pid
	wait $pid || true
	for i in $(seq 20); do
		ip -n "$ns" link show vt0 >/dev/null 2>&1 || break
		sleep 0.1
	done
	atf_check -s not-exit:0 -e ignore ip -n "$ns" link show vt0
	# bhyve's spelling, on a tap that already exists.
	atf_check ip -n "$ns" tuntap add dev tap0 mode tap
	ip netns exec "$ns" timeout 20 "$(hyve)" -s 3,virtio-net,tap0 \
	    -k k.elf "tap$$" 2>err &
	pid=$!
	ok=no
	for i in $(seq 50); do
		ip -n "$ns" -d link show tap0 >link 2>/dev/null
		if grep -q "vnet_hdr on" link; then ok=yes; break; fi
		sleep 0.1
	done
	kill $pid
	wait $pid || true
	[ $ok = yes ] || { cat err link; atf_fail "hyve did not attach to tap0"; }
	# A tap name that is not a tap: one line, exit 64.
	mkkernel exit
	atf_check -s exit:64 -e match:"virtio-net: tap lo" \
	    ip netns exec "$ns" "$(hyve)" -s 3,virtio-net,tap=lo -k k.elf "tap$$"
}
tap_cleanup() {
	[ -f netns ] && ip netns del "$(cat netns)" 2>/dev/null
	true
}

atf_init_test_cases() {
	atf_add_test_case bad_options
	atf_add_test_case tap
}

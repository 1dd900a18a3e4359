# guests/linux: the standard Linux guest (Debian's generic kernel, a
# busybox-static initramfs with the virtio modules, fio, iperf3 and the
# script runner), built into $(BUILD)/guests/linux; rebuilt only when an
# input changes (content hash in initramfs.cpio.gz.hash).
.PHONY: linux-guest test-linux-guest
linux-guest:
	@guests/linux/build-linux-guest $(BUILD)

test-linux-guest:
	BUILD=$(BUILD) guests/linux/test-linux-guest

TEST_TARGETS += test-linux-guest

# guests/linux/run-workload (man/run-workload.8): its command-line errors
# and two boots under QEMU TCG (about 45 s); the buildworld guest image
# (guests/linux/build-buildworld-image, 2.5 GiB) is built by make bench
# when it needs it, never by make test.
.PHONY: test-run-workload buildworld-image
test-run-workload:
	BUILD=$(BUILD) guests/linux/test-run-workload

buildworld-image:
	@guests/linux/build-buildworld-image $(BUILD) >/dev/null

TEST_TARGETS += test-run-workload

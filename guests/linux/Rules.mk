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

# kmod/lab: putting a kernel and hypervisor-module build under test into the
# lab (make lab KERNEL=path/to/bzImage MODULES=path/to/modules).
.PHONY: test-lab-kernel
test-lab-kernel:
	BUILD=$(BUILD) kmod/lab/test-kernel-under-test

TEST_TARGETS += test-lab-kernel

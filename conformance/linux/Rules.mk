# conformance/linux: the standard Linux guest under hyve (linux_test, run by
# Kyua with the rest of the suite; it skips where /dev/kvm cannot run stock
# Linux, such as this project's kvm_pvm host, and runs in the lab).
#   make lab-linux     the lab checks and conformance/linux only, in the lab
#   make lab-peer      the guest under hyve and under QEMU/KVM in the lab:
#                      results/lab/<UTC start>.json and a table
#                      (LAB_PEER_REPS runs each, default 1)
#   make test-lab-tier the whole lab tier (make lab), part of make test
LAB_PEER_REPS    ?= 1
LAB_PEER_TIMEOUT ?= 1200

.PHONY: lab-linux lab-peer test-lab-tier
lab-linux: all linux-guest
	BUILD=$(BUILD) guests/lab/lab-tier -t $(LAB_TIMEOUT) -o $(LAB_OUT) \
	  -j $(LAB_JUNIT) conformance/linux/Kyuafile

lab-peer: all linux-guest
	BUILD=$(BUILD) conformance/linux/lab-peer -r $(LAB_PEER_REPS) \
	  -t $(LAB_PEER_TIMEOUT)

# The whole lab tier (the lab checks and every conformance subfolder,
# conformance/linux included), in one-CPU labs side by side, each bounded by
# LAB_TIMEOUT: about 16 minutes on the 2-core host (see README).
test-lab-tier:
	$(MAKE) --no-print-directory lab

TEST_TARGETS += test-lab-tier

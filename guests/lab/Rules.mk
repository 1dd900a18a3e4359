# guests/lab: the lab machine (QEMU TCG with SVM/NPT, an Intel IOMMU and an
# e1000e, booted from Debian's kernel or a kernel under test).
#   make lab [KERNEL=bzImage MODULES=dir] [LAB_KYUAFILE=...] [LAB_TIMEOUT=s]
#            [LAB_LABS=n]  (labs side by side; default one per core, max 4)
#   make lab-run LAB_CMD='command args' [KERNEL=... MODULES=...]
LAB_TIMEOUT  ?= 2100
LAB_OUT      ?= $(BUILD)/lab/out
LAB_KYUAFILE ?= conformance/Kyuafile
LAB_JUNIT    ?= results/lab-junit.xml
LAB_CMD      ?= guests/lab/lab-check
LAB_OPTS      = -t $(LAB_TIMEOUT) -o $(LAB_OUT) $(if $(KERNEL),-k $(KERNEL)) \
		$(if $(MODULES),-M $(MODULES))

.PHONY: lab lab-run test-lab
lab: all linux-guest
	BUILD=$(BUILD) guests/lab/lab-tier $(LAB_OPTS) $(if $(LAB_LABS),-n $(LAB_LABS)) \
	  -j $(LAB_JUNIT) $(LAB_KYUAFILE)

lab-run:
	BUILD=$(BUILD) guests/lab/run-in-lab -v $(LAB_OPTS) -- $(LAB_CMD)

test-lab:
	BUILD=$(BUILD) guests/lab/test-lab

TEST_TARGETS += test-lab

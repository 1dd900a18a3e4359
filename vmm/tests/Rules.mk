# C unit tests (atf-c), run with kyua from the build folder.
UNIT_TESTS := t_config t_bus t_loader t_devices t_platform t_pci t_virtqueue t_linux t_vnet t_vrng t_vcon t_virtio_blk \
	t_virtio_legacy
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/vmm/tests/%)
ATF_LIBS   := $(shell pkg-config --libs atf-c 2>/dev/null || echo -latf-c)

$(BUILD)/vmm/tests/%: $(BUILD)/vmm/tests/%.o $(BUILD)/vmm/tests/fakevm.o \
    $(CORE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(ATF_LIBS) $(LDLIBS)

$(BUILD)/vmm/tests/Kyuafile: vmm/tests/Kyuafile
	@mkdir -p $(@D)
	cp $< $@

ALL_TARGETS += $(UNIT_BINS) $(BUILD)/vmm/tests/Kyuafile

.PHONY: test-unit
test-unit: $(UNIT_BINS) $(BUILD)/vmm/tests/Kyuafile
	rm -f $(BUILD)/vmm/tests/results.db
	cd $(BUILD)/vmm/tests && kyua --config=none test \
	  --results-file=$(CURDIR)/$(BUILD)/vmm/tests/results.db \
	  --build-root=. --kyuafile=Kyuafile || \
	  { kyua report --results-file=$(CURDIR)/$(BUILD)/vmm/tests/results.db \
	    --verbose --results-filter=broken,failed; exit 1; }
TEST_TARGETS += test-unit
.SECONDARY:
ASAN_TARGETS += test-unit

# The same unit tests under valgrind's memcheck, and hyve itself running
# test kernels that exercise CPUID, port I/O, MMIO, MSRs and exceptions.
VALGRIND_KERNELS := cpuid pio mmio
.PHONY: test-valgrind
test-valgrind: $(UNIT_BINS) $(BUILD)/hyve \
    $(VALGRIND_KERNELS:%=$(BUILD)/guests/unit/%.elf)
	ci/valgrind-atf $(UNIT_BINS)
	ci/if-kvm "$@ (hyve under memcheck)" ci/valgrind-hyve $(BUILD)/hyve \
	  $(VALGRIND_KERNELS:%=$(BUILD)/guests/unit/%.elf)
TEST_TARGETS += test-valgrind

# The virtio device tests share a minimal driver (vdrv.c); t_vdev_cli is an
# atf-sh program that runs $(BUILD)/hyve.
VDRV_TESTS := $(addprefix $(BUILD)/vmm/tests/,t_vnet t_vrng t_vcon t_virtio_legacy)
$(VDRV_TESTS): $(BUILD)/vmm/tests/vdrv.o
$(BUILD)/vmm/tests/t_vdev_cli: vmm/tests/t_vdev_cli.sh $(BUILD)/hyve
	@mkdir -p $(@D)
	cp $< $@
	chmod +x $@
ALL_TARGETS += $(BUILD)/vmm/tests/t_vdev_cli
test-unit: $(BUILD)/vmm/tests/t_vdev_cli

# The VMM core (everything but the program mains) is linked as objects, not
# an archive, so that self-registering devices are never dropped.
VMM_MAINS := vmm/hyve.c vmm/hyvectl.c
VMM_SRCS  := $(filter-out $(VMM_MAINS),$(wildcard vmm/*.c))
VMM_OBJS  := $(VMM_SRCS:%.c=$(BUILD)/%.o)
CORE_OBJS := $(VMM_OBJS) $(DEVICE_OBJS) $(KMOD_OBJS)

$(BUILD)/hyve: $(BUILD)/vmm/hyve.o $(CORE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

ALL_TARGETS += $(BUILD)/hyve

# The version string follows git: version.txt is rewritten only when
# `git describe` changes, so an unchanged tree relinks nothing.
HYVE_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(shell mkdir -p $(BUILD)/vmm; \
  [ "$$(cat $(BUILD)/vmm/version.txt 2>/dev/null)" = "$(HYVE_VERSION)" ] || \
  echo "$(HYVE_VERSION)" >$(BUILD)/vmm/version.txt)
$(BUILD)/vmm/version.o: vmm/version.c $(BUILD)/vmm/version.txt
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DHYVE_VERSION='"$(HYVE_VERSION)"' -c -o $@ $<

# hyvectl needs the control protocol, the register names, the socket paths
# and the capability probe; linking the core keeps it simple and complete.
$(BUILD)/hyvectl: $(BUILD)/vmm/hyvectl.o $(CORE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

ALL_TARGETS += $(BUILD)/hyvectl

# The DSDT: ASL compiled by iasl (acpica-tools) into a C array.
$(BUILD)/vmm/dsdt.hex: vmm/dsdt.asl
	@mkdir -p $(@D)
	iasl -vs -vi -p $(BUILD)/vmm/dsdt -tc $< >/dev/null
	@rm -f $(BUILD)/vmm/dsdt.aml

$(BUILD)/vmm/dsdt_aml.o: vmm/dsdt_aml.c $(BUILD)/vmm/dsdt.hex
	$(CC) $(CFLAGS) -I$(BUILD)/vmm -c -o $@ $<

# kmod/floor: exitfloor, the minimal KVM_RUN loop that bench/exits compares
# hyve with.  It calls the kvm ioctls itself, so it lives under kmod/.
EXITFLOOR := $(BUILD)/kmod/exitfloor

$(EXITFLOOR): $(BUILD)/kmod/floor/exitfloor.o $(BUILD)/kmod/floor/floorlib.o
	$(CC) $(LDFLAGS) -o $@ $^

ALL_TARGETS += $(EXITFLOOR)

# ipifloor: the multi-vCPU floor that bench/ipi compares hyve with.
IPIFLOOR := $(BUILD)/kmod/ipifloor

$(IPIFLOOR): $(BUILD)/kmod/floor/ipifloor.o $(BUILD)/kmod/floor/floorlib.o
	$(CC) $(LDFLAGS) -o $@ $^ -pthread

ALL_TARGETS += $(IPIFLOOR)

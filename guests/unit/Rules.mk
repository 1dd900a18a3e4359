# Freestanding test kernels (guests/unit/): built by the host gcc, linked at
# 1 MiB.  NAME.elf is the ELF64 that hyve enters in long mode; NAME.flat is
# the same image as an ELF32 Multiboot kernel (entry _start32) for QEMU.

UNIT_DIR     := guests/unit
UNIT_BUILD   := $(BUILD)/guests/unit
UNIT_KERNELS := cpuid msr pio mmio hlt exc hltcli triple wild chaos \
	msi vblk vnet vmisc vlegacy
UNIT_KERNELS += apic smp ipibench
UNIT_LIB_SRCS := $(wildcard $(UNIT_DIR)/lib/*.c) $(wildcard $(UNIT_DIR)/lib/*.S)
UNIT_LIB_OBJS := $(patsubst $(UNIT_DIR)/%,$(UNIT_BUILD)/%.o,$(basename $(UNIT_LIB_SRCS)))
UNIT_ELFS    := $(UNIT_KERNELS:%=$(UNIT_BUILD)/%.elf)
UNIT_FLATS   := $(UNIT_KERNELS:%=$(UNIT_BUILD)/%.flat)

UNIT_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -ffreestanding -nostdlib -fno-pic -fno-pie -static \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector -O2 -g \
	-fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables \
	-fno-omit-frame-pointer -fno-toplevel-reorder -I. -I$(UNIT_DIR)/lib -MMD -MP
UNIT_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(UNIT_DIR)/link.ld \
	-Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack

$(UNIT_BUILD)/%.o: $(UNIT_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -c -o $@ $<

$(UNIT_BUILD)/%.o: $(UNIT_DIR)/%.S
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) -c -o $@ $<

$(UNIT_BUILD)/%.elf: $(UNIT_BUILD)/%.o $(UNIT_LIB_OBJS) $(UNIT_DIR)/link.ld
	$(CC) $(UNIT_CFLAGS) $(UNIT_LDFLAGS) -o $@ $< $(UNIT_LIB_OBJS)

# The Multiboot loader uses e_entry, so the ELF32 starts at _start32.
$(UNIT_BUILD)/%.flat: $(UNIT_BUILD)/%.elf
	objcopy -O elf32-i386 \
	  --set-start=0x$$(nm $< | awk '$$3 == "_start32" { print $$1 }') $< $@

.PRECIOUS: $(UNIT_BUILD)/%.o

ALL_TARGETS += $(UNIT_ELFS) $(UNIT_FLATS)

# Side by side: every kernel that needs no hyve-only device, under QEMU TCG.
.PHONY: unit-qemu
unit-qemu: $(UNIT_FLATS)
	$(UNIT_DIR)/run-qemu $(UNIT_BUILD)

TEST_TARGETS += unit-qemu

# bench/exits: the exit-cost micro-benchmark (see bench/exits/README.md).
# The guest is a freestanding ELF64 built with the host gcc; the runner runs
# it under build/hyve and under the floor (kmod/floor) and writes a JSON.

EXITS_GUEST_DIR  := $(BUILD)/bench/exits
EXITS_GUEST      := $(EXITS_GUEST_DIR)/exits.elf
EXITS_GUEST_SRCS := bench/exits/guest/entry.S bench/exits/guest/bench.c
EXITS_GUEST_OBJS := $(EXITS_GUEST_DIR)/guest/entry.o \
	$(EXITS_GUEST_DIR)/guest/bench.o
EXITS_GUEST_CFLAGS := -std=c11 -Wall -Wextra -Werror -O2 -g -I. -MMD -MP \
	-ffreestanding -nostdlib -fno-pic -fno-pie -static -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fcf-protection=none -fno-builtin

$(EXITS_GUEST_DIR)/guest/%.o: bench/exits/guest/%.c
	@mkdir -p $(@D)
	$(CC) $(EXITS_GUEST_CFLAGS) -c -o $@ $<

$(EXITS_GUEST_DIR)/guest/%.o: bench/exits/guest/%.S
	@mkdir -p $(@D)
	$(CC) $(EXITS_GUEST_CFLAGS) -c -o $@ $<

$(EXITS_GUEST): $(EXITS_GUEST_OBJS) bench/exits/guest/link.ld
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none \
	  -Wl,-T,bench/exits/guest/link.ld -o $@ $(EXITS_GUEST_OBJS)

ALL_TARGETS += $(EXITS_GUEST)

# kmod/floor/Rules.mk is read after this fragment: name the floor directly.
EXITS_FLOOR    := $(BUILD)/kmod/exitfloor
EXITS_RUN_DEPS := $(BUILD)/hyve $(EXITS_FLOOR) $(EXITS_GUEST)
EXITS_RUN_ARGS := --hyve $(BUILD)/hyve --floor $(EXITS_FLOOR) \
	--kernel $(EXITS_GUEST)

# The benchmark: results/exits/<timestamp>.json and a table.
.PHONY: bench-exits test-bench-exits
bench-exits: $(EXITS_RUN_DEPS)
	$(PYTHON) bench/exits/run $(EXITS_RUN_ARGS) --out-dir results/exits

# Sanity check for make test: tiny iteration counts, then the JSON must hold
# every figure above zero and the hyve/floor ratio.
test-bench-exits: $(EXITS_RUN_DEPS)
	@rm -f $(EXITS_GUEST_DIR)/test.json
	ci/if-kvm $@ $(PYTHON) bench/exits/run $(EXITS_RUN_ARGS) --quick --rt off \
	  --json $(EXITS_GUEST_DIR)/test.json --check

TEST_TARGETS += test-bench-exits

# The top Makefile skips build/bench when it collects .d files.
-include $(EXITS_GUEST_OBJS:.o=.d)

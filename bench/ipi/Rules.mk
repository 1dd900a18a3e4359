# bench/ipi: IPI round trip, HLT wake-up and AP bring-up, hyve against the
# floor (kmod/floor's ipifloor), see bench/ipi/README.md.  The guest is
# guests/unit/ipibench.c; the bench harness runs bench/ipi/run as its "ipi"
# workload (bench/workloads/external.py).

# kmod/floor/Rules.mk is read after this fragment: name the floor directly.
IPI_RUN_DEPS := $(BUILD)/hyve $(BUILD)/kmod/ipifloor $(BUILD)/guests/unit/ipibench.elf
IPI_RUN_ARGS := --hyve $(BUILD)/hyve --floor $(BUILD)/kmod/ipifloor \
	--kernel $(BUILD)/guests/unit/ipibench.elf

.PHONY: bench-ipi test-bench-ipi
bench-ipi: $(IPI_RUN_DEPS)
	$(PYTHON) bench/ipi/run $(IPI_RUN_ARGS) --out-dir results/ipi

# Sanity check for make test: small counts; both JSON files must hold every
# figure above zero and every hyve/floor ratio.
test-bench-ipi: $(IPI_RUN_DEPS)
	@mkdir -p $(BUILD)/bench/ipi
	@rm -f $(BUILD)/bench/ipi/test.json $(BUILD)/bench/ipi/test-harness.json
	ci/if-kvm $@ $(PYTHON) bench/ipi/run $(IPI_RUN_ARGS) --quick -c 2 -m 128 \
	  --json $(BUILD)/bench/ipi/test.json -o $(BUILD)/bench/ipi/test-harness.json --check

TEST_TARGETS += test-bench-ipi

# conformance/control: the test kernel that hyvectl's tests run.  The test
# program itself (control_test, atf-sh) runs from this folder through Kyua.
CONTROL_OUT := $(BUILD)/conformance/control

$(CONTROL_OUT)/spin.o: conformance/control/spin.S
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

$(CONTROL_OUT)/spin.elf: $(CONTROL_OUT)/spin.o conformance/control/spin.ld
	ld -m elf_x86_64 -static -nostdlib -z max-page-size=0x1000 \
	  --build-id=none -T conformance/control/spin.ld -o $@ $<

ALL_TARGETS += $(CONTROL_OUT)/spin.elf

# Run just these cases (make conformance runs them with the whole suite).
.PHONY: conformance-control
conformance-control: $(BUILD)/hyve $(BUILD)/hyvectl $(CONTROL_OUT)/spin.elf
	rm -f $(CONTROL_OUT)/results.db
	cd conformance/control && kyua \
	  -v test_suites.hyve.build=$(abspath $(BUILD)) \
	  test --results-file=$(abspath $(CONTROL_OUT))/results.db
conformance: $(CONTROL_OUT)/spin.elf

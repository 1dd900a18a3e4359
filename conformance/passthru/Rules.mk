# conformance/passthru: NIC certification for passthrough.
#   make certify-nic DEV=PCI-ADDRESS            on a host with an IOMMU
#   make certify-nic DEV=0000:00:01.0 LAB=1     inside the lab (its e1000e)
# The report goes to results/certify/certify-ADDRESS.json and .html.
CERTIFY_OUT     ?= results/certify
CERTIFY_SECS    ?= 5
CERTIFY_TIMEOUT ?= 1200

.PHONY: certify-nic
certify-nic: $(BUILD)/hyve $(BUILD)/hyvectl linux-guest
	@[ -n "$(DEV)" ] || { echo "make certify-nic: give the NIC: DEV=PCI-ADDRESS (in the lab: DEV=0000:00:01.0 LAB=1)" >&2; exit 64; }
ifeq ($(LAB),1)
	@mkdir -p $(BUILD)/certify/lab $(CERTIFY_OUT)
	BUILD=$(BUILD) guests/lab/run-in-lab -t $(CERTIFY_TIMEOUT) -o $(BUILD)/certify/lab -- \
	  conformance/passthru/certify-nic -t $(CERTIFY_SECS) -o $(abspath $(BUILD))/certify/lab $(DEV); \
	st=$$?; cp $(BUILD)/certify/lab/certify-* $(CERTIFY_OUT)/ 2>/dev/null; \
	echo "certify-nic: report in $(CERTIFY_OUT)/"; exit $$st
else
	BUILD=$(BUILD) conformance/passthru/certify-nic -t $(CERTIFY_SECS) -o $(CERTIFY_OUT) $(DEV)
endif

# make conformance: the Kyua suite in conformance/ against build/hyve.
# Results: $(BUILD)/conformance/results.db and results/junit.xml (with the
# <property> elements, which hold the run's environment, stripped).  The
# exit status is kyua test's: 0 when every case passed (or was skipped or
# an expected failure), 1 otherwise.

CONF_BUILD   := $(abspath $(BUILD))/conformance
CONF_RESULTS := $(CONF_BUILD)/results.db
CONF_KYUA    := kyua --config=none --logfile=$(CONF_BUILD)/kyua.log \
	-v parallelism=2 -v test_suites.hyve.build=$(abspath $(BUILD))

conformance: $(BUILD)/hyve $(BUILD)/hyvectl $(UNIT_ELFS) $(UNIT_FLATS)
	@mkdir -p $(CONF_BUILD) results
	@rm -f $(CONF_RESULTS)
	@status=0; \
	(cd conformance && $(CONF_KYUA) test --results-file=$(CONF_RESULTS)) || status=$$?; \
	$(CONF_KYUA) report --results-file=$(CONF_RESULTS) \
	  --results-filter=broken,failed >$(CONF_BUILD)/failures.txt || true; \
	[ $$status -eq 0 ] || cat $(CONF_BUILD)/failures.txt; \
	$(CONF_KYUA) report-junit --results-file=$(CONF_RESULTS) \
	  --output=results/junit.xml.tmp && \
	sed '/^[[:space:]]*<property /d; /^[[:space:]]*<properties>/d; /^[[:space:]]*<\/properties>/d' \
	  results/junit.xml.tmp >results/junit.xml && rm -f results/junit.xml.tmp; \
	echo "conformance: results in results/junit.xml"; \
	exit $$status

TEST_TARGETS += conformance
ASAN_TARGETS += conformance

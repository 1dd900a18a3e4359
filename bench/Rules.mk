# bench/: the benchmark harness (man/hyve-bench.8), the result tools in
# results/ (man/hyve-results.8) and the regression gate ci/gate
# (man/hyve-gate.8).
#
#   make bench CONFIG=1cpu-512m [BENCH_SIZE=quick|full] [BENCH_ENVS=bare,...]
#              [BENCH_WORKLOADS=fio,...] [BENCH_REPS=N]
#   make plots      regression plots over releases -> results/plots
#   make test-py    pytest of the Python tooling (part of make test)

CONFIG ?= 1cpu-512m
BENCH_ARGS = -c $(CONFIG) $(if $(BENCH_SIZE),-s $(BENCH_SIZE)) \
	$(if $(BENCH_ENVS),-e $(BENCH_ENVS)) \
	$(if $(BENCH_WORKLOADS),-w $(BENCH_WORKLOADS)) \
	$(if $(BENCH_REPS),-r $(BENCH_REPS))

.PHONY: bench plots test-py
bench: all
	$(PYTHON) bench/run $(BENCH_ARGS)

# Plots are drawn into $(BUILD)/plots, then published to results/plots.
plots:
	$(PYTHON) results/plot -o $(BUILD)/plots results/runs
	rm -rf results/plots.new
	cp -r $(BUILD)/plots results/plots.new
	rm -rf results/plots
	mv results/plots.new results/plots
	@echo "plots: results/plots/index.html"

# pytest exits 5 when it collects nothing: that is a failure too.
test-py:
	@$(PYTHON) -m pytest -q -p no:cacheprovider bench/tests results/tests guests/lab/tests; \
	rc=$$?; [ $$rc -ne 5 ] || echo "test-py: pytest collected no tests" >&2; \
	exit $$rc

TEST_TARGETS += test-py

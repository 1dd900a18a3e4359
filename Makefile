# hyve: top-level build.  Each folder adds its own rules in a Rules.mk
# fragment; this file only sets the common flags and collects the fragments.

CC        ?= gcc
BUILD     ?= build
CSTD      := -std=c11 -D_GNU_SOURCE
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT       ?= -O2 -g
SANITIZE  ?=
CFLAGS    := $(CSTD) $(WARN) $(OPT) $(SANITIZE) -I. -MMD -MP
LDFLAGS   := $(SANITIZE)
LDLIBS    := -luring -lpthread
PYTHON    := /usr/bin/python3

# Fragments append to these.
PROGRAMS      :=
TEST_TARGETS  :=
ASAN_TARGETS  :=
CLEAN_EXTRA   :=
ALL_TARGETS   :=

.PHONY: all test deps clean check-asan conformance
all: deps-quiet

# The core first, then the guests (others name their images in
# prerequisites), then the rest.
CORE_FRAGMENTS  := kmod/Rules.mk devices/Rules.mk vmm/Rules.mk
GUEST_FRAGMENTS := $(sort $(wildcard guests/*/Rules.mk))
FRAGMENTS := $(CORE_FRAGMENTS) $(GUEST_FRAGMENTS) \
	$(sort $(filter-out $(CORE_FRAGMENTS) $(GUEST_FRAGMENTS), \
	  $(wildcard */Rules.mk */*/Rules.mk)))
include $(FRAGMENTS)

all: $(ALL_TARGETS)

.PHONY: asan-tests
asan-tests: $(ASAN_TARGETS)

# Dependencies are installed by ci/install-deps (apt only, idempotent, quiet
# when everything is present).  HYVE_NO_DEPS=1 skips the check.
.PHONY: deps-quiet
deps-quiet:
	@[ -n "$$HYVE_NO_DEPS" ] || ci/install-deps

deps:
	ci/install-deps

# make test: everything CI runs.  Each fragment registers its test target.
test: all
	@ci/run-tests $(TEST_TARGETS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The C tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# in build/asan; fragments add the targets that make sense there to
# ASAN_TARGETS.  HYVE points the conformance suite at the sanitized hyve.
check-asan: deps-quiet
	LSAN_OPTIONS=suppressions=$(CURDIR)/ci/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) --no-print-directory HYVE_NO_DEPS=1 BUILD=build/asan \
	  OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  HYVE=$(CURDIR)/build/asan/hyve asan-tests

clean:
	rm -rf build $(CLEAN_EXTRA)

# Header dependencies of our own objects (build/bench holds unpacked source
# trees with unrelated .d files).
-include $(shell find $(BUILD) -path '$(BUILD)/bench' -prune -o -path '$(BUILD)/lab' -prune -o -name '*.d' -type f -print 2>/dev/null)

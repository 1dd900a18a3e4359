# Manual pages (mdoc).  test-man keeps them valid: no mandoc warnings, and
# every hyve option and hyvectl verb documented.
.PHONY: test-man
test-man:
	man/check-pages

TEST_TARGETS += test-man

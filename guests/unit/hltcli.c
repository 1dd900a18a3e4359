/*
 * HLT with interrupts disabled: nothing can wake the vCPU, so hyve ends the
 * VM with exit status 2 and a report.  The case fails if HLT returns.
 */
#include "test.h"
#include "x86.h"

TEST(hlt_cli)
{
	printf("hlt_cli: halting with interrupts disabled\n");
	__asm__ volatile("cli; hlt" ::: "memory");
	test_fail("HLT with RFLAGS.IF = 0 returned");
}

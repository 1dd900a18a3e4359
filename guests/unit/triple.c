/*
 * A triple fault: with an empty IDT, #UD cannot be delivered, nor the #GP
 * and #DF that follow, so the vCPU shuts down (hyve exits with status 4).
 */
#include "test.h"
#include "x86.h"

TEST(triple_fault)
{
	static const struct descriptor_table_ptr empty = { 0, 0 };

	printf("triple_fault: loading an empty IDT and raising #UD\n");
	__asm__ volatile("cli; lidt %0; ud2" :: "m"(empty) : "memory");
	test_fail("ud2 with an empty IDT returned");
}

/*
 * A jump outside guest memory: to guest-physical space above the end of RAM
 * and below the MMIO hole, where nothing is mapped.  The vCPU cannot fetch
 * an instruction there; hyve reports the address and exits with status 6.
 */
#include "test.h"
#include "x86.h"

#define MIB (1ull << 20)

TEST(wild_jump)
{
	uint64_t target = (boot_info.mem_lo + 16 * MIB) & ~(2 * MIB - 1);

	if (!boot_info.mem_lo || target >= HYVE_MMIO_HOLE_START)
		test_skip("no unmapped guest-physical space below the MMIO hole (RAM 0x%lx)",
			  boot_info.mem_lo);
	printf("wild_jump: RAM ends at 0x%lx, jumping to 0x%lx\n", boot_info.mem_lo, target);
	__asm__ volatile("jmp *%0" :: "r"(target));
}

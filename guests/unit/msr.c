/*
 * RDMSR/WRMSR exits: architectural MSRs round-trip, invalid writes and
 * unknown MSRs raise #GP in the guest (the exception handler sees it) and
 * the VMM stays up.
 *
 * QEMU TCG neither raises #GP for unknown MSRs (it reads 0 and ignores
 * writes) nor checks reserved bits: those checks run only on hyve.
 */
#include "apic.h"
#include "idt.h"
#include "test.h"
#include "x86.h"

#define APIC_BASE_BSP    (1ull << 8)
#define APIC_BASE_EXTD   (1ull << 10)
#define APIC_BASE_EN     (1ull << 11)
#define APIC_BASE_ADDR   0xfffff000ull

static void roundtrip(uint32_t msr, uint64_t v)
{
	uint64_t old, got;
	int vec;

	vec = rdmsr_safe(msr, &old);
	if (vec >= 0) {
		test_fail("rdmsr 0x%x raised vector %d", msr, vec);
		return;
	}
	vec = wrmsr_safe(msr, v);
	if (vec >= 0) {
		test_fail("wrmsr 0x%x <- 0x%lx raised vector %d", msr, v, vec);
		return;
	}
	vec = rdmsr_safe(msr, &got);
	expect(vec < 0, "rdmsr 0x%x after a write raised vector %d", msr, vec);
	expect(got == v, "msr 0x%x: wrote 0x%lx, read back 0x%lx", msr, v, got);
	vec = wrmsr_safe(msr, old);
	expect(vec < 0, "restoring msr 0x%x raised vector %d", msr, vec);
}

static void expect_gp_write(uint32_t msr, uint64_t v, const char *why)
{
	uint64_t before = 0, after = 0;
	struct exc_info i;
	int vec;

	(void)rdmsr_safe(msr, &before);
	vec = wrmsr_safe(msr, v);
	i = exc_last_info();
	expect(vec == EXC_GP, "wrmsr 0x%x <- 0x%lx (%s): vector %d, expected #GP",
	       msr, v, why, vec);
	if (vec == EXC_GP)
		expect(i.error_code == 0, "#GP error code 0x%lx, expected 0", i.error_code);
	(void)rdmsr_safe(msr, &after);
	expect(before == after, "msr 0x%x changed from 0x%lx to 0x%lx by a faulting write",
	       msr, before, after);
}

TEST(msr_tsc)
{
	uint64_t a, m, b;

	a = rdtsc();
	m = rdmsr(MSR_IA32_TSC);
	b = rdtsc();
	if (!on_hyve() && m == 0)
		test_skip("QEMU TCG does not implement the IA32_TSC MSR (reads 0)");
	expect(a <= m && m <= b, "rdtsc %lu, rdmsr(TSC) %lu, rdtsc %lu: not ordered", a, m, b);
}

TEST(msr_tsc_write)
{
	uint64_t b, w, r, rm;

	b = rdtsc();
	if (!on_hyve() && rdmsr(MSR_IA32_TSC) == 0)
		test_skip("QEMU TCG does not implement the IA32_TSC MSR (reads 0)");
	/* Move the TSC forward by 2^40 cycles: RDMSR and RDTSC both follow. */
	w = b + (1ull << 40);
	wrmsr(MSR_IA32_TSC, w);
	rm = rdmsr(MSR_IA32_TSC);
	r = rdtsc();
	expect(rm >= w && rm - w < (1ull << 36),
	       "wrote TSC 0x%lx, rdmsr then read 0x%lx", w, rm);
	expect(r >= w && r - w < (1ull << 36),
	       "wrote TSC 0x%lx, rdtsc then read 0x%lx (rdmsr read 0x%lx)", w, r, rm);
}

TEST(msr_apic_base)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE), v;
	int x2 = (cpuid(1).c & (1u << 21)) != 0;

	expect(base & APIC_BASE_BSP, "APIC base 0x%lx: BSP bit clear on the boot vCPU", base);
	expect(base & APIC_BASE_EN, "APIC base 0x%lx: APIC disabled at reset", base);
	expect((base & APIC_BASE_ADDR) == 0xfee00000, "APIC base 0x%lx: address not 0xfee00000", base);
	expect(!(base & APIC_BASE_EXTD), "APIC base 0x%lx: x2APIC already on", base);

	if (x2) {
		/* xAPIC -> x2APIC, read the ID through the x2APIC MSR. */
		wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_EXTD);
		v = rdmsr(MSR_IA32_APIC_BASE);
		expect(v == (base | APIC_BASE_EXTD), "APIC base 0x%lx after enabling x2APIC", v);
		expect(rdmsr_safe(MSR_X2APIC_BASE + 2, &v) < 0, "x2APIC ID MSR faults in x2APIC mode");
		expect(v == cpuid_count(0xb, 0).d || cpuid(0).a < 0xb,
		       "x2APIC ID %lu differs from CPUID 0xb", v);
		/* x2APIC -> xAPIC directly is an invalid transition (#GP). */
		if (on_hyve())
			expect_gp_write(MSR_IA32_APIC_BASE, base, "x2APIC to xAPIC");
		/* Disable, then back to xAPIC. */
		wrmsr(MSR_IA32_APIC_BASE, base & ~(APIC_BASE_EN | APIC_BASE_EXTD));
		v = rdmsr(MSR_IA32_APIC_BASE);
		expect(!(v & APIC_BASE_EN), "APIC base 0x%lx after disable", v);
		wrmsr(MSR_IA32_APIC_BASE, base);
		v = rdmsr(MSR_IA32_APIC_BASE);
		expect(v == base, "APIC base 0x%lx, expected 0x%lx after re-enable", v, base);
	} else if (!on_hyve()) {
		/* QEMU models the P6, where a disabled APIC stays disabled
		 * until reset; later CPUs (and KVM) re-enable it. */
		printf("  QEMU, no x2APIC: the enable bit is not toggled\n");
	} else {
		wrmsr(MSR_IA32_APIC_BASE, base & ~APIC_BASE_EN);
		v = rdmsr(MSR_IA32_APIC_BASE);
		expect(!(v & APIC_BASE_EN), "APIC base 0x%lx after disable", v);
		wrmsr(MSR_IA32_APIC_BASE, base);
		v = rdmsr(MSR_IA32_APIC_BASE);
		expect(v == base, "APIC base 0x%lx, expected 0x%lx after re-enable", v, base);
	}
	if (on_hyve())
		expect_gp_write(MSR_IA32_APIC_BASE, base | 1, "reserved bit 0");
}

TEST(msr_efer)
{
	uint64_t efer = rdmsr(MSR_EFER);

	expect((efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA),
	       "EFER 0x%lx: LME/LMA not both set in long mode", efer);
	if (on_hyve() && !booted_multiboot())
		expect(efer & EFER_NXE, "EFER 0x%lx: NXE clear (vmm/abi.h sets it)", efer);
	roundtrip(MSR_EFER, efer ^ EFER_SCE);
	if (on_hyve())
		expect_gp_write(MSR_EFER, efer | (1ull << 9), "reserved bit 9");
}

TEST(msr_sysenter)
{
	/* 32-bit values: AMD keeps only the low half of SYSENTER_ESP/EIP. */
	roundtrip(MSR_IA32_SYSENTER_CS, 0x10);
	roundtrip(MSR_IA32_SYSENTER_ESP, 0x12345678);
	roundtrip(MSR_IA32_SYSENTER_EIP, 0x9abcdef0);
}

TEST(msr_syscall)
{
	roundtrip(MSR_STAR, 0x0023001012345678ull);
	roundtrip(MSR_LSTAR, 0xffffffff81234560ull);
	roundtrip(MSR_CSTAR, 0xffffffff81234570ull);
	roundtrip(MSR_SFMASK, 0x47700);
}

TEST(msr_segment_bases)
{
	roundtrip(MSR_KERNEL_GS_BASE, 0xffff888012345678ull);
	roundtrip(MSR_FS_BASE, 0x00007fffdeadb000ull);
	roundtrip(MSR_GS_BASE, 0xffff800000001000ull);
}

TEST(msr_noncanonical_gp)
{
	if (!on_hyve())
		test_skip("QEMU TCG does not check canonical addresses in WRMSR");
	expect_gp_write(MSR_LSTAR, 0x8000000000000000ull, "non-canonical LSTAR");
	expect_gp_write(MSR_KERNEL_GS_BASE, 0x0000800000000000ull, "non-canonical KERNEL_GS_BASE");
}

TEST(msr_pat)
{
	uint64_t pat = rdmsr(MSR_IA32_CR_PAT);

	expect(pat == 0x0007040600070406ull, "PAT 0x%lx, expected the reset value", pat);
	/* Entry 1 write-combining (1) instead of write-through (4). */
	roundtrip(MSR_IA32_CR_PAT, (pat & ~0xff00ull) | 0x0100);
}

TEST(msr_pat_reserved)
{
	uint64_t pat = rdmsr(MSR_IA32_CR_PAT);

	if (!on_hyve())
		test_skip("QEMU TCG does not check PAT memory types");
	/* Types 2, 3 and 8 and up are reserved. */
	expect_gp_write(MSR_IA32_CR_PAT, (pat & ~0xffull) | 0x02, "memory type 2 in entry 0");
	expect_gp_write(MSR_IA32_CR_PAT, (pat & ~0xff0000ull) | 0x030000, "memory type 3 in entry 2");
	expect_gp_write(MSR_IA32_CR_PAT, pat | (0x08ull << 56), "memory type 8 in entry 7");
}

TEST(msr_tsc_aux)
{
	uint32_t aux;

	if (!(cpuid(0x80000001).d & (1u << 27)))
		test_skip("no RDTSCP in CPUID 0x80000001 EDX");
	roundtrip(MSR_TSC_AUX, 0x1234);
	wrmsr(MSR_TSC_AUX, 0xabcd);
	(void)rdtscp(&aux);
	expect(aux == 0xabcd, "rdtscp returned TSC_AUX 0x%x, wrote 0xabcd", aux);
}

TEST(msr_unknown_gp)
{
	static const uint32_t unknown[] = { 0xdeadbeef, 0x87654321, 0x00002fff, 0xc0002fff };
	struct exc_info i;
	unsigned k;
	uint64_t v;
	int vec;

	if (!on_hyve())
		test_skip("QEMU TCG reads 0 from unknown MSRs instead of raising #GP");
	for (k = 0; k < sizeof(unknown) / sizeof(unknown[0]); k++) {
		vec = rdmsr_safe(unknown[k], &v);
		i = exc_last_info();
		expect(vec == EXC_GP, "rdmsr 0x%x: vector %d, expected #GP", unknown[k], vec);
		if (vec == EXC_GP) {
			expect(i.error_code == 0, "rdmsr 0x%x: #GP error code 0x%lx", unknown[k],
			       i.error_code);
			expect(*(const uint16_t *)(uintptr_t)i.rip == 0x320f,
			       "#GP RIP 0x%lx does not point at rdmsr", i.rip);
		}
		vec = wrmsr_safe(unknown[k], 0x5555aaaa5555aaaaull);
		expect(vec == EXC_GP, "wrmsr 0x%x: vector %d, expected #GP", unknown[k], vec);
	}
	/* Still running: a known MSR works after the faults. */
	expect(rdmsr_safe(MSR_EFER, &v) < 0 && (v & EFER_LMA), "EFER unreadable after #GPs");
}

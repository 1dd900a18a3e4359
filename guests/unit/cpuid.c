/*
 * CPUID exits: leaves 0, 1 and 7, the topology leaves 0xb and 0x1f against
 * the vCPU count hyve was given, hyve's hypervisor leaf, and leaves beyond
 * the maximum.
 *
 * Out-of-range leaves differ by vendor.  Intel (SDM vol. 2A, CPUID): a leaf
 * above the maximum of its range returns the data of the highest basic leaf.
 * AMD (and Hygon): an undefined leaf returns zeros in all four registers.
 * KVM implements both according to the vendor in the vCPU's leaf 0, so the
 * test checks the answer that matches the vendor the guest sees.  QEMU TCG
 * always answers the Intel way, whatever the vendor: under QEMU with an AMD
 * vendor these cases are skipped with that reason.
 */
#include "apic.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define LEAF_HYPERVISOR 0x40000000u
#define LEAF_EXT        0x80000000u

enum vendor { V_OTHER, V_INTEL, V_AMD };

static enum vendor vendor(char out[13])
{
	struct cpuid_regs r = cpuid(0);

	memcpy(out, &r.b, 4);
	memcpy(out + 4, &r.d, 4);
	memcpy(out + 8, &r.c, 4);
	out[12] = '\0';
	if (!strcmp(out, "GenuineIntel"))
		return V_INTEL;
	if (!strcmp(out, "AuthenticAMD") || !strcmp(out, "HygonGenuine"))
		return V_AMD;
	return V_OTHER;
}

TEST(cpuid_leaf0)
{
	struct cpuid_regs r = cpuid(0);
	char v[13];
	int i;

	vendor(v);
	printf("  vendor \"%s\", max basic leaf 0x%x\n", v, r.a);
	expect(r.a >= 7, "max basic leaf 0x%x < 7", r.a);
	expect(r.a < 0x100, "max basic leaf 0x%x is implausible", r.a);
	for (i = 0; i < 12; i++)
		expect(v[i] >= 0x20 && v[i] < 0x7f,
		       "vendor byte %d is 0x%x, not printable", i, (unsigned)(uint8_t)v[i]);
	test_info("cpuid_max_basic_leaf", r.a);
}

TEST(cpuid_leaf1)
{
	/* FPU TSC MSR PAE CX8 APIC CMOV FXSR SSE SSE2: every x86-64 CPU has
	 * them and a 64-bit guest needs them. */
	const uint32_t edx_need = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) |
		(1u << 8) | (1u << 9) | (1u << 15) | (1u << 24) | (1u << 25) | (1u << 26);
	struct cpuid_regs r = cpuid(1), e;
	uint32_t family = (r.a >> 8) & 0xf;

	if (family == 0xf)
		family += (r.a >> 20) & 0xff;
	expect(family >= 6, "family %u: not an x86-64 CPU", family);
	expect((r.d & edx_need) == edx_need, "leaf 1 EDX 0x%x lacks 0x%x",
	       r.d, edx_need & ~r.d);
	/* OSXSAVE mirrors CR4.OSXSAVE, which the kernel leaves clear. */
	expect(!(r.c & (1u << 27)), "leaf 1 ECX OSXSAVE set while CR4.OSXSAVE = 0 (CR4 0x%lx)",
	       read_cr4());
	if (on_hyve())
		expect(r.c & (1u << 31), "leaf 1 ECX 0x%x: hypervisor bit clear", r.c);
	apic_init();
	expect(r.b >> 24 == (apic_id() & 0xff), "leaf 1 initial APIC ID %u, local APIC ID %u",
	       r.b >> 24, apic_id());
	e = cpuid(LEAF_EXT);
	require(e.a >= LEAF_EXT + 1, "max extended leaf 0x%x", e.a);
	e = cpuid(LEAF_EXT + 1);
	expect(e.d & (1u << 29), "leaf 0x80000001 EDX 0x%x: long mode bit clear", e.d);
}

TEST(cpuid_leaf7)
{
	struct cpuid_regs r, beyond;
	uint32_t max = cpuid(0).a;

	if (max < 7)
		test_skip("max basic leaf 0x%x < 7", max);
	r = cpuid_count(7, 0);
	expect(r.a < 0x10, "leaf 7 max subleaf %u is implausible", r.a);
	/* OSPKE mirrors CR4.PKE, which the kernel leaves clear. */
	expect(!(r.c & (1u << 4)), "leaf 7 ECX OSPKE set while CR4.PKE = 0");
	/* Subleaves past the maximum return zeros. */
	beyond = cpuid_count(7, r.a + 1);
	expect(!beyond.a && !beyond.b && !beyond.c && !beyond.d,
	       "leaf 7 subleaf %u (past max %u): %x %x %x %x, expected zeros",
	       r.a + 1, r.a, beyond.a, beyond.b, beyond.c, beyond.d);
	/* The answer is stable. */
	beyond = cpuid_count(7, 0);
	expect(!memcmp(&r, &beyond, sizeof(r)), "leaf 7 changed between two reads");
}

/* Walks leaf 0xb or 0x1f: checks each level and returns the logical
 * processor count of the outermost level. */
static uint32_t walk_topology(uint32_t leaf)
{
	uint32_t sub, prev_type = 0, count = 0, x2id = 0, id = apic_id();
	struct cpuid_regs r;

	for (sub = 0; sub < 8; sub++) {
		uint32_t type;

		r = cpuid_count(leaf, sub);
		type = (r.c >> 8) & 0xff;
		expect((r.c & 0xff) == sub, "leaf 0x%x.%u: ECX[7:0] = %u", leaf, sub, r.c & 0xff);
		if (sub == 0)
			x2id = r.d;
		else
			expect(r.d == x2id, "leaf 0x%x.%u: x2APIC ID %u, subleaf 0 said %u",
			       leaf, sub, r.d, x2id);
		if (type == 0) {
			expect((r.b & 0xffff) == 0, "leaf 0x%x.%u: invalid level with EBX %u",
			       leaf, sub, r.b);
			break;
		}
		if (sub == 0)
			expect(type == 1, "leaf 0x%x.0: level type %u, expected 1 (SMT)", leaf, type);
		expect(type > prev_type, "leaf 0x%x.%u: level type %u after %u",
		       leaf, sub, type, prev_type);
		expect((r.b & 0xffff) != 0, "leaf 0x%x.%u: zero processors at this level",
		       leaf, sub);
		expect((r.b & 0xffff) >= count, "leaf 0x%x.%u: %u processors, inner level has %u",
		       leaf, sub, r.b & 0xffff, count);
		count = r.b & 0xffff;
		prev_type = type;
		if ((r.a & 0x1f) < 32)
			expect((1u << (r.a & 0x1f)) >= count,
			       "leaf 0x%x.%u: shift %u too small for %u processors",
			       leaf, sub, r.a & 0x1f, count);
	}
	expect(sub > 0, "leaf 0x%x: no valid level", leaf);
	expect(x2id == id, "leaf 0x%x: x2APIC ID %u, local APIC ID %u", leaf, x2id, id);
	return count;
}

/* The logical processors of one package: every vCPU unless the command
 * line names the sockets (sockets=S, as given to hyve -c ...,sockets=S). */
static uint32_t per_package(void)
{
	char val[12];
	uint32_t s = 0;

	if (cmdline_get("sockets", val, sizeof(val)))
		for (char *p = val; *p >= '0' && *p <= '9'; p++)
			s = s * 10 + (uint32_t)(*p - '0');
	return s ? boot_info.ncpus / s : boot_info.ncpus;
}

TEST(cpuid_topology_0b)
{
	uint32_t max = cpuid(0).a, n = per_package(), count;
	struct cpuid_regs r;

	if (max < 0xb)
		test_skip("max basic leaf 0x%x < 0xb", max);
	apic_init();
	count = walk_topology(0xb);
	expect(count == n, "leaf 0xb: %u logical processors in the package, %u configured",
	       count, n);
	r = cpuid(1);
	if (n > 1) {
		expect(r.d & (1u << 28), "leaf 1: HTT clear with %u vCPUs", n);
		expect(((r.b >> 16) & 0xff) >= n, "leaf 1: %u addressable IDs for %u vCPUs",
		       (r.b >> 16) & 0xff, n);
	}
}

TEST(cpuid_topology_1f)
{
	uint32_t max = cpuid(0).a, n = per_package(), count;

	if (max < 0x1f)
		test_skip("max basic leaf 0x%x < 0x1f: no V2 extended topology leaf", max);
	apic_init();
	count = walk_topology(0x1f);
	expect(count == n, "leaf 0x1f: %u logical processors in the package, %u configured",
	       count, n);
	if (max >= 0xb)
		expect(walk_topology(0xb) == count, "leaves 0xb and 0x1f disagree");
}

TEST(cpuid_hypervisor)
{
	struct cpuid_regs r;
	char sig[13];

	if (!on_hyve())
		test_skip("not running on hyve (no hyve-testresult device)");
	r = cpuid(LEAF_HYPERVISOR);
	memcpy(sig, &r.b, 4);
	memcpy(sig + 4, &r.c, 4);
	memcpy(sig + 8, &r.d, 4);
	sig[12] = '\0';
	expect(!strcmp(sig, HYVE_CPUID_SIGNATURE), "leaf 0x40000000 signature \"%s\", expected \"%s\"",
	       sig, HYVE_CPUID_SIGNATURE);
	expect(r.a >= LEAF_HYPERVISOR && r.a <= LEAF_HYPERVISOR + 0xff,
	       "leaf 0x40000000 max leaf 0x%x", r.a);
	expect(cpuid(1).c & (1u << 31), "hypervisor bit clear in leaf 1 ECX");
}

static void check_out_of_range(uint32_t leaf, const char *what)
{
	uint32_t max = cpuid(0).a;
	struct cpuid_regs got = cpuid_count(leaf, 0), highest = cpuid_count(max, 0);
	char v[13];
	enum vendor ven = vendor(v);

	printf("  vendor %s: leaf 0x%x (%s) = %x %x %x %x; highest basic leaf 0x%x = %x %x %x %x\n",
	       v, leaf, what, got.a, got.b, got.c, got.d, max, highest.a, highest.b,
	       highest.c, highest.d);
	if (ven == V_INTEL) {
		expect(!memcmp(&got, &highest, sizeof(got)),
		       "Intel vendor: leaf 0x%x (%s) = %x %x %x %x, expected the highest basic leaf 0x%x",
		       leaf, what, got.a, got.b, got.c, got.d, max);
	} else if (ven == V_AMD) {
		if (!on_hyve() && (got.a | got.b | got.c | got.d) &&
		    !memcmp(&got, &highest, sizeof(got)))
			test_skip("QEMU answers out-of-range leaves the Intel way for vendor %s", v);
		expect(!got.a && !got.b && !got.c && !got.d,
		       "AMD vendor: leaf 0x%x (%s) = %x %x %x %x, expected zeros",
		       leaf, what, got.a, got.b, got.c, got.d);
	} else {
		test_skip("vendor \"%s\": no architected out-of-range answer known", v);
	}
}

TEST(cpuid_beyond_basic)
{
	check_out_of_range(cpuid(0).a + 1, "max basic + 1");
}

TEST(cpuid_beyond_extended)
{
	check_out_of_range(cpuid(LEAF_EXT).a + 1, "max extended + 1");
}

/* ACPI tables, fw_cfg and the direct AP start-up checks, on a VM without a
 * kernel module behind it (guest memory and buses only). */
#include <atf-c.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/acpi.h"
#include "vmm/smp.h"
#include "vmm/vm.h"

#define RAM (4u << 20)

static struct vm *
mkvm(int ncpus)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	ATF_REQUIRE(vm != NULL);
	vm->mem.lo = calloc(1, RAM);
	ATF_REQUIRE(vm->mem.lo != NULL);
	vm->mem.lo_size = vm->mem.size = RAM;
	vm->ncpus = ncpus;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	return vm;
}

static void
rmvm(struct vm *vm)
{
	for (int i = vm->nhooks - 1; i >= 0; i--)
		if (!vm->hooks[i].on_reset)
			vm->hooks[i].fn(vm->hooks[i].arg);
	bus_fini(&vm->pio);
	bus_fini(&vm->mmio);
	free(vm->mem.lo);
	free(vm);
}

static uint8_t
sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

ATF_TC_WITHOUT_HEAD(acpi_madt_has_every_cpu);
ATF_TC_BODY(acpi_madt_has_every_cpu, tc)
{
	int counts[] = { 1, 2, 8, 64 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct vm *vm = mkvm(counts[c]);
		ATF_REQUIRE_EQ(acpi_build(vm), 0);
		const uint8_t *rsdp = vm->mem.lo + HYVE_ACPI_RSDP;
		ATF_REQUIRE(memcmp(rsdp, "RSD PTR ", 8) == 0);
		ATF_CHECK_EQ(sum(rsdp, 20), 0);
		ATF_CHECK_EQ(sum(rsdp, 36), 0);
		uint64_t xsdt;
		memcpy(&xsdt, rsdp + 24, 8);
		const uint8_t *x = vm->mem.lo + xsdt;
		ATF_REQUIRE(memcmp(x, "XSDT", 4) == 0);
		uint32_t xlen;
		memcpy(&xlen, x + 4, 4);
		ATF_CHECK_EQ(sum(x, xlen), 0);
		uint64_t madt;
		memcpy(&madt, x + 36, 8);
		const uint8_t *m = vm->mem.lo + madt;
		ATF_REQUIRE(memcmp(m, "APIC", 4) == 0);
		uint32_t mlen;
		memcpy(&mlen, m + 4, 4);
		ATF_CHECK_EQ(sum(m, mlen), 0);
		int x2apic = 0, ioapic = 0;
		for (uint32_t off = 44; off < mlen; off += m[off + 1]) {
			ATF_REQUIRE(m[off + 1] >= 2);
			if (m[off] == 9) {
				uint32_t id, flags;
				memcpy(&id, m + off + 4, 4);
				memcpy(&flags, m + off + 8, 4);
				ATF_CHECK_EQ(id, (uint32_t)x2apic);
				ATF_CHECK_EQ(flags & 1, 1);
				x2apic++;
			}
			ioapic += m[off] == 1;
		}
		ATF_CHECK_EQ(x2apic, counts[c]);
		uint64_t mcfg;
		memcpy(&mcfg, x + 44, 8);
		ATF_CHECK(memcmp(vm->mem.lo + mcfg, "MCFG", 4) == 0);
		uint64_t ecam;
		memcpy(&ecam, vm->mem.lo + mcfg + 44, 8);
		ATF_CHECK_EQ(ecam, HYVE_PCI_ECAM);
		ATF_CHECK_EQ(ioapic, 1);
		rmvm(vm);
	}
}

static void
fw_read(struct vm *vm, uint16_t key, uint8_t *out, unsigned n)
{
	struct vcpu v = { .vm = vm };
	uint8_t k[2];
	memcpy(k, &key, 2);
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, HYVE_PORT_FWCFG_SEL, k, 2, true), 0);
	for (unsigned i = 0; i < n; i++)
		ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, HYVE_PORT_FWCFG_DATA,
		    out + i, 1, false), 0);
}

ATF_TC_WITHOUT_HEAD(fwcfg_items);
ATF_TC_BODY(fwcfg_items, tc)
{
	struct vm *vm = mkvm(8);
	char err[200];
	ATF_REQUIRE_EQ(device_find("fw_cfg")->init(vm, NULL, err, sizeof(err)), 0);
	uint8_t b[80];
	fw_read(vm, HYVE_FWCFG_SIGNATURE, b, 4);
	ATF_CHECK(memcmp(b, "QEMU", 4) == 0);
	fw_read(vm, HYVE_FWCFG_NB_CPUS, b, 2);
	ATF_CHECK_EQ(b[0] | b[1] << 8, 8);
	uint64_t ram;
	fw_read(vm, HYVE_FWCFG_RAM_SIZE, b, 8);
	memcpy(&ram, b, 8);
	ATF_CHECK_EQ(ram, RAM);
	/* Past the end of an item, and an unknown key: zeros. */
	fw_read(vm, HYVE_FWCFG_SIGNATURE, b, 8);
	ATF_CHECK(b[4] == 0 && b[7] == 0);
	memset(b, 0xaa, sizeof(b));
	fw_read(vm, 0x7777, b, 4);
	ATF_CHECK(b[0] == 0 && b[3] == 0);
	fw_read(vm, HYVE_FWCFG_FILE_DIR, b, 4 + 64);
	ATF_CHECK_EQ(b[3], 1);                                  /* one file */
	ATF_CHECK_STREQ((char *)b + 12, "etc/hyve/version");
	rmvm(vm);
}

ATF_TC_WITHOUT_HEAD(apstart_refuses_bad_requests);
ATF_TC_BODY(apstart_refuses_bad_requests, tc)
{
	struct vm *vm = mkvm(4);
	vm->cfg.ap_direct = true;
	vm->vcpus = calloc(4, sizeof(*vm->vcpus));
	struct hyve_ap_start ok = { HYVE_APSTART_MAGIC, 1, 0x100000, 0x70000,
	    0, 0 }, r;
	r = ok; r.magic = 0;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EMAGIC);
	r = ok; r.apic_id = 0;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EID);
	r = ok; r.apic_id = 4;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EID);
	r = ok; r.entry = RAM + 0x1000;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EADDR);
	r = ok; r.entry = 0x100000000ull + 0x1000;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EADDR);
	r = ok; r.stack = 0;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EADDR);
	r = ok; r.stack = 0xfffffffffffffff0ull;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EADDR);
	r = ok; r.cr3 = 0x1234;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EADDR);
	r = ok; r.cr3 = RAM;
	ATF_CHECK_EQ(smp_start_ap(vm, &r), HYVE_APS_EADDR);
	vm->cfg.ap_direct = false;
	ATF_CHECK_EQ(smp_start_ap(vm, &ok), HYVE_APS_EMODE);
	free(vm->vcpus);
	rmvm(vm);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, acpi_madt_has_every_cpu);
	ATF_TP_ADD_TC(tp, fwcfg_items);
	ATF_TP_ADD_TC(tp, apstart_refuses_bad_requests);
	return atf_no_error();
}

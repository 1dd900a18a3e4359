/* ACPI tables, fw_cfg and the direct AP start-up checks, on a VM without a
 * kernel module behind it (guest memory and buses only). */
#include <atf-c.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "vmm/abi.h"
#include "vmm/acpi.h"
#include "vmm/smp.h"
#include "vmm/tests/fakevm.h"
#include "vmm/vm.h"

#define RAM (4u << 20)

static struct vm *
mkvm(int ncpus)
{
	struct vm *vm = fakevm_new(RAM, ncpus);
	ATF_REQUIRE(vm != NULL);
	return vm;
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
		fakevm_free(vm);
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
	fakevm_free(vm);
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
	fakevm_free(vm);
}

static const uint8_t *
find_table(struct vm *vm, const char *sig)
{
	uint64_t xsdt;
	memcpy(&xsdt, vm->mem.lo + HYVE_ACPI_RSDP + 24, 8);
	const uint8_t *x = vm->mem.lo + xsdt;
	uint32_t xlen;
	memcpy(&xlen, x + 4, 4);
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		uint64_t t;
		memcpy(&t, x + off, 8);
		if (memcmp(vm->mem.lo + t, sig, 4) == 0)
			return vm->mem.lo + t;
	}
	return NULL;
}

ATF_TC_WITHOUT_HEAD(acpi_fadt_dsdt);
ATF_TC_BODY(acpi_fadt_dsdt, tc)
{
	struct vm *vm = mkvm(2);
	ATF_REQUIRE_EQ(acpi_build(vm), 0);
	const uint8_t *f = find_table(vm, "FACP");
	ATF_REQUIRE(f != NULL);
	ATF_CHECK_EQ(sum(f, 276), 0);
	uint32_t flags;
	memcpy(&flags, f + 112, 4);
	ATF_CHECK(flags & (1u << 20));                  /* hardware-reduced */
	ATF_CHECK(flags & (1u << 10));                  /* reset register */
	uint64_t sleep_ctl, dsdt;
	memcpy(&sleep_ctl, f + 244 + 4, 8);
	ATF_CHECK_EQ(sleep_ctl, HYVE_PORT_SLEEP_CTL);
	memcpy(&dsdt, f + 140, 8);
	const uint8_t *d = vm->mem.lo + dsdt;
	ATF_REQUIRE(memcmp(d, "DSDT", 4) == 0);
	uint32_t dlen;
	memcpy(&dlen, d + 4, 4);
	ATF_CHECK_EQ(sum(d, dlen), 0);
	ATF_CHECK(memmem(d, dlen, "_S5_", 4) != NULL);
	ATF_CHECK(memmem(d, dlen, "PCI0", 4) != NULL);
	/* The reset vector a BIOS would hold: out 0xcf9 <- 6. */
	const uint8_t *rv = vm->mem.lo + 0xffff0;
	ATF_CHECK(rv[0] == 0xb0 && rv[1] == 0x06);              /* mov al, 6 */
	ATF_CHECK(rv[2] == 0xba && rv[3] == 0xf9 && rv[4] == 0x0c);
	ATF_CHECK_EQ(rv[5], 0xee);                              /* out dx, al */
	fakevm_free(vm);
}

static uint8_t
cmos(struct vm *vm, uint8_t idx, int wr)
{
	struct vcpu v = { .vm = vm };
	uint8_t d = idx;
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, 0x70, &d, 1, true), 0);
	d = (uint8_t)wr;
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, 0x71, &d, 1, wr >= 0), 0);
	return d;
}

ATF_TC_WITHOUT_HEAD(rtc_time_and_cmos);
ATF_TC_BODY(rtc_time_and_cmos, tc)
{
	struct vm *vm = mkvm(1);
	char err[200];
	ATF_REQUIRE_EQ(device_find("rtc")->init(vm, NULL, err, sizeof(err)), 0);
	/* BCD by default: every nibble a decimal digit, values in range. */
	uint8_t sec = cmos(vm, 0, -1), mon = cmos(vm, 8, -1);
	ATF_CHECK((sec & 0xf) < 10 && (sec >> 4) < 6);
	ATF_CHECK(mon >= 1 && mon <= 0x12);
	ATF_CHECK_EQ(cmos(vm, 0xd, -1), 0x80);
	/* Extended memory in KiB: 4 MiB RAM - 1 MiB. */
	ATF_CHECK_EQ(cmos(vm, 0x17, -1) | cmos(vm, 0x18, -1) << 8, 3072);
	/* RAM bytes keep what is written. */
	cmos(vm, 0x40, 0xa5);
	ATF_CHECK_EQ(cmos(vm, 0x40, -1), 0xa5);
	/* Set the clock: binary mode, year 2042. */
	cmos(vm, 0xb, 0x80 | 0x04 | 0x02);
	cmos(vm, 9, 42);
	cmos(vm, 0x32, 20);
	cmos(vm, 0xb, 0x04 | 0x02);
	ATF_CHECK_EQ(cmos(vm, 9, -1), 42);
	ATF_CHECK_EQ(cmos(vm, 0x32, -1), 20);
	fakevm_free(vm);
}

static uint8_t
inb(struct vm *vm, struct vcpu *v, uint16_t port)
{
	uint8_t d;
	ATF_REQUIRE_EQ(bus_access(&vm->pio, v, port, &d, 1, false), 0);
	return d;
}

ATF_TC_WITHOUT_HEAD(uart_loopback_fifo);
ATF_TC_BODY(uart_loopback_fifo, tc)
{
	struct vm *vm = mkvm(1);
	char err[200];
	struct dev_config dc = { .emul = "com1", .conf = "null" };
	ATF_REQUIRE_EQ(device_find("com1")->init(vm, &dc, err, sizeof(err)), 0);
	struct vcpu v = { .vm = vm };
	uint8_t d;
#define OUTB(p, x) do { d = (x); ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, p, &d, 1, true), 0); } while (0)
#define INB(p) inb(vm, &v, p)
	OUTB(0x3fc, 0x10);                      /* MCR: loopback */
	OUTB(0x3f9, 0x01);                      /* IER: received data */
	ATF_CHECK_EQ(INB(0x3fa) & 0x0f, 0x01);  /* nothing pending */
	for (int i = 0; i < 3; i++)
		OUTB(0x3f8, 'a' + i);
	ATF_CHECK(INB(0x3fd) & 0x01);           /* data ready */
	ATF_CHECK_EQ(INB(0x3fa) & 0x0f, 0x04);  /* RDA interrupt */
	ATF_CHECK_EQ(INB(0x3f8), 'a');
	ATF_CHECK_EQ(INB(0x3f8), 'b');
	ATF_CHECK_EQ(INB(0x3f8), 'c');
	ATF_CHECK(!(INB(0x3fd) & 0x01));
	/* Overrun after 16 bytes is reported once in LSR. */
	for (int i = 0; i < 17; i++)
		OUTB(0x3f8, 'x');
	ATF_CHECK(INB(0x3fd) & 0x02);
	ATF_CHECK(!(INB(0x3fd) & 0x02));
	/* Divisor latch. */
	OUTB(0x3fb, 0x80);
	OUTB(0x3f8, 0x0c);
	ATF_CHECK_EQ(INB(0x3f8), 0x0c);
	OUTB(0x3fb, 0x03);
	ATF_CHECK_EQ(INB(0x3f8), 'x');          /* back to the FIFO */
	fakevm_free(vm);
}

ATF_TC_WITHOUT_HEAD(power_off_and_reset);
ATF_TC_BODY(power_off_and_reset, tc)
{
	struct vm *vm = mkvm(1);
	vm->ncpus = 0;                          /* no threads to kick */
	char err[200];
	ATF_REQUIRE_EQ(device_find("pm")->init(vm, NULL, err, sizeof(err)), 0);
	ATF_REQUIRE_EQ(device_find("hostbridge")->init(vm, NULL, err,
	    sizeof(err)), 0);
	struct vcpu v = { .vm = vm };
	uint8_t d = (3 << 2) | HYVE_SLP_EN;     /* S3: not offered */
	ATF_REQUIRE_EQ(bus_access(&vm->pio, &v, HYVE_PORT_SLEEP_CTL, &d, 1, true), 0);
	ATF_CHECK(!vm_stopping(vm));
	d = HYVE_SLP_TYP_S5 << 2;               /* without SLP_EN */
	bus_access(&vm->pio, &v, HYVE_PORT_SLEEP_CTL, &d, 1, true);
	ATF_CHECK(!vm_stopping(vm));
	d = 0x02;                               /* 0xcf9 without the reset bit */
	bus_access(&vm->pio, &v, HYVE_PORT_RESET, &d, 1, true);
	ATF_CHECK(!vm_stopping(vm));
	d = 0x06;
	bus_access(&vm->pio, &v, HYVE_PORT_RESET, &d, 1, true);
	ATF_CHECK(vm_stopping(vm) && vm->reset_requested);
	vm->state = VM_RUNNING;
	vm->reset_requested = false;
	d = 0xfe;                               /* keyboard controller */
	bus_access(&vm->pio, &v, HYVE_PORT_KBD_CMD, &d, 1, true);
	ATF_CHECK(vm_stopping(vm) && vm->reset_requested);
	vm->state = VM_RUNNING;
	vm->reset_requested = false;
	/* The PCI configuration address still works beside it. */
	uint32_t a = 0x80000000u, id = 0;
	bus_access(&vm->pio, &v, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(&vm->pio, &v, 0xcfc, (uint8_t *)&id, 4, false);
	ATF_CHECK_EQ(id, 0x00081b36u);
	d = HYVE_SLP_TYP_S5 << 2 | HYVE_SLP_EN;
	bus_access(&vm->pio, &v, HYVE_PORT_SLEEP_CTL, &d, 1, true);
	ATF_CHECK(vm_stopping(vm) && !vm->reset_requested);
	ATF_CHECK_EQ(vm->exit_status, HYVE_EXIT_POWEROFF);
	fakevm_free(vm);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, acpi_fadt_dsdt);
	ATF_TP_ADD_TC(tp, rtc_time_and_cmos);
	ATF_TP_ADD_TC(tp, uart_loopback_fifo);
	ATF_TP_ADD_TC(tp, power_off_and_reset);
	ATF_TP_ADD_TC(tp, acpi_madt_has_every_cpu);
	ATF_TP_ADD_TC(tp, fwcfg_items);
	ATF_TP_ADD_TC(tp, apstart_refuses_bad_requests);
	return atf_no_error();
}

/*
 * The guest-visible interface of hyve: how a 64-bit test kernel is entered
 * and the fixed ports and addresses of the devices that test kernels use.
 * Shared by the VMM (vmm/, devices/) and by the test kernels (guests/unit/);
 * it must stay freestanding (no libc types beyond <stdint.h>).
 */
#ifndef HYVE_ABI_H
#define HYVE_ABI_H

#include <stdint.h>

/*
 * 64-bit direct entry (hyve -k ELF64 kernel), as bhyveload does:
 *   long mode, paging on, CS = 64-bit code (selector 0x08), DS/ES/SS/FS/GS =
 *   flat data (0x10), the first 4 GiB identity-mapped with 2 MiB pages,
 *   RFLAGS = 0x2 (interrupts off), CR0 = PE|MP|NE|WP|PG, CR4 = PAE|OSFXSR|
 *   OSXMMEXCPT, EFER = LME|LMA|NXE, RSP = HYVE_BOOT_STACK, RIP = e_entry,
 *   RDI = guest-physical address of struct hyve_bootinfo, RSI = HYVE_BOOT_MAGIC.
 * Nothing below HYVE_BOOT_FREE is the kernel's to overwrite before it has
 * read the boot information.
 */
#define HYVE_BOOT_MAGIC      0x68797665u        /* "hyve" */
#define HYVE_BOOT_GDT        0x1000u            /* boot GDT */
#define HYVE_BOOT_INFO       0x2000u            /* struct hyve_bootinfo */
#define HYVE_BOOT_CMDLINE    0x3000u            /* NUL-terminated */
#define HYVE_BOOT_CMDLINE_MAX 4096u
#define HYVE_BOOT_PML4       0x8000u            /* boot page tables */
#define HYVE_BOOT_PAGETABLES_END 0xf000u
#define HYVE_BOOT_STACK      0x80000u           /* initial RSP (grows down) */
#define HYVE_BOOT_FREE       0x10000u
#define HYVE_BOOT_IDMAP_LIMIT 0x100000000ull    /* identity map covers [0,4G) */

struct hyve_bootinfo {
	uint32_t magic;         /* HYVE_BOOT_MAGIC */
	uint32_t version;       /* 1 */
	uint64_t mem_lo;        /* bytes of RAM from guest-physical 0 */
	uint64_t mem_hi;        /* bytes of RAM from 4 GiB (0 if none) */
	uint32_t ncpus;         /* vCPUs configured with -c */
	uint32_t cmdline_len;   /* excluding the NUL */
	uint64_t cmdline;       /* guest-physical address of the command line */
	uint64_t kernel_start;  /* lowest loaded address */
	uint64_t kernel_end;    /* one past the highest loaded address */
};

/* Guest memory layout.  RAM below the 32-bit hole, the rest from 4 GiB. */
#define HYVE_MMIO_HOLE_START 0xc0000000ull
#define HYVE_HIGHMEM_START   0x100000000ull

/* isa-debug-exit (QEMU, bhyve pctestdev): a write of V ends hyve with
 * exit status (V << 1) | 1. */
#define HYVE_PORT_DEBUG_EXIT 0xf4

/* pc-testdev (QEMU, bhyve): 4-byte scratch port, 64 KiB scratch memory,
 * and one write-only port per interrupt line from 0x2000 (1 = raise). */
#define HYVE_PORT_TESTDEV     0xe0
#define HYVE_TESTDEV_IOMEM    0xff000000ull
#define HYVE_TESTDEV_IOMEM_LEN 0x10000u
#define HYVE_PORT_TESTDEV_IRQ 0x2000
#define HYVE_TESTDEV_IRQ_LINES 24

/* COM1, a 16550 UART. */
#define HYVE_PORT_COM1 0x3f8

/*
 * hyve-testresult: per-case reports.  The guest writes the 32-bit
 * guest-physical address of a struct hyve_test_report with a 4-byte OUT to
 * HYVE_PORT_TESTRESULT.  A 4-byte IN from the same port returns the status of
 * the last report: 0 accepted, otherwise a HYVE_TR_E* code.  Strings are
 * NUL-terminated, at most HYVE_TR_STR_MAX bytes including the NUL.
 */
#define HYVE_PORT_TESTRESULT 0x0500
#define HYVE_TR_MAGIC   0x52545948u        /* "HYTR" */
#define HYVE_TR_STR_MAX 512u

enum hyve_tr_status {
	HYVE_TR_PASS = 1,
	HYVE_TR_FAIL = 2,
	HYVE_TR_SKIP = 3,
	HYVE_TR_INFO = 4,       /* a named figure: value is meaningful */
};

enum hyve_tr_error {
	HYVE_TRE_OK = 0,
	HYVE_TRE_ADDR = 1,      /* report or string outside guest RAM */
	HYVE_TRE_MAGIC = 2,     /* bad magic */
	HYVE_TRE_STATUS = 3,    /* unknown status */
	HYVE_TRE_STRING = 4,    /* string not terminated within the limit */
};

struct hyve_test_report {
	uint32_t magic;         /* HYVE_TR_MAGIC */
	uint32_t status;        /* enum hyve_tr_status */
	uint64_t name;          /* gpa of the case name */
	uint64_t message;       /* gpa of a message, or 0 */
	uint64_t value;         /* a figure, for HYVE_TR_INFO */
};

/*
 * hyve-scratch-mmio: a 4 KiB MMIO register file for instruction-emulation
 * tests.  Reads return what was last written (initially each byte is its
 * offset's low 8 bits); accesses of 1, 2, 4 and 8 bytes at any offset.
 */
#define HYVE_SCRATCH_MMIO     0xfe000000ull
#define HYVE_SCRATCH_MMIO_LEN 0x1000u

/*
 * hyve-loopback: ports for port-I/O tests.
 *   HYVE_PORT_LOOP_FIFO  OUT of 1, 2 or 4 bytes appends them (little-endian)
 *                        to a 4 KiB FIFO; IN pops as many (0xff when empty).
 *                        String forms (REP INS/OUTS) move whole buffers.
 *   HYVE_PORT_LOOP_REG   a 4-byte register with byte lanes: IN returns what
 *                        OUT stored at the same offset and width.
 *   HYVE_PORT_LOOP_LEVEL IN (4 bytes): bytes in the FIFO; OUT: empty it.
 */
#define HYVE_PORT_LOOP_FIFO  0x0530
#define HYVE_PORT_LOOP_REG   0x0534
#define HYVE_PORT_LOOP_LEVEL 0x0538
#define HYVE_LOOP_FIFO_SIZE  4096u

/* CPUID hypervisor leaves: 0x40000000 returns max leaf in EAX and the
 * signature "hyvehyvehyve" in EBX, ECX, EDX. */
#define HYVE_CPUID_SIGNATURE "hyvehyvehyve"

/*
 * ACPI: the VMM writes RSDP (revision 2), XSDT and MADT (one Processor
 * Local x2APIC entry per vCPU, the I/O APIC, IRQ0 -> GSI 2) into the BIOS
 * area; the RSDP is at HYVE_ACPI_RSDP, where an EBDA/BIOS-area scan finds it.
 */
#define HYVE_ACPI_BASE 0xe0000u
#define HYVE_ACPI_RSDP 0xe0000u
#define HYVE_ACPI_END  0x100000u
#define HYVE_LAPIC_BASE 0xfee00000u
#define HYVE_IOAPIC_BASE 0xfec00000u

/*
 * Power: hardware-reduced ACPI.  The FADT names the sleep control register
 * HYVE_PORT_SLEEP_CTL (write SLP_TYP << 2 | SLP_EN, with S5's SLP_TYP 5 from
 * the DSDT's _S5: 0x34 powers off) and the sleep status register after it,
 * and the reset register 0xcf9 (write 0x06).  The keyboard controller's
 * reset command (0xfe to port 0x64) resets too.  The RTC's CMOS RAM
 * (ports 0x70/0x71) keeps its contents across a reset.
 */
#define HYVE_PORT_SLEEP_CTL 0x600
#define HYVE_PORT_SLEEP_STS 0x601
#define HYVE_SLP_EN 0x20
#define HYVE_SLP_TYP_S5 5
#define HYVE_PORT_RESET 0xcf9
#define HYVE_PORT_KBD_CMD 0x64
#define HYVE_PORT_RTC 0x70

/* QEMU's fw_cfg, port interface: write a 16-bit key to the selector port,
 * then read the item a byte at a time from the data port. */
#define HYVE_PORT_FWCFG_SEL  0x510
#define HYVE_PORT_FWCFG_DATA 0x511
#define HYVE_FWCFG_SIGNATURE 0x0000     /* "QEMU" */
#define HYVE_FWCFG_ID        0x0001     /* bit 0: traditional interface */
#define HYVE_FWCFG_RAM_SIZE  0x0003     /* u64 LE */
#define HYVE_FWCFG_NB_CPUS   0x0005     /* u16 LE */
#define HYVE_FWCFG_MAX_CPUS  0x000f     /* u16 LE */
#define HYVE_FWCFG_FILE_DIR  0x0019     /* u32 BE count, then entries */

/*
 * PCI: configuration mechanism #1 at 0xcf8/0xcfc and ECAM for bus 0 at
 * HYVE_PCI_ECAM (ACPI MCFG).  hyve assigns every BAR an address at start
 * (I/O from HYVE_PCI_IO, 32-bit memory from HYVE_PCI_MMIO32, 64-bit memory
 * from HYVE_PCI_MMIO64); decoding is off until the guest sets the command
 * register's I/O or memory enable bit.  Interrupts are MSI or MSI-X only.
 */
#define HYVE_PORT_PCI_ADDR 0xcf8
#define HYVE_PORT_PCI_DATA 0xcfc
#define HYVE_PCI_ECAM      0xe0000000ull
#define HYVE_PCI_ECAM_LEN  0x00100000ull        /* bus 0 */
#define HYVE_PCI_MMIO32    0xc0000000ull
#define HYVE_PCI_MMIO32_END 0xe0000000ull
#define HYVE_PCI_MMIO64    0x8000000000ull
#define HYVE_PCI_MMIO64_END 0x10000000000ull
#define HYVE_PCI_IO        0xc000u
#define HYVE_PCI_IO_END    0x10000u

/*
 * hyve-pcitest (-s slot,pcitest): a PCI device for interrupt and DMA tests.
 * IDs 1b36:4859, class ff.00 (hyve has no vendor ID of its own; the device
 * number is unused in that vendor's list).
 * BAR0: 4 KiB of 32-bit registers (below); BAR2: MSI-X table (offset 0) and
 * PBA (offset 0x800), 32 vectors.  It also has an MSI capability with 32
 * vectors and per-vector masking.
 */
#define HYVE_PCITEST_VENDOR 0x1b36
#define HYVE_PCITEST_DEVICE 0x4859
#define HYVE_PCITEST_VECTORS 32
enum hyve_pcitest_reg {
	PCITEST_ID = 0x00,       /* RO: 0x48595645 "EVYH" */
	PCITEST_RAISE = 0x04,    /* WO: raise vector N (MSI-X if enabled, else MSI) */
	PCITEST_RAISED = 0x08,   /* RO: vectors raised so far */
	PCITEST_ACK = 0x0c,      /* W: count one acknowledgement; R: count */
	PCITEST_DMA_LO = 0x10,   /* DMA target guest-physical address */
	PCITEST_DMA_HI = 0x14,
	PCITEST_DMA_LEN = 0x18,  /* bytes, at most 1 MiB */
	PCITEST_DMA_SEED = 0x1c, /* pattern: byte i = (seed + i) & 0xff */
	PCITEST_DMA_GO = 0x20,   /* W: do it; R: 0 done, 1 refused (outside RAM) */
	PCITEST_DELIVERED = 0x24,/* RO: messages actually sent to the CPUs */
};
#define HYVE_PCITEST_ID 0x48595645u

/*
 * hyve-apstart: the original design's shortcut for AP bring-up (hyve
 * -o ap-start=direct).  The guest writes the 32-bit guest-physical address
 * of a struct hyve_ap_start with a 4-byte OUT to HYVE_PORT_APSTART; hyve
 * checks it, puts the AP in 64-bit mode (the boot GDT, CR3 as given or the
 * boot page tables when 0, RIP = entry, RSP = stack, RDI = arg,
 * RSI = its APIC ID) and only then creates the AP's thread.  A 4-byte IN
 * returns the status of the last request (HYVE_APS_*).
 */
#define HYVE_PORT_APSTART 0x0520
#define HYVE_APSTART_MAGIC 0x50545341u  /* "ASTP" */
enum hyve_apstart_status {
	HYVE_APS_OK = 0,
	HYVE_APS_EADDR = 1,     /* request, entry, stack or CR3 not in RAM */
	HYVE_APS_EMAGIC = 2,
	HYVE_APS_EID = 3,       /* no such APIC ID, or the BSP */
	HYVE_APS_ESTARTED = 4,  /* already started */
	HYVE_APS_EMODE = 5,     /* the VM uses INIT/SIPI (-o ap-start=sipi) */
	HYVE_APS_EFAIL = 6,     /* the VMM could not start it */
};
struct hyve_ap_start {
	uint32_t magic;
	uint32_t apic_id;
	uint64_t entry;
	uint64_t stack;
	uint64_t arg;
	uint64_t cr3;           /* 0: the boot page tables */
};

#endif

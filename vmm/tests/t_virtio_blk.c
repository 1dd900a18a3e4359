/*
 * virtio-blk end to end inside the test process: a small driver written
 * here sets the device up through PCI configuration space and BAR4 exactly
 * as a guest would, posts requests in fake guest memory, notifies, and
 * waits for the used ring.  No kernel module is involved: MSI-X messages
 * are aimed at guest RAM, where they land as plain writes.
 */
#include <atf-c.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/device.h"
#include "devices/pci/pci.h"
#include "vmm/abi.h"
#include "vmm/tests/fakevm.h"
#include "vmm/vm.h"

#define RAM (4u << 20)
#define DESC 0x10000u
#define AVAIL 0x11000u
#define USED 0x12000u
#define BUF 0x20000u
#define MSG_AT 0x30000u
#define QSZ 16
#define SLOT 4

static struct vm *vm;
static struct vcpu cpu;
static uint64_t bar4;
static char disk[64];

static void
mmio(uint64_t a, void *d, unsigned len, bool write)
{
	ATF_REQUIRE_EQ(bus_access(&vm->mmio, &cpu, a, d, len, write), 0);
}

static uint32_t
cfg32(unsigned off)
{
	uint32_t a = 0x80000000u | SLOT << 11 | off, v;
	bus_access(&vm->pio, &cpu, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(&vm->pio, &cpu, 0xcfc, (uint8_t *)&v, 4, false);
	return v;
}

static void
cfgw(unsigned off, unsigned len, uint32_t v)
{
	uint32_t a = 0x80000000u | SLOT << 11 | (off & 0xfc);
	bus_access(&vm->pio, &cpu, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(&vm->pio, &cpu, 0xcfc + (off & 3), (uint8_t *)&v, len, true);
}

static void
cw(unsigned off, unsigned len, uint64_t v)
{
	mmio(bar4 + off, &v, len, true);
}

static uint64_t
cr(unsigned off, unsigned len)
{
	uint64_t v = 0;
	mmio(bar4 + off, &v, len, false);
	return v;
}

static void
make_vm(const char *conf_extra)
{
	snprintf(disk, sizeof(disk), "/tmp/hyve-t-blk-%d.img", (int)getpid());
	int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ATF_REQUIRE(fd >= 0);
	ATF_REQUIRE_EQ(ftruncate(fd, 1 << 20), 0);  /* 2048 sectors */
	close(fd);
	vm = fakevm_new(RAM, 0);
	ATF_REQUIRE(vm != NULL);
	cpu.vm = vm;
	char err[300], conf[128];
	ATF_REQUIRE_EQ(fakevm_add(vm, "hostbridge", NULL, NULL, err,
	    sizeof(err)), 0);
	snprintf(conf, sizeof(conf), "%s%s", disk, conf_extra);
	int r = fakevm_add(vm, "virtio-blk", "4", conf, err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
}

static void
free_vm(void)
{
	fakevm_free(vm);
	unlink(disk);
}

/* The driver's side of device initialisation (virtio 1.x, 3.1.1). */
static void
driver_init(uint64_t want)
{
	ATF_REQUIRE_EQ(cfg32(0), 0x10421af4u);          /* virtio-blk, modern */
	bar4 = (cfg32(PCI_BASE_ADDRESS_4) & ~15u) |
	    (uint64_t)cfg32(PCI_BASE_ADDRESS_5) << 32;
	uint32_t bar1 = cfg32(PCI_BASE_ADDRESS_1) & ~15u;
	cfgw(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	    VIRTIO_CONFIG_S_DRIVER);
	cw(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	uint64_t f = cr(VIRTIO_PCI_COMMON_DF, 4) << 32;
	cw(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	f |= cr(VIRTIO_PCI_COMMON_DF, 4);
	ATF_REQUIRE(f & (1ull << VIRTIO_F_VERSION_1));
	want &= f;
	cw(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	cw(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)want);
	cw(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cw(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(want >> 32));
	cw(VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	    VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	ATF_REQUIRE(cr(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* MSI-X entry 0 -> RAM, then enable MSI-X. */
	uint64_t addr = MSG_AT;
	uint32_t data = 0x51, ctl = 0;
	mmio(bar1, &addr, 8, true);
	mmio(bar1 + 8, &data, 4, true);
	mmio(bar1 + 12, &ctl, 4, true);
	unsigned p = cfg32(PCI_CAPABILITY_LIST) & 0xff;
	while (p && (cfg32(p) & 0xff) != PCI_CAP_ID_MSIX)
		p = (cfg32(p) >> 8) & 0xff;
	ATF_REQUIRE(p != 0);
	cfgw(p + 2, 2, PCI_MSIX_FLAGS_ENABLE | (cfg32(p) >> 16 & 0x7ff));
	cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	ATF_REQUIRE(cr(VIRTIO_PCI_COMMON_Q_SIZE, 2) >= QSZ);
	cw(VIRTIO_PCI_COMMON_Q_SIZE, 2, QSZ);
	cw(VIRTIO_PCI_COMMON_Q_DESCLO, 4, DESC);
	cw(VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
	cw(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, AVAIL);
	cw(VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
	cw(VIRTIO_PCI_COMMON_Q_USEDLO, 4, USED);
	cw(VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
	cw(VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	ATF_REQUIRE_EQ(cr(VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
	cw(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ATF_REQUIRE_EQ(cr(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	    VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
	    VIRTIO_CONFIG_S_DRIVER_OK);
}

static uint16_t avail_idx, used_seen;

static void
desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = vm->mem.lo + DESC + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Post a chain (already in the descriptor table) and wait for it. */
static uint32_t
submit(uint16_t head)
{
	memcpy(vm->mem.lo + AVAIL + 4 + 2 * (avail_idx % QSZ), &head, 2);
	avail_idx++;
	__atomic_store_n((uint16_t *)(vm->mem.lo + AVAIL + 2), avail_idx,
	    __ATOMIC_RELEASE);
	memset(vm->mem.lo + MSG_AT, 0, 4);
	cw(0x3000, 2, 0);                       /* notify queue 0 */
	for (int i = 0; i < 2000; i++) {
		uint16_t u = __atomic_load_n((uint16_t *)(vm->mem.lo + USED + 2),
		    __ATOMIC_ACQUIRE);
		if (u != used_seen) {
			uint32_t id, len;
			uint8_t *e = vm->mem.lo + USED + 4 + 8 * (used_seen % QSZ);
			memcpy(&id, e, 4);
			memcpy(&len, e + 4, 4);
			used_seen++;
			ATF_CHECK_EQ(id, head);
			return len;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	atf_tc_fail("request %u never completed", head);
	return 0;
}

/* A three-part request: header, data, status.  Returns the status. */
static uint8_t
request(uint32_t type, uint64_t sector, uint32_t len, bool data_in,
    uint32_t *used_len)
{
	struct { uint32_t type, prio; uint64_t sector; } h = { type, 0, sector };
	memcpy(vm->mem.lo + BUF, &h, 16);
	vm->mem.lo[BUF + 0x2000] = 0xee;
	desc(0, BUF, 16, VRING_DESC_F_NEXT, len ? 1 : 2);
	if (len)
		desc(1, BUF + 0x1000, len, VRING_DESC_F_NEXT |
		    (data_in ? VRING_DESC_F_WRITE : 0), 2);
	desc(2, BUF + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	*used_len = submit(0);
	return vm->mem.lo[BUF + 0x2000];
}

ATF_TC_WITHOUT_HEAD(write_read_flush);
ATF_TC_BODY(write_read_flush, tc)
{
	make_vm("");
	driver_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_FLUSH);
	uint64_t cap = cr(0x2000, 8);
	ATF_CHECK_EQ(cap, 2048);
	uint32_t used;
	for (int i = 0; i < 1024; i++)
		vm->mem.lo[BUF + 0x1000 + i] = (uint8_t)(i * 7 + 3);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_OUT, 100, 1024, false, &used),
	    VIRTIO_BLK_S_OK);
	ATF_CHECK_EQ(used, 1);
	ATF_CHECK_EQ(*(uint32_t *)(vm->mem.lo + MSG_AT), 0x51);  /* MSI-X */
	memset(vm->mem.lo + BUF + 0x1000, 0, 1024);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_IN, 100, 1024, true, &used),
	    VIRTIO_BLK_S_OK);
	ATF_CHECK_EQ(used, 1025);
	for (int i = 0; i < 1024; i++)
		if (vm->mem.lo[BUF + 0x1000 + i] != (uint8_t)(i * 7 + 3))
			atf_tc_fail("byte %d differs", i);
	/* And it is really in the file. */
	int fd = open(disk, O_RDONLY);
	uint8_t b[4];
	ATF_REQUIRE_EQ(pread(fd, b, 4, 100 * 512), 4);
	close(fd);
	ATF_CHECK(b[0] == 3 && b[1] == 10);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_FLUSH, 0, 0, false, &used),
	    VIRTIO_BLK_S_OK);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_GET_ID, 0, 20, true, &used),
	    VIRTIO_BLK_S_OK);
	ATF_CHECK(memcmp(vm->mem.lo + BUF + 0x1000, "hyve-4", 6) == 0);
	free_vm();
}

ATF_TC_WITHOUT_HEAD(bad_requests);
ATF_TC_BODY(bad_requests, tc)
{
	make_vm("");
	driver_init(1ull << VIRTIO_F_VERSION_1);
	uint32_t used;
	/* Past the end of the disk, or straddling it. */
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_IN, 2048, 512, true, &used),
	    VIRTIO_BLK_S_IOERR);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_OUT, 2047, 1024, false, &used),
	    VIRTIO_BLK_S_IOERR);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_IN, UINT64_MAX - 1, 512, true, &used),
	    VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors; an unknown type. */
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_IN, 0, 100, true, &used),
	    VIRTIO_BLK_S_IOERR);
	ATF_CHECK_EQ(request(77, 0, 512, true, &used), VIRTIO_BLK_S_UNSUPP);
	/* A chain with a buffer outside guest memory: returned with nothing
	 * written, and the device goes on. */
	desc(0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(1, RAM - 256, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(2, BUF + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	ATF_CHECK_EQ(submit(0), 0);
	/* A loop. */
	desc(0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(1, BUF + 0x1000, 16, VRING_DESC_F_NEXT, 0);
	ATF_CHECK_EQ(submit(0), 0);
	/* No status byte at all. */
	desc(0, BUF, 16, 0, 0);
	ATF_CHECK_EQ(submit(0), 0);
	/* Still working. */
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_IN, 0, 512, true, &used),
	    VIRTIO_BLK_S_OK);
	ATF_CHECK_EQ(cr(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET,
	    0);
	free_vm();
}

ATF_TC_WITHOUT_HEAD(read_only);
ATF_TC_BODY(read_only, tc)
{
	make_vm(",ro");
	driver_init(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_RO);
	cw(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	ATF_CHECK(cr(VIRTIO_PCI_COMMON_DF, 4) & (1u << VIRTIO_BLK_F_RO));
	uint32_t used;
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_OUT, 0, 512, false, &used),
	    VIRTIO_BLK_S_IOERR);
	ATF_CHECK_EQ(request(VIRTIO_BLK_T_IN, 0, 512, true, &used),
	    VIRTIO_BLK_S_OK);
	free_vm();
}

ATF_TC_WITHOUT_HEAD(feature_negotiation);
ATF_TC_BODY(feature_negotiation, tc)
{
	make_vm("");
	bar4 = (cfg32(PCI_BASE_ADDRESS_4) & ~15u) |
	    (uint64_t)cfg32(PCI_BASE_ADDRESS_5) << 32;
	cfgw(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 3);
	/* A legacy driver (no VERSION_1) is refused FEATURES_OK. */
	cw(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cw(VIRTIO_PCI_COMMON_GF, 4, 0);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	ATF_CHECK_EQ(cr(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* Features never offered are refused too. */
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 3);
	cw(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	cw(VIRTIO_PCI_COMMON_GF, 4, 1u | 1u << 30);
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	ATF_CHECK_EQ(cr(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* Rings outside guest memory: the queue stays disabled and the
	 * device asks for a reset. */
	cw(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	cw(VIRTIO_PCI_COMMON_Q_DESCLO, 4, RAM - 16);
	cw(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ATF_CHECK_EQ(cr(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ATF_CHECK(cr(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* A queue number beyond the device's reads as absent. */
	cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, 40);
	ATF_CHECK_EQ(cr(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	free_vm();
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, write_read_flush);
	ATF_TP_ADD_TC(tp, bad_requests);
	ATF_TP_ADD_TC(tp, read_only);
	ATF_TP_ADD_TC(tp, feature_negotiation);
	return atf_no_error();
}

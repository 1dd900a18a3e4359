/*
 * The legacy and transitional virtio PCI transport (virtio_legacy.c, the
 * transport= option, INTx): IDs and BARs per transport, the legacy
 * register file in I/O BAR0, fixed queue sizes and page-frame rings,
 * checks of what the driver writes, the ISR with INTx, MSI-X vectors at
 * the legacy offsets, and virtio-blk I/O through the legacy interface.
 */
#include <atf-c.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "devices/pci/pci.h"
#include "devices/virtio/virtio.h"
#include "vmm/tests/vdrv.h"

#define DISK_SECTORS 128
#define HDR VDRV_DATA
#define DATA (VDRV_DATA + 0x1000)
#define STATUS (VDRV_DATA + 0x100)

static char err[256];

static const char *
make_disk(void)
{
	static const char path[] = "legacy.img";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ATF_REQUIRE(fd >= 0);
	uint8_t sec[512];
	for (unsigned s = 0; s < DISK_SECTORS; s++) {
		memset(sec, (int)(s + 1), sizeof(sec));
		ATF_REQUIRE(write(fd, sec, sizeof(sec)) == sizeof(sec));
	}
	close(fd);
	return path;
}

static void
attach_blk(struct vdrv *v, const char *transport)
{
	char conf[128];
	snprintf(conf, sizeof(conf), "%s,transport=%s", make_disk(), transport);
	int r = vdrv_attach(v, "t", "virtio-blk", conf, err, sizeof(err));
	ATF_REQUIRE_MSG(r == 0, "%s", err);
}

static uint32_t
cfg(struct vdrv *v, unsigned off, unsigned len)
{
	uint32_t x = 0;
	ATF_REQUIRE_EQ(pci_cfg_read(v->f, off, len, &x), 0);
	return x;
}

static bool
has_vendor_cap(struct vdrv *v)
{
	for (unsigned at = cfg(v, PCI_CAPABILITY_LIST, 1), n = 0; at && n < 48;
	    at = cfg(v, at + 1, 1), n++)
		if (cfg(v, at, 1) == PCI_CAP_ID_VNDR)
			return true;
	return false;
}

/* Legacy bring-up: reset, ACKNOWLEDGE|DRIVER, features, queue 0, DRIVER_OK. */
static uint16_t
legacy_up(struct vdrv *v, uint32_t features)
{
	vdrv_legacy_write(v, VIRTIO_PCI_STATUS, 1, 0);
	vdrv_legacy_write(v, VIRTIO_PCI_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	    VIRTIO_CONFIG_S_DRIVER);
	vdrv_legacy_write(v, VIRTIO_PCI_GUEST_FEATURES, 4, features);
	uint16_t n = vdrv_legacy_queue(v, 0);
	vdrv_legacy_write(v, VIRTIO_PCI_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	    VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
	return n;
}

/* One virtio-blk request of len data bytes; returns the status byte. */
static uint8_t
blk_req(struct vdrv *v, uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	memcpy(vdrv_mem(v, HDR), &h, sizeof(h));
	*vdrv_mem(v, STATUS) = 0xee;
	struct vbuf b[3] = { { HDR, sizeof(h), false },
	    { DATA, len, type == VIRTIO_BLK_T_IN }, { STATUS, 1, true } };
	uint16_t head = vdrv_add(v, 0, b, 3);
	vdrv_kick(v, 0);
	uint32_t id, used;
	ATF_REQUIRE_MSG(vdrv_used(v, 0, &id, &used, 2000), "no completion");
	ATF_CHECK_EQ(id, head);
	return *vdrv_mem(v, STATUS);
}

ATF_TC_WITHOUT_HEAD(ids_and_bars);
ATF_TC_BODY(ids_and_bars, tc)
{
	static const struct { const char *t; uint16_t dev, sub; uint8_t rev;
	    bool io, caps; } want[] = {
		{ "modern", 0x1042, 0x1100, 1, false, true },
		{ "transitional", 0x1001, 2, 0, true, true },
		{ "legacy", 0x1001, 2, 0, true, false },
	};
	for (unsigned i = 0; i < 3; i++) {
		struct vdrv v;
		attach_blk(&v, want[i].t);
		ATF_CHECK_EQ(cfg(&v, PCI_VENDOR_ID, 2), 0x1af4);
		ATF_CHECK_EQ(cfg(&v, PCI_DEVICE_ID, 2), want[i].dev);
		ATF_CHECK_EQ(cfg(&v, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
		ATF_CHECK_EQ(cfg(&v, PCI_SUBSYSTEM_ID, 2), want[i].sub);
		ATF_CHECK_EQ(cfg(&v, PCI_REVISION_ID, 1), want[i].rev);
		ATF_CHECK_EQ(v.f->bar[0].type == PCI_BAR_IO, want[i].io);
		ATF_CHECK_EQ(v.f->bar[4].type == PCI_BAR_MEM64, want[i].caps);
		ATF_CHECK_EQ(has_vendor_cap(&v), want[i].caps);
		if (want[i].io) {
			/* 0x18 of registers and 60 bytes of configuration. */
			ATF_CHECK_EQ(v.f->bar[0].size, 128);
			ATF_CHECK_EQ(cfg(&v, PCI_BASE_ADDRESS_0, 4) & 3, 1);
		}
		ATF_CHECK(v.f->msix.cap != 0);
		ATF_CHECK_EQ(cfg(&v, PCI_INTERRUPT_PIN, 1), 1);
		ATF_CHECK_EQ(cfg(&v, PCI_INTERRUPT_LINE, 1), 16 + 3);
		vdrv_detach(&v);
	}
}

ATF_TC_WITHOUT_HEAD(device_ids);
ATF_TC_BODY(device_ids, tc)
{
	int sp[2];
	ATF_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0);
	char netconf[64];
	snprintf(netconf, sizeof(netconf), "fd=%d,transport=legacy", sp[0]);
	static const struct { const char *emul; uint16_t dev, type; } want[] = {
		{ "virtio-net", 0x1000, 1 }, { "virtio-console", 0x1003, 3 },
		{ "virtio-rng", 0x1005, 4 },
	};
	for (unsigned i = 0; i < 3; i++) {
		struct vdrv v;
		const char *conf = i == 0 ? netconf : i == 1 ?
		    "null,transport=transitional" : "transport=legacy";
		int r = vdrv_attach(&v, "t", want[i].emul, conf, err, sizeof(err));
		ATF_REQUIRE_MSG(r == 0, "%s: %s", want[i].emul, err);
		ATF_CHECK_EQ(cfg(&v, PCI_DEVICE_ID, 2), want[i].dev);
		ATF_CHECK_EQ(cfg(&v, PCI_SUBSYSTEM_ID, 2), want[i].type);
		vdrv_detach(&v);
	}
	close(sp[1]);
}

ATF_TC_WITHOUT_HEAD(bad_options);
ATF_TC_BODY(bad_options, tc)
{
	struct vdrv v;
	int r = vdrv_attach(&v, "t", "virtio-rng", "transport=old", err,
	    sizeof(err));
	ATF_CHECK(r < 0);
	ATF_CHECK_MSG(strstr(err, "transport=old") != NULL, "%s", err);
	vdrv_detach(&v);
	r = vdrv_attach(&v, "t", "virtio-rng", "transport=", err, sizeof(err));
	ATF_CHECK(r < 0);
	vdrv_detach(&v);
	r = vdrv_attach(&v, "t", "virtio-rng", "legacy", err, sizeof(err));
	ATF_CHECK(r < 0);
	ATF_CHECK_MSG(strstr(err, "takes no options") != NULL, "%s", err);
	vdrv_detach(&v);
	r = vdrv_attach(&v, "t", "virtio-console", "null,transport=legacy,null",
	    err, sizeof(err));
	ATF_CHECK(r < 0);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(features);
ATF_TC_BODY(features, tc)
{
	struct vdrv v;
	attach_blk(&v, "transitional");
	uint64_t modern = vdrv_device_features(&v);
	uint32_t legacy = (uint32_t)vdrv_legacy_read(&v,
	    VIRTIO_PCI_HOST_FEATURES, 4);
	/* The low 32 bits only: no VERSION_1. */
	ATF_CHECK(modern & (1ull << VIRTIO_F_VERSION_1));
	ATF_CHECK_EQ(legacy, (uint32_t)modern);
	ATF_CHECK(legacy & (1u << VIRTIO_BLK_F_FLUSH));
	/* Bits not offered are dropped; what was written reads back. */
	vdrv_legacy_write(&v, VIRTIO_PCI_GUEST_FEATURES, 4,
	    (1u << VIRTIO_BLK_F_FLUSH) | (1u << VIRTIO_BLK_F_GEOMETRY) |
	    (1u << VIRTIO_RING_F_INDIRECT_DESC));
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_GUEST_FEATURES, 4),
	    (1u << VIRTIO_BLK_F_FLUSH) | (1u << VIRTIO_RING_F_INDIRECT_DESC));
	/* Frozen once the driver is running. */
	legacy_up(&v, 1u << VIRTIO_BLK_F_FLUSH);
	vdrv_legacy_write(&v, VIRTIO_PCI_GUEST_FEATURES, 4, 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_GUEST_FEATURES, 4),
	    1u << VIRTIO_BLK_F_FLUSH);
	ATF_CHECK(!virtio_negotiated(v.d, VIRTIO_F_VERSION_1));
	/* Only whole registers: a 2-byte read of the features reads 0. */
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_HOST_FEATURES, 2), 0);
	/* Reset clears them. */
	vdrv_legacy_write(&v, VIRTIO_PCI_STATUS, 1, 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_GUEST_FEATURES, 4), 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_STATUS, 1), 0);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(queue_registers);
ATF_TC_BODY(queue_registers, tc)
{
	struct vdrv v;
	attach_blk(&v, "legacy");
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_SEL, 2, 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_NUM, 2), 256);
	/* The size is the device's. */
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_NUM, 2, 16);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_NUM, 2), 256);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_PFN, 4), 0);
	/* A queue that does not exist: size 0, PFN ignored. */
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_SEL, 2, 5);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_SEL, 2), 5);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_NUM, 2), 0);
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_PFN, 4, 0x100);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_PFN, 4), 0);
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_NOTIFY, 2, 5);
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_NOTIFY, 2, 0xffff);
	/* Rings in RAM: the PFN reads back and the rings follow it. */
	ATF_CHECK_EQ(vdrv_legacy_queue(&v, 0), 256);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_PFN, 4), 0x100);
	ATF_CHECK(v.d->vq[0].ready);
	ATF_CHECK_EQ(v.d->vq[0].desc_gpa, 0x100000u);
	ATF_CHECK_EQ(v.d->vq[0].avail_gpa, 0x100000u + 16 * 256);
	ATF_CHECK_EQ(v.d->vq[0].used_gpa, 0x100000u + 0x2000);
	/* PFN 0 takes the queue down. */
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_PFN, 4, 0);
	ATF_CHECK(!v.d->vq[0].ready);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_PFN, 4), 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_STATUS, 1) &
	    VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	/* Rings that end past RAM, or lie far beyond it: the queue stays
	 * off and the device needs a reset; nothing crashes. */
	uint32_t bad[] = { VDRV_RAM / 4096 - 1, 0xfffff, 0xffffffffu };
	for (unsigned i = 0; i < 3; i++) {
		vdrv_legacy_write(&v, VIRTIO_PCI_STATUS, 1, 0);
		vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_SEL, 2, 0);
		vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_PFN, 4, bad[i]);
		ATF_CHECK(!v.d->vq[0].ready);
		ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_QUEUE_PFN, 4), 0);
		ATF_CHECK(vdrv_legacy_read(&v, VIRTIO_PCI_STATUS, 1) &
		    VIRTIO_CONFIG_S_NEEDS_RESET);
		ATF_CHECK(vdrv_legacy_read(&v, VIRTIO_PCI_ISR, 1) & 2);
	}
	/* A reset clears NEEDS_RESET. */
	vdrv_legacy_write(&v, VIRTIO_PCI_STATUS, 1, 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_STATUS, 1), 0);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(blk_io);
ATF_TC_BODY(blk_io, tc)
{
	struct vdrv v;
	attach_blk(&v, "legacy");
	/* Device configuration right after the registers (no MSI-X): the
	 * capacity, as two 32-bit reads. */
	ATF_CHECK_EQ(vdrv_legacy_read(&v, 0x14, 4), DISK_SECTORS);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, 0x18, 4), 0);
	ATF_CHECK_EQ(legacy_up(&v, 1u << VIRTIO_BLK_F_FLUSH), 256);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, 5, 512), VIRTIO_BLK_S_OK);
	ATF_CHECK_EQ(vdrv_mem(&v, DATA)[0], 6);
	ATF_CHECK_EQ(vdrv_mem(&v, DATA)[511], 6);
	for (unsigned i = 0; i < 2048; i++)
		vdrv_mem(&v, DATA)[i] = (uint8_t)(i * 7 + 3);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_OUT, 10, 2048), VIRTIO_BLK_S_OK);
	memset(vdrv_mem(&v, DATA), 0, 2048);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, 10, 2048), VIRTIO_BLK_S_OK);
	unsigned bad = 0;
	for (unsigned i = 0; i < 2048; i++)
		bad += vdrv_mem(&v, DATA)[i] != (uint8_t)(i * 7 + 3);
	ATF_CHECK_EQ(bad, 0);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	/* The file holds it. */
	int fd = open("legacy.img", O_RDONLY);
	uint8_t sec[512];
	ATF_REQUIRE(pread(fd, sec, 512, 11 * 512) == 512);
	close(fd);
	ATF_CHECK_EQ(sec[0], (uint8_t)(512 * 7 + 3));
	/* Errors: past the end. */
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, DISK_SECTORS, 512),
	    VIRTIO_BLK_S_IOERR);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_OUT, DISK_SECTORS - 1, 1024),
	    VIRTIO_BLK_S_IOERR);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(unready_notify);
ATF_TC_BODY(unready_notify, tc)
{
	struct vdrv v;
	attach_blk(&v, "legacy");
	legacy_up(&v, 0);
	/* Down again: a request on the old rings is not served. */
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_SEL, 2, 0);
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_PFN, 4, 0);
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };
	memcpy(vdrv_mem(&v, HDR), &h, sizeof(h));
	struct vbuf b[2] = { { HDR, sizeof(h), false }, { STATUS, 1, true } };
	vdrv_add(&v, 0, b, 2);
	vdrv_kick(&v, 0);
	uint32_t id, len;
	ATF_CHECK(!vdrv_used(&v, 0, &id, &len, 200));
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_STATUS, 1) &
	    VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	vdrv_detach(&v);
}

/* The worker pushes, then raises INTx: wait for the level. */
static void
wait_level(struct vdrv *v)
{
	for (int i = 0; i < 200 && !v->f->intx_level; i++)
		usleep(1000);
}

ATF_TC_WITHOUT_HEAD(isr_intx);
ATF_TC_BODY(isr_intx, tc)
{
	struct vdrv v;
	attach_blk(&v, "transitional");
	legacy_up(&v, 0);
	ATF_CHECK(!v.f->intx_level);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, 1, 512), VIRTIO_BLK_S_OK);
	wait_level(&v);
	ATF_CHECK(v.f->intx_level);
	ATF_CHECK(v.f->intx_out);
	ATF_CHECK(cfg(&v, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* INTx disable masks the output, not the status bit. */
	pci_cfg_write(v.f, PCI_COMMAND, 2, cfg(&v, PCI_COMMAND, 2) |
	    PCI_COMMAND_INTX_DISABLE);
	ATF_CHECK(!v.f->intx_out);
	ATF_CHECK(cfg(&v, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_cfg_write(v.f, PCI_COMMAND, 2, cfg(&v, PCI_COMMAND, 2) &
	    ~PCI_COMMAND_INTX_DISABLE);
	ATF_CHECK(v.f->intx_out);
	/* Read to clear: the line goes low. */
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_ISR, 1), 1);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_ISR, 1), 0);
	ATF_CHECK(!v.f->intx_level);
	ATF_CHECK(!v.f->intx_out);
	ATF_CHECK_EQ(cfg(&v, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	/* The modern ISR is the same register. */
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, 2, 512), VIRTIO_BLK_S_OK);
	wait_level(&v);
	ATF_CHECK_EQ(vdrv_read(&v, 0x1000, 1), 1);
	ATF_CHECK(!v.f->intx_level);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(msix_offsets);
ATF_TC_BODY(msix_offsets, tc)
{
	struct vdrv v;
	attach_blk(&v, "legacy");
	/* Without MSI-X, 0x14 is the configuration (capacity). */
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_MSI_CONFIG_VECTOR, 2),
	    DISK_SECTORS);
	pci_cfg_write(v.f, v.f->msix.cap + PCI_MSIX_FLAGS, 2,
	    PCI_MSIX_FLAGS_ENABLE);
	/* With it, the vectors, and the configuration moves to 0x18. */
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_MSI_CONFIG_VECTOR, 2),
	    VIRTIO_MSI_NO_VECTOR);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, 0x18, 4), DISK_SECTORS);
	vdrv_legacy_write(&v, VIRTIO_MSI_CONFIG_VECTOR, 2, 1);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_MSI_CONFIG_VECTOR, 2), 1);
	vdrv_legacy_write(&v, VIRTIO_PCI_QUEUE_SEL, 2, 0);
	vdrv_legacy_write(&v, VIRTIO_MSI_QUEUE_VECTOR, 2, 0);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_MSI_QUEUE_VECTOR, 2), 0);
	ATF_CHECK_EQ(v.d->vq[0].msix_vector, 0);
	/* A vector the table lacks reads back as none. */
	vdrv_legacy_write(&v, VIRTIO_MSI_QUEUE_VECTOR, 2, 2);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_MSI_QUEUE_VECTOR, 2),
	    VIRTIO_MSI_NO_VECTOR);
	vdrv_legacy_write(&v, VIRTIO_MSI_CONFIG_VECTOR, 2, 0x7fff);
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_MSI_CONFIG_VECTOR, 2),
	    VIRTIO_MSI_NO_VECTOR);
	/* A completion with MSI-X on does not touch INTx. */
	vdrv_legacy_write(&v, VIRTIO_MSI_QUEUE_VECTOR, 2, 0);
	vdrv_legacy_write(&v, VIRTIO_PCI_GUEST_FEATURES, 4, 0);
	vdrv_legacy_queue(&v, 0);
	vdrv_legacy_write(&v, VIRTIO_PCI_STATUS, 1, VIRTIO_CONFIG_S_DRIVER_OK);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, 3, 512), VIRTIO_BLK_S_OK);
	usleep(20000);
	ATF_CHECK(!v.f->intx_level);
	ATF_CHECK_EQ(v.d->vq[0].msix_vector, 0);
	vdrv_detach(&v);
}

ATF_TC_WITHOUT_HEAD(transitional_modern_driver);
ATF_TC_BODY(transitional_modern_driver, tc)
{
	/* A modern driver on a transitional device: BAR4 as usual. */
	struct vdrv v;
	attach_blk(&v, "transitional");
	ATF_REQUIRE(vdrv_negotiate(&v, 1ull << VIRTIO_F_VERSION_1));
	vdrv_queue(&v, 0, 16);
	vdrv_driver_ok(&v);
	ATF_CHECK_EQ(blk_req(&v, VIRTIO_BLK_T_IN, 7, 512), VIRTIO_BLK_S_OK);
	ATF_CHECK_EQ(vdrv_mem(&v, DATA)[100], 8);
	/* The legacy view of the same state. */
	ATF_CHECK_EQ(vdrv_legacy_read(&v, VIRTIO_PCI_STATUS, 1),
	    vdrv_status(&v));
	vdrv_detach(&v);
}

ATF_TP_ADD_TCS(tp)
{
	ATF_TP_ADD_TC(tp, ids_and_bars);
	ATF_TP_ADD_TC(tp, device_ids);
	ATF_TP_ADD_TC(tp, bad_options);
	ATF_TP_ADD_TC(tp, features);
	ATF_TP_ADD_TC(tp, queue_registers);
	ATF_TP_ADD_TC(tp, blk_io);
	ATF_TP_ADD_TC(tp, unready_notify);
	ATF_TP_ADD_TC(tp, isr_intx);
	ATF_TP_ADD_TC(tp, msix_offsets);
	ATF_TP_ADD_TC(tp, transitional_modern_driver);
	return atf_no_error();
}

/*
 * A minimal virtio 1.x driver for unit tests: a VM with RAM and the host
 * bridge but no vCPU, one device at slot 3 driven through its BAR4 as a
 * guest would (feature negotiation, queues, descriptors, kicks), and the
 * used rings read back with a timeout.  The device's worker thread does
 * the work, as with a guest.
 */
#ifndef HYVE_TEST_VDRV_H
#define HYVE_TEST_VDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vm.h"

#define VDRV_RAM (4u << 20)
#define VDRV_DATA 0x200000u     /* guest memory free for test buffers */
#define VDRV_MAXQ 8

struct vdrv {
	struct vm *vm;
	struct pci_func *f;
	struct virtio_dev *d;
	struct vcpu cpu;
	uint16_t qsize[VDRV_MAXQ];
	uint16_t avail_idx[VDRV_MAXQ], used_seen[VDRV_MAXQ];
	uint16_t next_desc[VDRV_MAXQ];
	bool legacy;            /* rings and kicks through the legacy BAR0 */
};

struct vbuf {
	uint64_t gpa;
	uint32_t len;
	bool write;             /* device-writable */
};

/* Create a VM named name and the device emul with conf at slot 3.  Returns
 * the device's init result; err holds its message. */
int vdrv_attach(struct vdrv *v, const char *name, const char *emul,
    const char *conf, char *err, size_t errlen);
void vdrv_detach(struct vdrv *v);

uint8_t *vdrv_mem(struct vdrv *v, uint64_t gpa);
uint64_t vdrv_read(struct vdrv *v, unsigned off, unsigned len);
void vdrv_write(struct vdrv *v, unsigned off, unsigned len, uint64_t val);
uint64_t vdrv_cfg_read(struct vdrv *v, unsigned off, unsigned len);
void vdrv_cfg_write(struct vdrv *v, unsigned off, unsigned len, uint64_t val);
uint64_t vdrv_device_features(struct vdrv *v);
uint8_t vdrv_status(struct vdrv *v);
/* Reset, ACKNOWLEDGE, DRIVER, write features, FEATURES_OK: true if the
 * device kept FEATURES_OK. */
bool vdrv_negotiate(struct vdrv *v, uint64_t features);
/* Set up queue q with size entries; its rings lie at 1 MiB + q * 32 KiB. */
void vdrv_queue(struct vdrv *v, unsigned q, uint16_t size);
void vdrv_driver_ok(struct vdrv *v);
/* Put a chain of n buffers on queue q (not kicked); returns its head. */
uint16_t vdrv_add(struct vdrv *v, unsigned q, const struct vbuf *b,
    unsigned n);
void vdrv_kick(struct vdrv *v, unsigned q);
/* The legacy interface (I/O BAR0, virtio_legacy.c): register access, and
 * queue q set up at its fixed size by page frame number (rings at 1 MiB +
 * q * 32 KiB in the legacy layout); from then on the driver uses the legacy
 * layout and notify register.  Returns the queue's size. */
uint64_t vdrv_legacy_read(struct vdrv *v, unsigned off, unsigned len);
void vdrv_legacy_write(struct vdrv *v, unsigned off, unsigned len,
    uint64_t val);
uint16_t vdrv_legacy_queue(struct vdrv *v, unsigned q);
/* Wait up to ms for the next used entry of q. */
bool vdrv_used(struct vdrv *v, unsigned q, uint32_t *id, uint32_t *len,
    int ms);

#endif

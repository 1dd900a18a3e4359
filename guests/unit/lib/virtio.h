/*
 * A minimal virtio driver for test kernels, over the modern PCI transport
 * (virtio 1.x: the vendor capabilities) or the legacy one (virtio 0.9.5:
 * registers in I/O BAR0, vdev_find_legacy): feature negotiation, split virtqueues
 * (direct and indirect chains, event index optional), MSI-X vectors,
 * notification and completion by polling or by interrupt.  The caller owns
 * all memory (identity-mapped guest RAM): each queue takes one
 * VQ_MEM_BYTES area aligned to 4 KiB.
 */
#ifndef UNIT_VIRTIO_H
#define UNIT_VIRTIO_H

#include <stdint.h>
#include "pci.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Device status. */
#define VS_ACKNOWLEDGE 1
#define VS_DRIVER 2
#define VS_DRIVER_OK 4
#define VS_FEATURES_OK 8
#define VS_NEEDS_RESET 0x40
#define VS_FAILED 0x80

/* Transport feature bits. */
#define VF_INDIRECT_DESC 28
#define VF_EVENT_IDX 29
#define VF_VERSION_1 32

/* Common configuration offsets. */
#define VC_DFSELECT 0x00
#define VC_DF 0x04
#define VC_GFSELECT 0x08
#define VC_GF 0x0c
#define VC_MSIX 0x10
#define VC_NUMQ 0x12
#define VC_STATUS 0x14
#define VC_CFGGEN 0x15
#define VC_Q_SELECT 0x16
#define VC_Q_SIZE 0x18
#define VC_Q_MSIX 0x1a
#define VC_Q_ENABLE 0x1c
#define VC_Q_NOFF 0x1e
#define VC_Q_DESC 0x20
#define VC_Q_AVAIL 0x28
#define VC_Q_USED 0x30
#define VIRTIO_NO_VECTOR 0xffff

/* Legacy registers (I/O BAR0). */
#define VL_HOST_FEATURES 0x00
#define VL_GUEST_FEATURES 0x04
#define VL_QUEUE_PFN 0x08
#define VL_QUEUE_NUM 0x0c
#define VL_QUEUE_SEL 0x0e
#define VL_QUEUE_NOTIFY 0x10
#define VL_STATUS 0x12
#define VL_ISR 0x13
#define VL_CONFIG_VECTOR 0x14           /* with MSI-X enabled */
#define VL_QUEUE_VECTOR 0x16
#define VL_CONFIG(msix) ((msix) ? 0x18 : 0x14)

/* Descriptor flags. */
#define VD_NEXT 1
#define VD_WRITE 2
#define VD_INDIRECT 4
#define VRING_AVAIL_NO_INTERRUPT 1

#define VQ_MAX 256
#define VQ_MEM_BYTES (3 * 4096)         /* desc, avail, used for VQ_MAX entries */

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct virtq {
	uint16_t index, size;
	volatile struct vring_desc *desc;
	volatile uint16_t *avail;       /* flags, idx, ring[size], used_event */
	volatile uint32_t *used;        /* flags|idx, then {id, len} pairs; avail_event */
	uint16_t avail_idx;             /* next avail index to publish */
	uint16_t last_used;             /* next used entry to read */
	uint16_t next_desc;             /* descriptors handed out in order */
	volatile uint16_t *notify;
	uint16_t vector;                /* MSI-X entry, or VIRTIO_NO_VECTOR */
	int event_idx;
};

struct vdev {
	struct pci_dev pci;
	volatile uint8_t *common, *isr, *device, *notify;
	uint32_t notify_mult, device_len;
	volatile uint32_t *msix;        /* the MSI-X table */
	unsigned msix_n, msix_cap;
	uint64_t features;              /* accepted by the device */
	uint16_t io;                    /* legacy: BAR0's port base, else 0 */
};

/* A buffer of a chain. */
struct vbuf {
	uint64_t addr;
	uint32_t len;
	int write;                      /* device-writable */
};

/* Finds the index'th virtio device of this type (modern ID, else the
 * legacy ID of a transitional device) and maps its structures; 0 on
 * success, -1 when absent, -2 when its capabilities are unusable. */
int vdev_find(struct vdev *v, unsigned type, unsigned index);
/* The same for the index'th device with the legacy ID of this type
 * (transitional or legacy), driven through its legacy registers. */
int vdev_find_legacy(struct vdev *v, unsigned type, unsigned index);
/* The PCI device ID a legacy or transitional device of this type has. */
uint16_t vdev_legacy_id(unsigned type);
/* Legacy register access (v->io set). */
uint32_t vl_read(struct vdev *v, unsigned off, unsigned len);
void vl_write(struct vdev *v, unsigned off, unsigned len, uint32_t val);

uint8_t vdev_status(struct vdev *v);
void vdev_set_status(struct vdev *v, uint8_t s);
void vdev_reset(struct vdev *v);
uint64_t vdev_device_features(struct vdev *v);
/* Reset, ACKNOWLEDGE|DRIVER, write the features, FEATURES_OK; returns 0
 * when the device kept FEATURES_OK, -1 when it refused the set.  Legacy:
 * the low 32 bits are written (there is no FEATURES_OK) and v->features
 * is what the device kept. */
int vdev_negotiate(struct vdev *v, uint64_t features);
void vdev_driver_ok(struct vdev *v);

/* Device configuration (no generation loop: the caller compares
 * vdev_cfg_generation() around multi-field reads if it cares). */
uint8_t vdev_cfg8(struct vdev *v, unsigned off);
uint16_t vdev_cfg16(struct vdev *v, unsigned off);
uint32_t vdev_cfg32(struct vdev *v, unsigned off);
uint64_t vdev_cfg64(struct vdev *v, unsigned off);
uint8_t vdev_cfg_generation(struct vdev *v);

/* MSI-X: program entry e (APIC ID cpu, vector), enable the function. */
void vdev_msix_entry(struct vdev *v, unsigned e, unsigned cpu, unsigned vector);
void vdev_msix_enable(struct vdev *v);

/* Queue q with `size` entries in mem (VQ_MEM_BYTES, 4 KiB aligned), MSI-X
 * entry vector (or VIRTIO_NO_VECTOR).  Returns 0, or -1 if the device
 * refused it (queue absent, size above its maximum, enable not kept).
 * Legacy: the size is the device's (`size` must be 0 or equal it, and at
 * most VQ_MAX), the rings are laid out from mem's page frame. */
int vq_setup(struct vdev *v, unsigned q, struct virtq *vq, void *mem,
	     uint16_t size, uint16_t vector);
/* Queue a chain of n buffers (in consecutive descriptors); returns the head. */
uint16_t vq_add(struct virtq *vq, const struct vbuf *b, unsigned n);
/* The same through one descriptor pointing at an indirect table built in
 * `table` (16 bytes per buffer, in guest RAM). */
uint16_t vq_add_indirect(struct virtq *vq, const struct vbuf *b, unsigned n,
			 struct vring_desc *table);
/* Takes a descriptor for hand-made chains; publish the head with vq_publish. */
uint16_t vq_take_desc(struct virtq *vq);
void vq_publish(struct virtq *vq, uint16_t head);
void vq_kick(struct vdev *v, struct virtq *vq);
/* Used entries not yet consumed. */
int vq_has_used(struct virtq *vq);
/* The next used entry: 0, or -1 if none came within timeout_cycles (the
 * interrupt flag is left as it is). */
int vq_wait(struct virtq *vq, uint16_t *id, uint32_t *len, uint64_t timeout_cycles);
/* Event index: ask for an interrupt when used entry `idx` is written. */
void vq_set_used_event(struct virtq *vq, uint16_t idx);
uint16_t vq_avail_event(struct virtq *vq);
/* NO_INTERRUPT flag (without event index). */
void vq_set_no_interrupt(struct virtq *vq, int on);

/* Interrupts of the virtio test kernels: vdev_wait_irq waits up to 4 * 10^9
 * cycles until `want` interrupts arrived on `vector` (1 when they did);
 * vdev_settle lets late ones arrive. */
int vdev_wait_irq(unsigned vector, unsigned long want);
void vdev_settle(void);

#endif

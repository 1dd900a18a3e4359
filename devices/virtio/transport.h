/*
 * What the two register files of the virtio PCI transport share: the
 * modern one (virtio_pci.c, BAR4) and the legacy one (virtio_legacy.c,
 * I/O BAR0).  Everything runs with d->lock held.
 */
#ifndef HYVE_VIRTIO_TRANSPORT_H
#define HYVE_VIRTIO_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

#define VIRTIO_LEGACY_BAR 0

/* The driver wrote the device status (0 resets). */
void virtio_set_status(struct virtio_dev *d, uint8_t st);
/* Queue q's rings were given: map them and take the ring features, or
 * put the device in NEEDS_RESET when they lie outside RAM. */
void virtio_queue_enable(struct virtio_dev *d, unsigned q);
/* The driver notified queue q (ignored unless q exists). */
int virtio_kick(struct virtio_dev *d, unsigned q);
/* An MSI-X vector number the guest wrote: kept if the table has it. */
uint16_t virtio_vector(struct virtio_dev *d, uint64_t v);
/* Device configuration at offset o (o + len inside cfg_size). */
void virtio_cfg_access(struct virtio_dev *d, unsigned o, uint8_t *data,
    unsigned len, bool write);
/* ISR read: its value, cleared, and the INTx line lowered. */
uint8_t virtio_isr_read(struct virtio_dev *d);

/* virtio_legacy.c: the legacy register file. */
uint64_t virtio_legacy_bar_size(const struct virtio_dev *d);
uint16_t virtio_legacy_device_id(const struct virtio_ops *ops);
void virtio_legacy_io(struct virtio_dev *d, uint64_t off, uint8_t *data,
    unsigned len, bool write);

#endif

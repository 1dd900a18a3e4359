/* The local APIC, in x2APIC mode when the CPU offers it (MSRs 0x800+),
 * else in xAPIC mode through its MMIO page at 0xfee00000. */
#ifndef UNIT_APIC_H
#define UNIT_APIC_H

#include <stdint.h>

#define APIC_ID      0x20
#define APIC_VERSION 0x30
#define APIC_TPR     0x80
#define APIC_EOI     0xb0
#define APIC_SVR     0xf0
#define APIC_ESR     0x280
#define APIC_ICR     0x300
#define APIC_ICR2    0x310
#define APIC_LVTT    0x320
#define APIC_TMICT   0x380
#define APIC_TMCCT   0x390
#define APIC_TDCR    0x3e0
#define APIC_SELF_IPI 0x3f0     /* x2APIC only */

int apic_init(void);            /* enables the APIC; returns 1 in x2APIC mode */
int apic_x2(void);
uint32_t apic_read(unsigned reg);
void apic_write(unsigned reg, uint32_t v);
uint32_t apic_id(void);
void apic_eoi(void);
/* An interrupt handler that only acknowledges (idt.c counts the vector). */
struct trap_frame;
void apic_eoi_handler(struct trap_frame *f);
void apic_self_ipi(unsigned vector);
/* One-shot timer: fires `vector` after `count` ticks (divide by 1). */
void apic_timer_oneshot(unsigned vector, uint32_t count);
void apic_timer_stop(void);

#endif

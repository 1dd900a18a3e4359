#include "apic.h"
#include "x86.h"

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2     (1ull << 10)
#define APIC_MMIO        0xfee00000ull
#define CPUID1_ECX_X2APIC (1u << 21)

static int x2;

int apic_x2(void)
{
	return x2;
}

int apic_init(void)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);

	x2 = (cpuid(1).c & CPUID1_ECX_X2APIC) != 0;
	base |= APIC_BASE_ENABLE;
	wrmsr(MSR_IA32_APIC_BASE, base);
	if (x2)
		wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_X2);
	apic_write(APIC_SVR, 0x1ff);    /* software enable, spurious vector 0xff */
	apic_write(APIC_TPR, 0);
	return x2;
}

uint32_t apic_read(unsigned reg)
{
	if (x2)
		return (uint32_t)rdmsr(MSR_X2APIC_BASE + (reg >> 4));
	return *(volatile uint32_t *)(uintptr_t)(APIC_MMIO + reg);
}

void apic_write(unsigned reg, uint32_t v)
{
	if (x2)
		wrmsr(MSR_X2APIC_BASE + (reg >> 4), v);
	else
		*(volatile uint32_t *)(uintptr_t)(APIC_MMIO + reg) = v;
}

uint32_t apic_id(void)
{
	uint32_t id = apic_read(APIC_ID);

	return x2 ? id : id >> 24;
}

void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

void apic_self_ipi(unsigned vector)
{
	if (x2) {
		apic_write(APIC_SELF_IPI, vector & 0xff);
		return;
	}
	/* Fixed delivery, destination shorthand "self". */
	apic_write(APIC_ICR, 0x40000u | (vector & 0xff));
}

void apic_timer_oneshot(unsigned vector, uint32_t count)
{
	apic_write(APIC_TDCR, 0xb);     /* divide by 1 */
	apic_write(APIC_LVTT, vector & 0xff);
	apic_write(APIC_TMICT, count);
}

void apic_timer_stop(void)
{
	apic_write(APIC_LVTT, 1u << 16);
	apic_write(APIC_TMICT, 0);
}

void apic_eoi_handler(struct trap_frame *f)
{
	(void)f;
	apic_eoi();
}

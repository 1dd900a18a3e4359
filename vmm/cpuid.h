#ifndef HYVE_CPUID_H
#define HYVE_CPUID_H

struct vcpu;
struct vm_config;
/* Build and install vCPU's CPUID table: the host's supported leaves, hyve's
 * hypervisor leaves at 0x40000000 (KVM's moved to 0x40000100), and a
 * topology (leaves 1, 4, 0xb, 0x1f, 0x80000008) matching the vCPU count. */
int cpuid_setup(struct vcpu *vcpu, const struct vm_config *cfg);

#endif

/*
 * A test kernel for the control-socket tests (64-bit direct entry, see
 * vmm/abi.h).  It runs forever with interrupts enabled and lets the tests
 * watch it through the memory node:
 *   counter  incremented once per loop iteration (a reset starts it over)
 *   mirror   a copy of RBX, written every iteration (setreg rbx shows here)
 *   nmis     NMIs taken (hyvectl nmi)
 *   irqs     interrupts taken on vector 0x40 (hyvectl interrupt); the
 *            local APIC is software-enabled for them
 *   selfipis self-IPIs sent on vector 0x41, one per iteration (counted
 *            before the ICR write), for hyvectl's IPI statistics
 *   ipis     self-IPIs taken
 * Each iteration spins a while in the guest, then writes the counter to
 * the loopback register port, so the vCPU exits to user space steadily.
 * An exception other than NMI halts with interrupts off (hyve exits 2).
 */
	.code64
	.section .text, "ax"
	.globl _start
_start:
	lea	idt(%rip), %rdi
	xor	%esi, %esi			/* vector */
1:	lea	ignore(%rip), %rax
	cmp	$0x40, %esi
	jne	8f
	lea	irq40(%rip), %rax
8:	cmp	$0x41, %esi
	jne	5f
	lea	irq41(%rip), %rax
5:	cmp	$32, %esi
	jae	2f
	lea	fatal(%rip), %rax
	cmp	$2, %esi
	jne	2f
	lea	nmi(%rip), %rax
2:	mov	%ax, (%rdi)			/* offset 15:0 */
	movw	$0x08, 2(%rdi)			/* the boot code selector */
	movw	$0x8e00, 4(%rdi)		/* present interrupt gate */
	shr	$16, %rax
	mov	%ax, 6(%rdi)			/* offset 31:16 */
	shr	$16, %rax
	mov	%eax, 8(%rdi)			/* offset 63:32 */
	movl	$0, 12(%rdi)
	add	$16, %rdi
	inc	%esi
	cmp	$256, %esi
	jb	1b
	lidt	idtr(%rip)
	mov	$0xfee000f0, %eax		/* xAPIC spurious vector register */
	movl	$0x1ff, (%rax)			/* APIC on, spurious vector 0xff */
	sti
	mov	$0x534, %dx			/* HYVE_PORT_LOOP_REG (vmm/abi.h) */
loop:
	incq	counter(%rip)
	mov	%rbx, mirror(%rip)
	mov	$2000, %ecx
3:	dec	%ecx
	jnz	3b
	mov	counter(%rip), %eax
	out	%eax, %dx
	lock incq selfipis(%rip)
	mov	$0xfee00300, %eax		/* ICR: self, fixed, vector 0x41 */
	movl	$0x40041, (%rax)
	mov	$0x534, %dx
	jmp	loop

nmi:
	lock incq nmis(%rip)
	iretq
irq41:
	push	%rax
	lock incq ipis(%rip)
	mov	$0xfee000b0, %eax		/* EOI */
	movl	$0, (%rax)
	pop	%rax
	iretq
irq40:
	push	%rax
	lock incq irqs(%rip)
	mov	$0xfee000b0, %eax		/* EOI */
	movl	$0, (%rax)
	pop	%rax
	iretq
ignore:
	iretq
fatal:
	cli
4:	hlt
	jmp	4b

	.section .data, "aw"
	.balign 16
idt:	.fill	256 * 16, 1, 0
idtr:	.word	256 * 16 - 1
	.quad	idt
	.balign 8
	.globl counter, mirror, nmis, irqs, selfipis, ipis
counter: .quad	0
mirror:	.quad	0
nmis:	.quad	0
irqs:	.quad	0
selfipis: .quad	0
ipis:	.quad	0

	.section .note.GNU-stack, "", @progbits

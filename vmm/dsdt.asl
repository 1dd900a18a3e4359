/*
 * hyve's DSDT: the PCI root bridge with the windows hyve decodes (vmm/abi.h)
 * and the _S5 sleep type that ACPI power-off writes to the sleep control
 * register (FADT, hardware-reduced ACPI).  Compiled by iasl at build time.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "HYVE  ", "HYVEDSDT", 1)
{
    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))
            Name (_CID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_SEG, Zero)
            Name (_BBN, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x0000, 0x0000, 0x0001)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0xC000, 0xFFFF, 0x0000, 0x4000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x00000000, 0xC0000000, 0xDFFFFFFF, 0x00000000, 0x20000000)
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
                    NonCacheable, ReadWrite,
                    0x0000000000000000, 0x0000008000000000, 0x000000FFFFFFFFFF,
                    0x0000000000000000, 0x0000008000000000)
            })
            /* INTx routing (devices/pci/intx.c): slot N, pin INTA, to I/O APIC
             * input 16 + N % 8.  A hard-wired GSI is level-triggered and
             * active low to ACPI; the in-kernel I/O APIC takes the level hyve
             * drives either way. */
            Name (_PRT, Package ()
            {
                Package () { 0x0000FFFF, 0, 0, 16 },
                Package () { 0x0001FFFF, 0, 0, 17 },
                Package () { 0x0002FFFF, 0, 0, 18 },
                Package () { 0x0003FFFF, 0, 0, 19 },
                Package () { 0x0004FFFF, 0, 0, 20 },
                Package () { 0x0005FFFF, 0, 0, 21 },
                Package () { 0x0006FFFF, 0, 0, 22 },
                Package () { 0x0007FFFF, 0, 0, 23 },
                Package () { 0x0008FFFF, 0, 0, 16 },
                Package () { 0x0009FFFF, 0, 0, 17 },
                Package () { 0x000AFFFF, 0, 0, 18 },
                Package () { 0x000BFFFF, 0, 0, 19 },
                Package () { 0x000CFFFF, 0, 0, 20 },
                Package () { 0x000DFFFF, 0, 0, 21 },
                Package () { 0x000EFFFF, 0, 0, 22 },
                Package () { 0x000FFFFF, 0, 0, 23 },
                Package () { 0x0010FFFF, 0, 0, 16 },
                Package () { 0x0011FFFF, 0, 0, 17 },
                Package () { 0x0012FFFF, 0, 0, 18 },
                Package () { 0x0013FFFF, 0, 0, 19 },
                Package () { 0x0014FFFF, 0, 0, 20 },
                Package () { 0x0015FFFF, 0, 0, 21 },
                Package () { 0x0016FFFF, 0, 0, 22 },
                Package () { 0x0017FFFF, 0, 0, 23 },
                Package () { 0x0018FFFF, 0, 0, 16 },
                Package () { 0x0019FFFF, 0, 0, 17 },
                Package () { 0x001AFFFF, 0, 0, 18 },
                Package () { 0x001BFFFF, 0, 0, 19 },
                Package () { 0x001CFFFF, 0, 0, 20 },
                Package () { 0x001DFFFF, 0, 0, 21 },
                Package () { 0x001EFFFF, 0, 0, 22 },
                Package () { 0x001FFFFF, 0, 0, 23 }
            })
        }

        /* The ECAM window, reserved as motherboard resources. */
        Device (MCFG)
        {
            Name (_HID, EisaId ("PNP0C02"))
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000)
            })
        }

        /* COM1 and the RTC, so that the OS need not guess. */
        Device (COM1)
        {
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
                IRQNoFlags () {4}
            })
        }

        Device (RTC)
        {
            Name (_HID, EisaId ("PNP0B00"))
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                IRQNoFlags () {8}
            })
        }
    }

    Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
}

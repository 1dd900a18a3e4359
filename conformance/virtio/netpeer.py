#!/usr/bin/python3
"""Host side of the virtio-net cases (guests/unit/vnet.c), run inside the
test's network namespace.

netpeer.py ping ADDRESS COUNT TIMEOUT
  ICMP echo requests to ADDRESS (one a second, through the kernel's IP
  stack, so the guest must also answer ARP) until COUNT replies with the
  right identifier, sequence and payload came back.

netpeer.py echo IFNAME GUEST_MAC FRAMES TIMEOUT
  Waits for the guest's HELLO frame (ethertype 0x88b6) and checks it, then
sends FRAMES ECHO frames (0x88b5) of lengths from 60 to 1514 bytes to the
guest's MAC, each carrying a sequence number and a pattern, and checks
that each comes back unchanged from the guest; ends with STOP frames.
Exit status 0 when everything came back, 1 otherwise (with the reason)."""
import socket
import sys
import time

ETH_P_ALL = 0x0003
ECHO, HELLO = 0x88B5, 0x88B6
STOP = 0xFFFFFFFF


def fail(msg):
    print("netpeer: " + msg, file=sys.stderr)
    sys.exit(1)


def pattern(seq, start, end):
    return bytes(((seq * 7 + i) & 0xFF) for i in range(start, end))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ping(addr, count, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    deadline = time.monotonic() + timeout
    ident, seq, replies = 0x4859, 0, 0
    sent = {}           # seq -> payload; a late reply still counts once
    while replies < count:
        if time.monotonic() > deadline:
            fail("%d of %d echo replies from %s within %.0f s" % (replies, count, addr, timeout))
        seq += 1
        payload = bytes(((seq + i) & 0xFF) for i in range(56))
        sent[seq] = payload
        msg = bytearray(b"\x08\x00\x00\x00" + ident.to_bytes(2, "big") + seq.to_bytes(2, "big") + payload)
        msg[2:4] = checksum(bytes(msg)).to_bytes(2, "big")
        s.sendto(bytes(msg), (addr, 0))
        until = min(deadline, time.monotonic() + 1.0)
        while replies < count:
            left = until - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, src = s.recvfrom(65536)
            except socket.timeout:
                break
            ihl = (data[0] & 15) * 4
            icmp = data[ihl:]
            if src[0] != addr or icmp[0] != 0 or icmp[4:6] != ident.to_bytes(2, "big"):
                continue
            if checksum(icmp) != 0:
                fail("echo reply with a bad ICMP checksum")
            rseq = int.from_bytes(icmp[6:8], "big")
            if rseq not in sent:
                continue        # a duplicate, or one never sent
            if icmp[8:] != sent.pop(rseq):
                fail("echo reply %d with a changed payload" % rseq)
            replies += 1
            if rseq == seq:
                time.sleep(max(0.0, until - time.monotonic() - 0.8))
                break
    print("netpeer: %d echo replies from %s" % (replies, addr))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "ping":
        ping(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    if len(sys.argv) != 6 or sys.argv[1] != "echo":
        fail("usage: netpeer.py ping ADDRESS COUNT TIMEOUT | echo IFNAME GUEST_MAC FRAMES TIMEOUT")
    ifname, guest = sys.argv[2], bytes.fromhex(sys.argv[3].replace(":", ""))
    frames, timeout = int(sys.argv[4]), float(sys.argv[5])
    with open("/sys/class/net/%s/address" % ifname) as f:
        ours = bytes.fromhex(f.read().strip().replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    deadline = time.monotonic() + timeout

    def recv_from_guest(ethertype, until):
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, addr = s.recvfrom(65536)
            except socket.timeout:
                return None
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if data[6:12] == guest and int.from_bytes(data[12:14], "big") == ethertype:
                return data

    hello = recv_from_guest(HELLO, deadline)
    if hello is None:
        fail("no HELLO frame from the guest within %.0f s" % timeout)
    want = b"hyve-hello" + bytes((i & 0xFF) for i in range(24, 1014))
    if hello[:6] != b"\xff" * 6 or hello[14:1014] != want:
        fail("the HELLO frame is damaged (%d bytes)" % len(hello))
    for seq in range(frames):
        length = 60 + (seq * 97) % (1514 - 60 + 1)
        frame = guest + ours + ECHO.to_bytes(2, "big") + seq.to_bytes(4, "big")
        frame += pattern(seq, 18, length)
        for _ in range(20):
            if time.monotonic() > deadline:
                fail("out of time at frame %d" % seq)
            s.send(frame)
            got = recv_from_guest(ECHO, min(deadline, time.monotonic() + 1.0))
            while got is not None and got[14:18] != frame[14:18]:
                got = recv_from_guest(ECHO, min(deadline, time.monotonic() + 1.0))
            if got is not None:
                break
        else:
            fail("frame %d (%d bytes) never came back" % (seq, length))
        if got[:6] != ours or got[12:] != frame[12:]:
            fail("frame %d (%d bytes) came back changed (%d bytes)" % (seq, length, len(got)))
    stop = guest + ours + ECHO.to_bytes(2, "big") + STOP.to_bytes(4, "big") + bytes(42)
    for _ in range(5):
        s.send(stop)
        time.sleep(0.1)
    print("netpeer: %d frames echoed" % frames)


main()

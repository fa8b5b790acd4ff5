#!/usr/bin/env python3
"""Writes a pcap of one RTP stream for SIPp's play_pcap_audio: SECONDS of 20 ms
G.711 A-law packets (a 1 kHz tone) in Ethernet/IPv4/UDP frames.

usage: gen_pcap.py OUT.pcap [SECONDS]"""
import math
import struct
import sys


def alaw(sample):
    """16-bit linear PCM to 8-bit A-law (ITU-T G.711)."""
    sign = 0x80 if sample >= 0 else 0x00
    if sample < 0:
        sample = -sample - 1
    sample = min(sample, 32767) >> 3
    if sample < 32:
        exponent, mantissa = 0, sample >> 1
    else:
        exponent = sample.bit_length() - 5
        mantissa = (sample >> exponent) & 0x0F
    return ((exponent << 4) | mantissa | sign) ^ 0x55


def main():
    out = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    packets = int(seconds * 50)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        n = 0
        for i in range(packets):
            payload = bytes(alaw(int(8000 * math.sin(2 * math.pi * 1000 * (n + k) / 8000))) for k in range(160))
            n += 160
            rtp = struct.pack("!BBHII", 0x80, 8, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, 0x5157A4D) + payload
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
            frame = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
            ts = i * 0.02
            f.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Capture a data-channel-only offer and answer from aiortc.

usage: aiortc_capture.py OUTDIR
       aiortc_capture.py OUTDIR --answer-to OFFER.sdp OUT.sdp

aiortc's setLocalDescription() gathers before returning, so the local
description already carries the candidates. No ICE servers are configured.
Files are written in binary mode, byte for byte as aiortc produced them.
"""
import asyncio
import os
import sys

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription


def save(path, sdp):
    with open(path, "wb") as f:
        f.write(sdp.encode())
    print(f"saved {path}", file=sys.stderr)


def new_pc():
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def answer(offer_sdp):
    pc = new_pc()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc, pc.localDescription.sdp


async def main():
    outdir = sys.argv[1]
    if len(sys.argv) == 5 and sys.argv[2] == "--answer-to":
        with open(sys.argv[3], "rb") as f:
            offer_sdp = f.read().decode()
        pc, sdp = await answer(offer_sdp)
        save(os.path.join(outdir, sys.argv[4]), sdp)
        await pc.close()
        return
    offerer = new_pc()
    offerer.createDataChannel("chat")
    await offerer.setLocalDescription(await offerer.createOffer())
    offer_sdp = offerer.localDescription.sdp
    save(os.path.join(outdir, "aiortc-offer.sdp"), offer_sdp)
    answerer, answer_sdp = await answer(offer_sdp)
    save(os.path.join(outdir, "aiortc-answer.sdp"), answer_sdp)
    await answerer.close()
    await offerer.close()


asyncio.run(main())

// Capture a data-channel-only offer and answer from libdatachannel, through
// the node-datachannel npm package.
//
// usage: node ndc_capture.mjs OUTDIR
//        node ndc_capture.mjs OUTDIR --answer-to OFFER.sdp OUT.sdp
//
// On a loopback-only machine libdatachannel offers no host candidate at all,
// so the peers bind to 127.0.0.1 (its bindAddress option): that keeps
// everything on loopback and yields one loopback host candidate each.
//
// Each description is read with localDescription() once ICE gathering is
// complete, so it carries the candidates. No ICE servers are configured.
// Files are written byte for byte as libdatachannel produced them.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// node-datachannel is installed outside this repository (see capture.sh).
const require = createRequire(join(process.env.NDC_DIR || "/tmp/ndc", "x.js"));
const ndc = require("node-datachannel");

const CONFIG = { iceServers: [], bindAddress: "127.0.0.1" };

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.gatheringState() === "complete") return resolve();
    pc.onGatheringStateChange((s) => s === "complete" && resolve());
  });
}

function save(path, sdp) {
  writeFileSync(path, Buffer.from(sdp, "utf8"));
  console.error(`saved ${path}`);
}

async function answer(offerSdp, name) {
  const pc = new ndc.PeerConnection(name, CONFIG);
  const done = gathered(pc);
  pc.setRemoteDescription(offerSdp, "offer"); // answers automatically
  await done;
  return pc;
}

const [outdir, flag, offerPath, outName] = process.argv.slice(2);
const pcs = [];
if (flag === "--answer-to") {
  const pc = await answer(readFileSync(offerPath, "utf8"), "answerer");
  pcs.push(pc);
  save(join(outdir, outName), pc.localDescription().sdp);
} else {
  const offerer = new ndc.PeerConnection("offerer", CONFIG);
  const done = gathered(offerer);
  offerer.createDataChannel("chat"); // triggers the offer
  await done;
  const offerSdp = offerer.localDescription().sdp;
  save(join(outdir, "libdatachannel-offer.sdp"), offerSdp);
  const answerer = await answer(offerSdp, "answerer");
  save(join(outdir, "libdatachannel-answer.sdp"), answerer.localDescription().sdp);
  pcs.push(offerer, answerer);
}
console.error(`libdatachannel ${ndc.getLibraryVersion()}`);
pcs.forEach((pc) => pc.close());
process.exit(0);

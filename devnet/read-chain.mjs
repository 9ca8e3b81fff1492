// Reads the zkpot dev chain with polkadot.js (@polkadot/api), a client nobody in this
// project wrote, and prints what it decoded as one JSON document on stdout.
//
//   node read-chain.mjs ws://127.0.0.1:9944 [--blocks N]
//
// It decodes the runtime metadata, reads every storage item of the Zkpot pallet, the
// session's validators and Aura's authorities, and the Zkpot events of the last N blocks.
import { ApiPromise, WsProvider } from '@polkadot/api';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const blocksArg = process.argv.indexOf('--blocks');
const lastBlocks = blocksArg > 0 ? Number(process.argv[blocksArg + 1]) : 20;

function fail(message) {
  process.stderr.write(`read-chain: ${message}\n`);
  process.exit(1);
}

const provider = new WsProvider(url, false);
provider.on('error', () => {});
try {
  await Promise.race([
    provider.connect(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 15000)),
  ]);
} catch (e) {
  fail(`cannot connect to ${url}: ${e.message}`);
}
const api = await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });

const out = {};
out.chain = (await api.rpc.system.chain()).toString();
out.specName = api.runtimeVersion.specName.toString();
out.specVersion = api.runtimeVersion.specVersion.toNumber();
out.metadataVersion = api.runtimeMetadata.version;
out.pallets = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
if (!api.query.zkpot) fail('the runtime has no Zkpot pallet');

out.zkpot = { storage: {}, calls: Object.keys(api.tx.zkpot), events: Object.keys(api.events.zkpot) };
for (const [name, entry] of Object.entries(api.query.zkpot)) {
  const meta = entry.creator.meta;
  if (meta.type.isPlain) {
    out.zkpot.storage[name] = (await entry()).toJSON();
  } else {
    const entries = await entry.entries();
    out.zkpot.storage[name] = entries.map(([key, value]) => ({
      key: key.args.map((a) => a.toJSON()),
      value: value.toJSON(),
    }));
  }
}

out.session = {
  index: (await api.query.session.currentIndex()).toNumber(),
  validators: (await api.query.session.validators()).map((v) => v.toString()),
};
out.aura = { authorities: (await api.query.aura.authorities()).map((a) => a.toString()) };

const head = await api.rpc.chain.getHeader();
out.head = head.number.toNumber();
out.events = [];
for (let n = Math.max(1, out.head - lastBlocks + 1); n <= out.head; n++) {
  const hash = await api.rpc.chain.getBlockHash(n);
  const at = await api.at(hash);
  for (const { event } of await at.query.system.events()) {
    if (event.section !== 'zkpot') continue;
    const fields = {};
    event.meta.fields.forEach((f, i) => {
      fields[f.name.unwrapOr(String(i)).toString()] = event.data[i].toJSON();
    });
    out.events.push({ block: n, method: event.method, fields, docs: event.meta.docs.map((d) => d.toString()).join(' ') });
  }
}

process.stdout.write(JSON.stringify(out, null, 2) + '\n');
await api.disconnect();

#!/usr/bin/env node
'use strict';
// Writes a record on the master, reads it back from a slave, and prints the last binlog events.
//
//   cd client/node && npm ci && node example.js [--master 127.0.0.1:50051] [--slave 127.0.0.1:50052]
const { Client, grpc } = require('./semisync_client');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main() {
  const masterAddr = arg('master', '127.0.0.1:50051');
  const slaveAddr = arg('slave', '127.0.0.1:50052');
  const master = new Client(masterAddr);
  const slave = new Client(slaveAddr);
  try {
    const written = await master.createRecord(arg('content', 'hello from Node'));
    console.log(`created record ${written.record.id} at ${written.write.gtid} ` +
      `(position ${written.write.position}, semi-sync acked: ${written.write.semi_sync_acked})`);

    // Replication is asynchronous to readers: poll the slave until it has applied the write.
    const deadline = Date.now() + 30000;
    let record;
    for (;;) {
      try {
        record = await slave.getRecord(written.record.id);
        break;
      } catch (err) {
        if (err.code !== grpc.status.NOT_FOUND || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    console.log(`slave ${slaveAddr} has it: ${JSON.stringify(record.content)}`);

    console.log('the last binlog events:');
    const end = Number(written.write.position);
    const start = Math.max(0, end - 3);
    for await (const e of master.tailBinlog({ afterPosition: start, count: end - start })) {
      console.log(`  #${e.position} ${e.gtid} ${e.op.replace('ROW_OP_', '')} ` +
        `id=${e.record.id} ${JSON.stringify(e.record.content)}`);
    }
  } finally {
    master.close();
    slave.close();
  }
}

main().catch((err) => {
  console.error(`error: ${err.code !== undefined ? grpc.status[err.code] : ''}: ${err.details || err.message}`);
  process.exit(1);
});

'use strict';
// The Node client (client/node) against a live cluster started by run_with_cluster.py.
// Needs SEMISYNC_MASTER_ADDR / SEMISYNC_SLAVE_ADDR, and NODE_PATH pointing at the node_modules the
// npm_deps fixture installed (the CTest test sets both). Run: node --test node_client_test.js
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { execFile } = require('child_process');
const { Client, grpc } = require('../../client/node/semisync_client');

const MASTER = process.env.SEMISYNC_MASTER_ADDR;
const SLAVE = process.env.SEMISYNC_SLAVE_ADDR;
const EXAMPLE = path.resolve(__dirname, '..', '..', 'client', 'node', 'example.js');

// Polls condition() every 20 ms until it returns something other than undefined/null/false.
async function eventually(condition, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what} did not hold within ${timeoutMs} ms (last error: ${lastError})`);
}

async function getOrNull(client, id) {
  try {
    return await client.getRecord(id);
  } catch (err) {
    if (err.code === grpc.status.NOT_FOUND) return null;
    throw err;
  }
}

test('semisync Node client', { skip: !MASTER || !SLAVE }, async (t) => {
  const master = new Client(MASTER);
  const slave = new Client(SLAVE);
  t.after(() => { master.close(); slave.close(); });

  await t.test('a record created on the master is read back from the slave', async () => {
    const written = await master.createRecord('hello from Node');
    assert.ok(Number(written.record.id) > 0);
    assert.strictEqual(written.write.semi_sync_acked, true);
    const onSlave = await eventually(() => getOrNull(slave, written.record.id),
      'the slave has the record');
    assert.strictEqual(onSlave.content, 'hello from Node');
    assert.strictEqual(onSlave.created_at_us, written.record.created_at_us);
  });

  await t.test('tailBinlog yields the written events and never acks', async () => {
    const start = Number((await master.masterStatus()).binlog_end_position);
    const contents = ['node-a', 'node-b', 'node-c'];
    for (const c of contents) await master.createRecord(c);
    const events = [];
    let status;
    for await (const e of master.tailBinlog({ afterPosition: start,
      observerId: 'node-test-observer' })) {
      events.push(e);
      if (events.length === contents.length) {
        // While its stream is open the observer is listed, never acks, is no semi-sync client.
        status = await master.masterStatus();
        break;  // cancels the stream
      }
    }
    assert.deepStrictEqual(events.map((e) => e.record.content), contents);
    assert.deepStrictEqual(events.map((e) => Number(e.position)), [start + 1, start + 2, start + 3]);
    assert.ok(events.every((e) => e.op === 'ROW_OP_INSERT'));
    const observer = status.slaves.filter((s) => s.slave_id === 'node-test-observer');
    assert.strictEqual(observer.length, 1);
    assert.strictEqual(observer[0].semi_sync, false);
    assert.strictEqual(observer[0].acked_position, '0');
    assert.strictEqual(status.semi_sync.clients, 1);
    // An asynchronous observer leaves the list with its stream.
    await eventually(async () => !(await master.masterStatus()).slaves.some(
      (s) => s.slave_id === 'node-test-observer'), 'the observer is gone once its stream closed');
  });

  await t.test('tailBinlog follows live writes', async () => {
    const got = [];
    const tail = (async () => {
      for await (const e of master.tailBinlog({ count: 2, observerId: 'node-live-observer' })) {
        got.push(e.record.content);
      }
    })();
    await eventually(async () => (await master.masterStatus()).slaves.some(
      (s) => s.slave_id === 'node-live-observer' && s.connected), 'the tail is subscribed');
    await master.createRecord('live-1');
    await master.createRecord('live-2');
    await tail;
    assert.deepStrictEqual(got, ['live-1', 'live-2']);
  });

  await t.test('a write sent to the slave fails with FAILED_PRECONDITION', async () => {
    await assert.rejects(slave.createRecord('nope'),
      (err) => err.code === grpc.status.FAILED_PRECONDITION);
  });

  await t.test('slave status names the master', async () => {
    const m = await master.masterStatus();
    const s = await slave.slaveStatus();
    assert.strictEqual(s.master_uuid, m.server_uuid);
    assert.strictEqual(s.io_running, true);
  });

  await t.test('the example runs', async () => {
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, [EXAMPLE, '--master', MASTER, '--slave', SLAVE],
        { timeout: 60000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
    });
    assert.match(out, /has it: "hello from Node"/);
    assert.match(out, /INSERT/);
  });
});

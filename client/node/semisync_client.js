'use strict';
// A small Node.js client for semisync on @grpc/grpc-js. The .proto files are loaded at run time
// with @grpc/proto-loader (nothing is generated): protos/ of this repository, plus the googleapis
// directory for google/api/annotations.proto (Debian package
// golang-github-grpc-ecosystem-grpc-gateway-dev).
//
//   const { Client } = require('./semisync_client');
//   const master = new Client('127.0.0.1:50051');
//   const written = await master.createRecord('hello');  // { record: {id: '1', ...}, write: {...} }
//
// Messages use the proto field names (snake_case); int64/uint64 values are strings, enums their
// names. Errors are grpc-js ServiceErrors (err.code is a grpc.status number, err.details the text).
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', 'protos');
const DEFAULT_GOOGLEAPIS_DIR =
  '/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis';

// Loads semisync.v1 from the .proto files; returns the package object (service constructors).
function loadSemisync({
  protoDir = process.env.SEMISYNC_PROTO_DIR || DEFAULT_PROTO_DIR,
  googleapisDir = process.env.SEMISYNC_GOOGLEAPIS_DIR || DEFAULT_GOOGLEAPIS_DIR,
} = {}) {
  const files = ['records', 'binlog', 'replication', 'slave'].map(
    (name) => `semisync/v1/${name}.proto`);
  const definition = protoLoader.loadSync(files, {
    keepCase: true, // proto field names, as in the JSON of the CLI and the gateway
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [protoDir, googleapisDir],
  });
  return grpc.loadPackageDefinition(definition).semisync.v1;
}

let cachedPackage = null;

class Client {
  // address: "host:port" of a master or a slave. timeoutMs: deadline of each unary call.
  constructor(address, { timeoutMs = 30000, pkg } = {}) {
    const v1 = pkg || (cachedPackage = cachedPackage || loadSemisync());
    const creds = grpc.credentials.createInsecure();
    this.address = address;
    this.timeoutMs = timeoutMs;
    this.records = new v1.RecordsService(address, creds);
    this.replication = new v1.ReplicationService(address, creds);
    this.slave = new v1.SlaveService(address, creds);
  }

  close() {
    this.records.close();
    this.replication.close();
    this.slave.close();
  }

  _unary(stub, method, request) {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.timeoutMs);
      stub[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
    });
  }

  // Records (writes only on the master; a slave answers FAILED_PRECONDITION).
  createRecord(content) { return this._unary(this.records, 'CreateRecord', { content }); }
  getRecord(id) { return this._unary(this.records, 'GetRecord', { id: String(id) }); }
  listRecords({ afterId = 0, limit = 0 } = {}) {
    return this._unary(this.records, 'ListRecords', { after_id: String(afterId), limit });
  }
  updateRecord(id, content) {
    return this._unary(this.records, 'UpdateRecord', { id: String(id), content });
  }
  deleteRecord(id) { return this._unary(this.records, 'DeleteRecord', { id: String(id) }); }

  // Status and control.
  masterStatus() { return this._unary(this.replication, 'GetStatus', {}); }
  slaveStatus() { return this._unary(this.slave, 'GetStatus', {}); }
  async startSync() { return (await this._unary(this.slave, 'StartSync', {})).status; }
  async stopSync() { return (await this._unary(this.slave, 'StopSync', {})).status; }

  // Yields the master's binlog events live (async iterator), `count` of them or forever.
  // Registers as an observer that does not take part in semi-sync (semi_sync=false) and never
  // acks; the id defaults to "node-tail-<pid>" and shows up in the master's slave list.
  // afterPosition undefined starts at the current binlog end (only new events).
  async *tailBinlog({ afterPosition, count, observerId } = {}) {
    const slaveId = observerId || `node-tail-${process.pid}`;
    const reg = await this._unary(this.replication, 'RegisterSlave',
      { slave_id: slaveId, semi_sync: false });
    const start = afterPosition === undefined ? reg.binlog_end_position : String(afterPosition);
    const call = this.replication.SubscribeBinlog({ slave_id: slaveId, after_position: start });
    let seen = 0;
    try {
      for await (const message of call) { // heartbeats carry no events
        for (const event of message.events) {
          yield event;
          seen += 1;
          if (count !== undefined && seen >= count) return;
        }
      }
    } finally {
      call.cancel();
    }
  }
}

module.exports = { Client, loadSemisync, grpc };

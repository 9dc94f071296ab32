'use strict';
// Minimal Node Socket.IO monitoring server: the reference the app's Socket.IO endpoint is
// measured against (seed 003's stack, docs/protocols/app-seeds.md#seed-003: Node,
// socket.io v4, rooms per device).
//
// Reduced to what the benchmark exercises: an HTTP server with socket.io attached at the default
// /socket.io/ path, a token checked in the connect middleware (the Socket.IO `auth` payload or
// an `Authorization: Bearer` header, as the app accepts), `subscribe:device` joining the room
// `device:<id>` and answering with the current document and an ack, and every change emitted
// once to the room as `device:data` in the contract shape {deviceId, data, timestamp}
// (docs/app-api.md, "Wire contracts"), as the app sends it (socket.io encodes a broadcast packet once and writes the same frame to every member). Socket.IO's defaults otherwise: both transports, no
// per-message deflate, 25 s ping interval, 1 MB max buffer.
//
// The "state change" is an in-process ticker, the twin of bench/fanout/app_server.py and
// bench/reference/server.js: the same document (bench/fanout/document.json) with the same fields
// changed per tick, stamped with CLOCK_MONOTONIC in microseconds, so the load generator in
// another process measures latency.
//
// Usage: node server.js --port 9102 --token T --system sim-rooftop --document doc.json --rate 5
//   --rate 0 sends nothing after the first document (idle); --rate max ticks as fast as the
//   event loop turns. Prints "READY <port>" when listening; the ticker starts when a line
//   "start" arrives on stdin; exits on SIGTERM or stdin EOF. Listens with a backlog of 1024,
//   as the app's benchmark server does.

const fs = require('fs');
const http = require('http');
const path = require('path');
const { Server } = require(path.join(__dirname, 'node_modules', 'socket.io'));

function parseArgs(argv) {
  const args = { port: 9102, token: 'bench', system: 'sim-rooftop', document: null, rate: '0' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown option ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  if (!args.document) throw new Error('--document is required');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const template = JSON.parse(fs.readFileSync(args.document, 'utf8'));
const room = (systemId) => `device:${systemId}`;
let current = null; // the latest document
let seq = 0;

function monotonicMicros() {
  return Number(process.hrtime.bigint() / 1000n);
}

function nextDocument() {
  // Same changes as app_server.py: a counter, a stamp and one live value.
  seq += 1;
  const document = { ...template };
  document.bench = { seq, sent_us: monotonicMicros() };
  document.current_generation_kw = (301 + (seq % 99)) / 100;
  return document;
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  res.writeHead(404);
  res.end();
});
const io = new Server(server, { serveClient: false, maxHttpBufferSize: 64 * 1024 });

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  const header = socket.handshake.headers.authorization || '';
  const token = auth.token || (header.startsWith('Bearer ') ? header.slice(7) : null);
  if (token !== args.token) {
    const err = new Error('unauthorized: the token was not accepted');
    err.data = { code: 'unauthorized' };
    next(err);
    return;
  }
  next();
});

function systemIdOf(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') return value.system_id || value.deviceId || value.id;
  return null;
}

io.on('connection', (socket) => {
  socket.on('subscribe:device', (value, ack) => {
    const systemId = systemIdOf(value);
    if (systemId !== args.system) {
      const error = { code: 'unknown_system', message: `no system with id ${systemId}` };
      socket.emit('error', error);
      if (typeof ack === 'function') ack({ ok: false, error });
      return;
    }
    socket.join(room(systemId));
    if (current !== null) socket.emit('device:data', message(current));
    if (typeof ack === 'function') ack({ ok: true, system_id: systemId, alerts: [] });
  });
  socket.on('unsubscribe:device', (value, ack) => {
    const systemId = systemIdOf(value);
    socket.leave(room(systemId));
    if (typeof ack === 'function') ack({ ok: true, system_id: systemId });
  });
});

// The contract shape the app emits too: ({ deviceId, data, timestamp }).
function message(document) {
  return { deviceId: args.system, data: document, timestamp: new Date() };
}

function tick() {
  current = nextDocument();
  io.to(room(args.system)).emit('device:data', message(current));
}

function startTicker() {
  if (args.rate === 'max') {
    const loop = () => {
      tick();
      setImmediate(loop);
    };
    setImmediate(loop);
    return;
  }
  const rate = Number(args.rate);
  if (!(rate > 0)) return;
  // Open loop: tick k is due at start + k / rate, late ticks fire at once (like a feed would).
  const periodUs = 1e6 / rate;
  const start = monotonicMicros();
  let k = 0;
  const schedule = () => {
    k += 1;
    const wait = (start + k * periodUs - monotonicMicros()) / 1000;
    setTimeout(() => {
      tick();
      schedule();
    }, Math.max(0, wait));
  };
  schedule();
}

server.listen({ port: Number(args.port), host: '127.0.0.1', backlog: 1024 }, () => {
  tick(); // the document a client gets on subscribe
  process.stdout.write(`READY ${server.address().port}\n`);
});

// The stream starts when the harness says so (every client subscribed), so a flat-out stream
// does not starve the handshakes; stdin closing stops the server.
let started = false;
process.stdin.on('data', (chunk) => {
  if (!started && chunk.includes('start')) {
    started = true;
    startTicker();
  }
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

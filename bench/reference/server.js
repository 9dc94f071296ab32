'use strict';
// Minimal Node `ws` monitoring server: the reference the app's fan-out is measured against.
//
// Seed 000's stack (docs/protocols/app-seeds.md#seed-000), reduced to what the benchmark
// exercises: an HTTP server with a `ws` WebSocketServer on `/ws/monitoring/:systemId`,
// `Authorization: Bearer` checked at the upgrade,
// MonitoringData sent on connect and on every change, and broadcastToSystem() serializing each
// update once (JSON.stringify) and handing the same string to every open client's send().
// No compression (ws's server default), like the app when clients do not ask for it.
//
// The "state change" is an in-process ticker, the twin of bench/fanout/app_server.py: the same
// document (bench/fanout/document.json) with the same fields changed per tick, stamped with
// CLOCK_MONOTONIC in microseconds (process.hrtime is libuv's uv_hrtime: CLOCK_MONOTONIC, the
// clock Python's time.monotonic_ns reads), so clients in another process can measure latency.
//
// Usage: node server.js --port 9101 --token T --system sim-rooftop --document doc.json --rate 5
//   --rate 0 sends nothing after the first document (idle); --rate max ticks as fast as the
//   event loop turns. Prints "READY <port>" when listening; the ticker starts when a line
//   "start" arrives on stdin; exits on SIGTERM or stdin EOF. Listens with a backlog of 1024,
//   as the app's benchmark wrapper does.

const fs = require('fs');
const http = require('http');
const { WebSocketServer, WebSocket } = require('/usr/share/nodejs/ws');

function parseArgs(argv) {
  const args = { port: 9101, token: 'bench', system: 'sim-rooftop', document: null, rate: '0' };
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
const clients = new Map(); // systemId -> Set<WebSocket>
let current = null; // the latest frame, serialized once
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

function broadcastToSystem(systemId, message) {
  const data = JSON.stringify(message);
  current = data;
  const sockets = clients.get(systemId);
  if (!sockets) return;
  for (const ws of sockets) {
    if (ws.readyState === WebSocket.OPEN) ws.send(data);
  }
}

function tick() {
  const document = nextDocument();
  broadcastToSystem(args.system, { type: 'monitoring_data', system_id: args.system, data: document });
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
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

server.on('upgrade', (req, socket, head) => {
  const match = /^\/ws\/monitoring\/([^/?]+)$/.exec(req.url || '');
  if (!match || req.headers.authorization !== `Bearer ${args.token}`) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const systemId = decodeURIComponent(match[1]);
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (systemId !== args.system) {
      ws.send(JSON.stringify({ type: 'error', code: 'unknown_system', system_id: systemId }));
      ws.close(4404, 'unknown system');
      return;
    }
    let set = clients.get(systemId);
    if (!set) clients.set(systemId, (set = new Set()));
    set.add(ws);
    ws.on('close', () => set.delete(ws));
    ws.on('error', () => set.delete(ws));
    ws.on('message', () => {}); // clients only listen
    if (current !== null) ws.send(current);
  });
});

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
  tick(); // the document a client gets on connect
  process.stdout.write(`READY ${server.address().port}\n`);
});

// The stream starts when the harness says so (every client connected), so a flat-out
// stream does not starve the handshakes; stdin closing stops the server.
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

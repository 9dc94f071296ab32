'use strict';
// Seed 003's dashboard reduced to its Socket.IO client (docs/protocols/app-seeds.md#seed-003),
// for tests/addon/test_sio_dashboard.py: the real socket.io-client with its defaults
// (long-polling first, then the upgrade to WebSocket; reconnection on), subscribing on every
// connect and destructuring the events as the dashboards do. One JSON line per thing heard;
// closes when stdin ends.
//
//   node sio_dashboard.js NODE_MODULES URL TOKEN SYSTEM_ID
const [modules, url, token, system] = process.argv.slice(2);
const { io } = require(`${modules}/socket.io-client`);

const socket = io(url, { auth: { token }, reconnectionDelay: 100, reconnectionDelayMax: 200 });
const transport = () => socket.io.engine.transport.name;
const say = (event, fields) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

socket.on('connect', () => {
  socket.emit('subscribe:device', system, (reply) => say('subscribed', { ok: reply.ok }));
});
socket.on('device:data', ({ deviceId, data, timestamp }) => {
  say('data', { deviceId, kw: data.current_generation_kw, timestamp, transport: transport() });
});
socket.on('device:alerts', ({ deviceId, alerts }) => {
  say('alerts', { deviceId, rules: alerts.map((alert) => alert.rule) });
});
socket.on('disconnect', (reason) => say('disconnect', { reason }));
socket.on('connect_error', (err) => say('connect_error', { message: err.message }));
// Each (re)connection opens a new Engine.IO socket.
socket.io.on('open', () => {
  socket.io.engine.on('upgrade', () => say('upgrade', { transport: transport() }));
});

process.stdin.resume();
process.stdin.on('end', () => {
  socket.close();
  process.exit(0);
});

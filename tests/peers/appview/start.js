#!/usr/bin/env node
// A real Bluesky network for cmflow's metrics tests: PLC directory, PDS and AppView
// (@atproto/dev-env's TestNetwork, no mock data), every server on 127.0.0.1 only.
//
// Needs PostgreSQL and Redis, given by the environment (the Python fixture starts private
// ones on loopback ports): DB_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/postgres,
// REDIS_HOST=127.0.0.1:PORT. When the network is up, one JSON line goes to stdout:
//   {"pds": "http://127.0.0.1:PORT", "appview": "http://127.0.0.1:PORT"}
// Everything else goes to stderr. The servers stop when stdin reaches EOF (the test
// runner went away) or on SIGTERM/SIGINT.
'use strict'

const dns = require('node:dns')
const net = require('node:net')

const LOOPBACK = '127.0.0.1'
// dev-env builds its URLs with "localhost": resolve it to the IPv4 loopback we listen on.
dns.setDefaultResultOrder('ipv4first')

// Never listen on all interfaces: every TCP listen() in this process goes to 127.0.0.1.
const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0]
  if (first !== null && typeof first === 'object') {
    if (first.path === undefined && first.fd === undefined && first.port !== undefined) {
      args[0] = { ...first, host: LOOPBACK }
    }
    return originalListen.apply(this, args)
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return originalListen.apply(this, args)
  const rest = [...args]
  const options = { host: LOOPBACK, port: 0 }
  if (rest.length && typeof rest[0] !== 'function') {
    const port = rest.shift()
    options.port = port === undefined || port === null ? 0 : Number(port)
  }
  if (rest.length && (typeof rest[0] === 'string' || rest[0] === undefined || rest[0] === null)) {
    rest.shift()
  }
  if (rest.length && typeof rest[0] === 'number') options.backlog = rest.shift()
  const callback = rest.find((a) => typeof a === 'function')
  return callback
    ? originalListen.call(this, options, callback)
    : originalListen.call(this, options)
}

// Keep stdout for the one JSON line.
const writeStdout = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
if (!process.env.LOG_DESTINATION) process.env.LOG_DESTINATION = '/dev/stderr'

async function main() {
  for (const name of ['DB_POSTGRES_URL', 'REDIS_HOST']) {
    if (!process.env[name]) {
      process.stderr.write(`start.js: ${name} is not set\n`)
      process.exit(2)
    }
  }
  const { TestNetwork } = require('@atproto/dev-env')
  // A private database per run (the Python fixture's own cluster): one fixed schema name
  // (letters and underscores only, as the AppView requires).
  const network = await TestNetwork.create({ dbPostgresSchema: 'cmflow' })
  const local = (url) => url.replace('//localhost:', `//${LOOPBACK}:`)
  writeStdout(JSON.stringify({ pds: local(network.pds.url), appview: local(network.bsky.url) }) + '\n')

  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    try {
      await network.close()
    } catch (err) {
      process.stderr.write(`start.js: close: ${err}\n`)
    }
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop)
  process.stdin.on('close', stop)
  process.stdin.resume()
}

main().catch((err) => {
  process.stderr.write(`start.js: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})

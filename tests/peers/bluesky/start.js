#!/usr/bin/env node
// A real Bluesky PDS (@atproto/pds) plus an in-memory PLC directory (@did-plc/server),
// both bound to 127.0.0.1 only, for cmflow's tests.
//
// Usage:
//   node start.js [--pds-port N] [--plc-port N] [--watch-stdin]
//
// Ports also come from the environment (PDS_PORT, PLC_PORT); 0 or unset means "pick a
// free port". Any other PDS_* variable is passed through to the PDS config (for example
// PDS_RATE_LIMITS_ENABLED=true for real 429s, PDS_ADMIN_PASSWORD to use admin routes).
// With --watch-stdin (or CMFLOW_PDS_WATCH_STDIN=1) the servers stop when stdin reaches
// EOF, so they never outlive a test runner that died without cleaning up.
//
// When both servers are up, exactly one JSON line goes to stdout:
//   {"pds": "http://127.0.0.1:PORT", "plc": "http://127.0.0.1:PORT"}
// Everything else (logs, errors) goes to stderr. SIGTERM/SIGINT stop both servers,
// remove the temporary data directory and exit 0.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const LOOPBACK = '127.0.0.1'

// ---------------------------------------------------------------------------
// 1. Never listen on all interfaces: every TCP listen() in this process is forced
//    onto 127.0.0.1 (whatever host, if any, the library asked for).
const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0]
  const isPipe = (o) =>
    typeof o === 'string' && !/^\d+$/.test(o) // a unix socket / named pipe path
  if (first !== null && typeof first === 'object') {
    // listen(options[, cb]) or listen(handle[, backlog][, cb])
    if (first.path === undefined && first.fd === undefined && first.port !== undefined) {
      args[0] = { ...first, host: LOOPBACK }
    } else if (
      first.path === undefined &&
      first.fd === undefined &&
      first._handle === undefined &&
      first.handle === undefined
    ) {
      args[0] = { ...first, port: 0, host: LOOPBACK }
    }
    return originalListen.apply(this, args)
  }
  if (isPipe(first)) return originalListen.apply(this, args)
  // listen([port][, host][, backlog][, cb])
  const rest = [...args]
  const options = { host: LOOPBACK, port: 0 }
  if (rest.length && typeof rest[0] !== 'function') {
    const port = rest.shift()
    options.port = port === undefined || port === null ? 0 : Number(port)
  }
  if (rest.length && (typeof rest[0] === 'string' || rest[0] === undefined || rest[0] === null)) {
    rest.shift() // requested host: ignored on purpose
  }
  if (rest.length && typeof rest[0] === 'number') options.backlog = rest.shift()
  const callback = rest.find((a) => typeof a === 'function')
  return callback
    ? originalListen.call(this, options, callback)
    : originalListen.call(this, options)
}

// ---------------------------------------------------------------------------
// 2. Keep stdout for the single JSON line: route console output and pino logs
//    (enable them with LOG_ENABLED=true) to stderr.
const writeStdout = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
if (!process.env.LOG_DESTINATION) process.env.LOG_DESTINATION = '/dev/stderr'

// ---------------------------------------------------------------------------
function parseArgs(argv) {
  const out = { pdsPort: undefined, plcPort: undefined, watchStdin: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined]
    const value = () => {
      if (inline !== undefined) return inline
      i += 1
      if (i >= argv.length) fail(`missing value for ${flag}`)
      return argv[i]
    }
    if (flag === '--pds-port') out.pdsPort = value()
    else if (flag === '--plc-port') out.plcPort = value()
    else if (flag === '--watch-stdin') out.watchStdin = true
    else if (flag === '-h' || flag === '--help') {
      process.stderr.write('usage: node start.js [--pds-port N] [--plc-port N] [--watch-stdin]\n')
      process.exit(0)
    } else fail(`unknown argument: ${arg}`)
  }
  return out
}

function parsePort(raw, name) {
  if (raw === undefined || raw === null || raw === '') return 0
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid ${name}: ${raw}`)
  return port
}

function fail(message) {
  process.stderr.write(`start.js: ${message}\n`)
  process.exit(2)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.once('error', reject)
    probe.listen(0, LOOPBACK, () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

// secp256k1 group order: a private key must be in [1, n-1].
const SECP256K1_N = BigInt(
  '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141',
)
function randomK256PrivateKeyHex() {
  for (;;) {
    const hex = crypto.randomBytes(32).toString('hex')
    const k = BigInt(`0x${hex}`)
    if (k > 0n && k < SECP256K1_N) return hex
  }
}

function assertLoopback(server, what) {
  const addr = server.address()
  if (!addr || typeof addr === 'string' || addr.address !== LOOPBACK) {
    throw new Error(`${what} is not bound to ${LOOPBACK}: ${JSON.stringify(addr)}`)
  }
  return addr.port
}

// ---------------------------------------------------------------------------
const state = { plc: null, pds: null, dataDir: null, stopping: null }

function removeDataDir() {
  if (state.dataDir) {
    try {
      fs.rmSync(state.dataDir, { recursive: true, force: true })
    } catch (err) {
      process.stderr.write(`start.js: could not remove ${state.dataDir}: ${err}\n`)
    }
    state.dataDir = null
  }
}

function stop(reason, exitCode = 0) {
  if (state.stopping) return state.stopping
  state.stopping = (async () => {
    process.stderr.write(`start.js: stopping (${reason})\n`)
    // Never hang on shutdown: a hard deadline, then exit anyway.
    const deadline = setTimeout(() => {
      process.stderr.write('start.js: shutdown took too long, exiting\n')
      removeDataDir()
      process.exit(exitCode || 1)
    }, 10000)
    deadline.unref()
    for (const [name, server] of [['pds', state.pds], ['plc', state.plc]]) {
      if (!server) continue
      try {
        await server.destroy()
      } catch (err) {
        process.stderr.write(`start.js: error stopping ${name}: ${err && err.stack || err}\n`)
      }
    }
    removeDataDir()
    process.exit(exitCode)
  })()
  return state.stopping
}

process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGHUP', () => stop('SIGHUP'))
process.on('exit', removeDataDir) // last resort: never leave the temp dir behind
process.on('uncaughtException', (err) => {
  process.stderr.write(`start.js: uncaught exception: ${err && err.stack || err}\n`)
  stop('uncaught exception', 1)
})
process.on('unhandledRejection', (err) => {
  process.stderr.write(`start.js: unhandled rejection: ${err && err.stack || err}\n`)
  stop('unhandled rejection', 1)
})

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const requestedPlcPort = parsePort(args.plcPort ?? process.env.PLC_PORT, 'PLC port')
  const requestedPdsPort = parsePort(args.pdsPort ?? process.env.PDS_PORT, 'PDS port')
  const watchStdin = args.watchStdin || process.env.CMFLOW_PDS_WATCH_STDIN === '1'

  if (watchStdin) {
    process.stdin.on('data', () => {})
    process.stdin.on('end', () => stop('stdin closed'))
    process.stdin.on('error', () => stop('stdin error'))
    process.stdin.resume()
  }

  state.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmflow-pds-'))

  // -- PLC directory, in memory (what the official dev environment uses) ----------------
  const plcLib = require('@did-plc/server')
  state.plc = plcLib.PlcServer.create({ db: plcLib.Database.mock(), port: requestedPlcPort })
  const plcServer = await state.plc.start()
  const plcPort = assertLoopback(plcServer, 'PLC')
  const plcUrl = `http://${LOOPBACK}:${plcPort}`
  if (state.stopping) return

  // -- PDS: same entry point as the official container (service/index.js) ---------------
  const pdsPort = requestedPdsPort || (await freePort())
  const defaults = {
    PDS_HOSTNAME: 'localhost', // => http://localhost:PORT and *.test handles
    PDS_DEV_MODE: 'true',
    PDS_INVITE_REQUIRED: 'false',
    PDS_RATE_LIMITS_ENABLED: 'false',
    PDS_JWT_SECRET: crypto.randomBytes(16).toString('hex'),
    PDS_ADMIN_PASSWORD: crypto.randomBytes(16).toString('hex'),
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: randomK256PrivateKeyHex(),
  }
  for (const [key, value] of Object.entries(defaults)) {
    if (process.env[key] === undefined || process.env[key] === '') process.env[key] = value
  }
  // Forced: ports, storage in our temp dir, our PLC, no crawlers (no outbound requests).
  Object.assign(process.env, {
    PDS_PORT: String(pdsPort),
    PDS_DATA_DIRECTORY: state.dataDir,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(state.dataDir, 'blocks'),
    PDS_BLOBSTORE_DISK_TMP_LOCATION: path.join(state.dataDir, 'tmp'),
    PDS_DID_PLC_URL: plcUrl,
    PDS_CRAWLERS: '',
  })
  const pdsLib = require('@atproto/pds')
  const pdsPkg = require('@atproto/pds/package.json')
  const env = pdsLib.readEnv()
  env.version ||= pdsPkg.version
  const cfg = pdsLib.envToCfg(env)
  const secrets = pdsLib.envToSecrets(env)
  state.pds = await pdsLib.PDS.create(cfg, secrets)
  if (state.stopping) return
  const pdsServer = await state.pds.start()
  assertLoopback(pdsServer, 'PDS')
  if (state.stopping) return

  writeStdout(
    `${JSON.stringify({ pds: `http://${LOOPBACK}:${pdsPort}`, plc: plcUrl })}\n`,
  )
}

main().catch((err) => {
  process.stderr.write(`start.js: failed to start: ${err && err.stack || err}\n`)
  stop('startup failure', 1)
})

// bench/aedes/node.js: one aedes node for bench/run's cross-broker comparison.
//
//   node bench/aedes/node.js --port P --redis HOST:PORT [--id NAME]
//
// Messages between nodes go through Redis pub/sub (mqemitter-redis); QoS 1
// messages, subscriptions and retained messages are kept in Redis
// (aedes-persistence-redis). Anonymous, no authentication (the roost brokers
// in this workload run --insecure-no-auth too). Prints "listening PORT" on
// stdout once the MQTT listener is up; exits on SIGTERM/SIGINT.
import net from 'node:net'
import { createRequire } from 'node:module'
import { Aedes } from 'aedes'

const require = createRequire(import.meta.url)
const mqemitterRedis = require('mqemitter-redis')
const persistenceRedis = require('aedes-persistence-redis')

function arg (name, dflt) {
  const i = process.argv.indexOf('--' + name)
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}

const port = Number(arg('port', '1883'))
const [rhost, rport] = arg('redis', '127.0.0.1:6379').split(':')
const redisOpts = { host: rhost, port: Number(rport), family: 4 }

const mq = mqemitterRedis({ ...redisOpts })
const persistence = persistenceRedis({ ...redisOpts })
const broker = await Aedes.createBroker({
  id: arg('id', 'aedes-' + port),
  mq,
  persistence,
  concurrency: 1000,
  drainTimeout: 30000
})
broker.on('connectionError', (client, err) => {
  console.error('connectionError', client && client.id, err.message)
})

const server = net.createServer({ noDelay: true }, broker.handle)
server.listen(port, '127.0.0.1', () => console.log('listening', port))

let closing = false
function stop () {
  if (closing) return
  closing = true
  server.close()
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 3000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

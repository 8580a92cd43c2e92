// WebSocket upgrades (routes[].websocket): after the policy allowed the
// handshake, the upstream connection is a plain TCP pipe. The handshake is
// re-sent with the cleaned header list; the upstream's 101 (or refusal) flows
// back as is.

import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface UpgradeTarget {
  origin: string;            // http://host:port
  path: string;
  headers: string[];         // flat pairs, already cleaned (buildUpstreamHeaders with upgrade: true)
  timeout: number;           // connect + handshake timeout
  onError(err: Error): void;
}

export function proxyUpgrade(client: Duplex, head: Buffer, t: UpgradeTarget): void {
  const u = new URL(t.origin);
  const upstream: Socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) });
  let connected = false;
  const fail = (err: Error) => {
    t.onError(err);
    if (!connected && !client.destroyed) {
      client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else {
      client.destroy();
    }
    upstream.destroy();
  };
  upstream.setTimeout(t.timeout, () => fail(new Error('upstream handshake timeout')));
  upstream.once('error', fail);
  client.once('error', () => upstream.destroy());
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => client.destroy());
  upstream.once('connect', () => {
    connected = true;
    upstream.setNoDelay(true);
    let head_ = `GET ${t.path} HTTP/1.1\r\n`;
    for (let i = 0; i < t.headers.length; i += 2) head_ += `${t.headers[i]}: ${t.headers[i + 1]}\r\n`;
    upstream.write(`${head_}\r\n`);
    if (head.length) upstream.write(head);
    // The handshake answer arrived: no more idle timeout on a long-lived socket.
    upstream.once('data', () => upstream.setTimeout(0));
    upstream.pipe(client);
    client.pipe(upstream);
  });
}

/**
 * TLS test rig: self-signed certificates made by the real `openssl` command, and a real TLS client (node:tls) that
 * reports what a browser would see: whether the handshake succeeded, the certificate it was given, the ALPN
 * protocol, and the answer to one HTTP/1.1 GET.
 */
import {execFileSync} from 'node:child_process';
import {readFileSync, renameSync} from 'node:fs';
import {join} from 'node:path';
import {connect, type PeerCertificate} from 'node:tls';
import {X509Certificate} from 'node:crypto';

/** Writes `DIR/<name>.crt` and `DIR/<name>.key` (EC P-256, SAN = name), with `serial`; returns the crt path. */
export function selfSigned(dir: string, name: string, serial: number, fileStem = name): string {
  const crt = join(dir, `${fileStem}.crt`);
  const key = join(dir, `${fileStem}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt,
    '-days', '3', '-subj', `/CN=${name}`, '-set_serial', String(serial), '-addext', `subjectAltName=DNS:${name}`], {stdio: 'ignore'});
  return crt;
}

/** Makes a new pair in `stage` and renames it into `dir`, key first (as a renewal tool would). */
export function replacePair(stage: string, dir: string, name: string, serial: number, fileStem = name): string {
  selfSigned(stage, name, serial, fileStem);
  renameSync(join(stage, `${fileStem}.key`), join(dir, `${fileStem}.key`));
  renameSync(join(stage, `${fileStem}.crt`), join(dir, `${fileStem}.crt`));
  return join(dir, `${fileStem}.crt`);
}

/** The serial number (hex, upper case) of a PEM certificate file. */
export function serialOf(crtFile: string): string {
  return new X509Certificate(readFileSync(crtFile)).serialNumber.toUpperCase();
}

export interface TlsProbe {
  handshake: boolean;
  error?: string;
  /** Serial (hex, upper case) of the certificate the server presented. */
  serial?: string;
  subject?: string;
  issuer?: string;
  alpn?: string | false;
  protocol?: string | null;
  status?: number;
  headers?: string;
  body?: string;
}

/**
 * Connects to 127.0.0.1:port with SNI `servername` (none when undefined), optionally verifying against `ca`, and
 * sends one `GET path` with `Host: host` (defaults to servername) unless `request` is false.
 */
export function tlsProbe(port: number, servername: string | undefined, options: {ca?: string; host?: string; path?: string; alpn?: string[]; request?: boolean; timeoutMs?: number} = {}): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ...(servername === undefined ? {} : {servername}),
      ...(options.ca === undefined ? {rejectUnauthorized: false} : {ca: readFileSync(options.ca), rejectUnauthorized: true, checkServerIdentity: () => undefined}),
      ALPNProtocols: options.alpn ?? ['http/1.1'],
    });
    const result: TlsProbe = {handshake: false};
    let data = '';
    const timer = setTimeout(() => {
      result.error = result.error ?? 'timeout';
      socket.destroy();
    }, options.timeoutMs ?? 5_000);
    socket.once('secureConnect', () => {
      result.handshake = true;
      const cert: PeerCertificate = socket.getPeerCertificate();
      result.serial = cert.serialNumber?.toUpperCase();
      result.subject = typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
      result.issuer = typeof cert.issuer?.CN === 'string' ? cert.issuer.CN : undefined;
      result.alpn = socket.alpnProtocol ?? false;
      result.protocol = socket.getProtocol();
      if (options.request === false) return socket.end();
      socket.write(`GET ${options.path ?? '/'} HTTP/1.1\r\nHost: ${options.host ?? servername ?? 'localhost'}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (result.error === undefined) result.error = `${result.handshake ? 'request' : 'handshake'}: ${error.code ?? ''} ${error.message}`;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const split = data.indexOf('\r\n\r\n');
      if (split !== -1) {
        result.headers = data.slice(0, split);
        result.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(result.headers)?.[1]);
        result.body = data.slice(split + 4);
      }
      resolve(result);
    });
  });
}

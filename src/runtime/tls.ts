/**
 * Mutual TLS on the peer port. Every member holds a certificate signed by the cluster's CA; both ends
 * of every connection must present one, and the member id a connection speaks for is bound to its
 * certificate, so that holding one member's key does not let a process speak as another.
 *
 * The identity is the certificate's subject common name, exactly `ballot-node-<id>` (memberName).
 * The CN rather than a subject alternative name because a CN is one value: a certificate names one
 * member, never several (a SAN list may carry many names, and a certificate listing two members
 * would let one key speak as both). SANs stay free for what they are for in a deployment (the pod's
 * DNS names), and hostnames are deliberately not checked: a member is a node id, and its address may
 * change (a rescheduled pod) while its identity does not.
 *
 * Acceptor: the certificate's id must equal the handshake's `from` (transport.ts, 'wrong-identity').
 * Dialer: the acceptor's certificate must name the member it dialed (checkServerIdentity), so an
 * address taken over by another member, or by anyone else, is not believed to be that member.
 *
 * Loaded by the node only when it is given certificates (node.ts), so that a plaintext node does not
 * pay for loading TLS at start.
 */
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect, createSecureContext, TLSSocket, type PeerCertificate, type SecureContext } from 'node:tls';
import type { NodeId } from '../core/types.js';
import { ConfigError, type Address, type TlsOptions } from './config.js';

/** The certificate common name of member `id`. */
export function memberName(id: NodeId): string {
  return `ballot-node-${id}`;
}

/** The member id a common name stands for, or null when it names no member. */
export function memberIdOf(commonName: string | undefined): NodeId | null {
  const match = /^ballot-node-([1-9]\d{0,15})$/.exec(commonName ?? '');
  if (!match) return null;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : null;
}

/** The id a verified peer certificate names (node's subject.CN is a string, or an array if repeated). */
function certifiedId(certificate: PeerCertificate): NodeId | null {
  const cn: unknown = certificate.subject?.CN;
  return typeof cn === 'string' ? memberIdOf(cn) : null;
}

/** The single CN of an X509Certificate's subject (undefined when absent or repeated). */
function commonName(certificate: X509Certificate): string | undefined {
  const names = certificate.subject.split('\n').filter((line) => line.startsWith('CN='));
  return names.length === 1 ? names[0]!.slice(3) : undefined;
}

/** Both sides' TLS settings of one node; checked once at start (a ConfigError names the mistake). */
export class PeerTls {
  private readonly context: SecureContext;

  private constructor(
    options: TlsOptions,
    private readonly ca: X509Certificate,
  ) {
    try {
      // TLS 1.3 only: every member runs this code, and 1.3 has no renegotiation and fewer round trips.
      this.context = createSecureContext({ cert: options.cert, key: options.key, ca: options.ca, minVersion: 'TLSv1.3' });
    } catch (error) {
      throw new ConfigError(`tls: ${describe(error)} (is --tls-key the key of --tls-cert?)`);
    }
  }

  /** Checks that the certificate is this member's, signed by the CA, and in its validity period. */
  static create(options: TlsOptions, id: NodeId): PeerTls {
    const cert = parseCertificate(options.cert, 'tls-cert');
    const ca = parseCertificate(options.ca, 'tls-ca');
    const cn = commonName(cert);
    if (memberIdOf(cn) !== id) throw new ConfigError(`tls-cert: its subject CN is ${JSON.stringify(cn ?? '')}, but node ${id} needs CN=${memberName(id)}`);
    if (!cert.verify(ca.publicKey)) throw new ConfigError('tls-cert: it is not signed by the CA of --tls-ca');
    const now = Date.now();
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
      throw new ConfigError(`tls-cert: it is valid only from ${cert.validFrom} to ${cert.validTo}`);
    }
    return new PeerTls(options, ca);
  }

  /**
   * The acceptor's side of an accepted TCP connection. The TLS handshake runs on the connection the
   * transport already counts as pending, so the handshake deadline and the admission rules cover it.
   */
  accept(socket: Socket): TLSSocket {
    // requestCert asks the dialer for its certificate; judging it is peerId's job (see there).
    return new TLSSocket(socket, { isServer: true, secureContext: this.context, requestCert: true });
  }

  /**
   * The member id an accepted connection's certificate names, once its TLS handshake is done ('secure'),
   * or null when it presented none, or one the CA did not sign, or one out of its validity period.
   *
   * Checked here rather than by OpenSSL: node verifies client certificates only for sockets a
   * tls.Server creates, and this one wraps the TCP connection admission already counts (see accept).
   * TLS itself proved the peer holds the certificate's key (its CertificateVerify signature); what is
   * left is the certificate: issued and signed by the CA (directly: no intermediates), and current.
   */
  peerId(socket: TLSSocket): NodeId | null {
    const certificate = socket.getPeerX509Certificate();
    if (!certificate || !certificate.checkIssued(this.ca) || !certificate.verify(this.ca.publicKey)) return null;
    const now = Date.now();
    if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) return null;
    return memberIdOf(commonName(certificate));
  }

  /** Dials member `peer`; ready on 'secureConnect', once its certificate proved it is that member. */
  dial(address: Address, peer: NodeId): TLSSocket {
    const socket = connect({
      host: address.host,
      port: address.port,
      secureContext: this.context,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      // Identity, not hostname (see the file comment): the certificate must name the member dialed.
      checkServerIdentity: (_host, certificate) =>
        certifiedId(certificate) === peer ? undefined : new Error(`the peer at this address presented ${JSON.stringify(certificate.subject?.CN ?? '')}, not ${memberName(peer)}`),
    });
    socket.setNoDelay(true);
    return socket;
  }
}

function parseCertificate(pem: string | Buffer, flag: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(`${flag}: not a PEM certificate (${describe(error)})`);
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

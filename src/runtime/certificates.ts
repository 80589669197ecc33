/**
 * A throw-away certificate authority and one certificate per member, for local clusters and tests
 * (`ballot cluster` runs its nodes with TLS). A production cluster brings its own CA (docs/deploy.md);
 * what matters to the node is only that each certificate is signed by the CA and names its member
 * (subject CN `ballot-node-<id>`, tls.ts).
 *
 * Built with @peculiar/x509 over node's WebCrypto (ECDSA P-256): no hand-written ASN.1. Loaded lazily by
 * its users, so a node that only reads certificates never loads it.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it, before the library loads
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { NodeId } from '../core/types.js';
import { memberName } from './tls.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface MemberCertificate {
  /** PEM. */
  readonly cert: string;
  /** PEM (PKCS #8), unencrypted. */
  readonly key: string;
}

export interface ClusterCertificates {
  /** The CA's certificate (PEM); its key is dropped once the members' certificates are signed. */
  readonly ca: string;
  readonly members: ReadonlyMap<NodeId, MemberCertificate>;
}

let serial = 0;
function nextSerial(): string {
  // Unique within one CA, which is all a throw-away CA needs; positive (leading byte below 0x80).
  serial += 1;
  return (0x10 + (serial % 0x70)).toString(16) + Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex');
}

async function pkcs8(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

/**
 * A fresh CA and a certificate for each member, valid from a minute ago (clock skew between
 * processes) for `days` days. `name` goes into the CA's subject (e.g. the cluster id).
 */
export async function generateClusterCertificates(members: readonly NodeId[], name = 'ballot', days = 30): Promise<ClusterCertificates> {
  x509.cryptoProvider.set(globalThis.crypto);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + days * DAY_MS);
  const caKeys = await crypto.subtle.generateKey(ALGORITHM, false, ['sign', 'verify']);
  const caName = `CN=${name} throw-away CA`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const issued = new Map<NodeId, MemberCertificate>();
  for (const id of members) {
    const keys = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: `CN=${memberName(id)}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // Every member is both a TLS server (it accepts) and a TLS client (it dials).
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: memberName(id) }, { type: 'ip', value: '127.0.0.1' }]),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
      ],
    });
    issued.set(id, { cert: cert.toString('pem') + '\n', key: await pkcs8(keys.privateKey) });
  }
  return { ca: ca.toString('pem') + '\n', members: issued };
}

/** The files of member `id` in a directory written by writeClusterCertificates. */
export function certificateFiles(dir: string, id: NodeId): { cert: string; key: string; ca: string } {
  return { cert: join(dir, `node-${id}.crt`), key: join(dir, `node-${id}.key`), ca: join(dir, 'ca.crt') };
}

/** Writes ca.crt, node-<id>.crt and node-<id>.key (keys readable by the owner only) into `dir`. */
export function writeClusterCertificates(dir: string, certificates: ClusterCertificates): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'ca.crt'), certificates.ca);
  for (const [id, member] of certificates.members) {
    const files = certificateFiles(dir, id);
    writeFileSync(files.cert, member.cert);
    writeFileSync(files.key, member.key, { mode: 0o600 });
  }
}

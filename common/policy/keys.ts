import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { PolicyError } from './errors';

/**
 * Organization keys: Ed25519, PEM (SPKI public, PKCS#8 private). Ed25519
 * has no parameters to get wrong and signs raw bytes, so the policy needs no
 * canonical form: the signature covers exactly the payload bytes shipped.
 */

export interface OrgKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
  keyId: string;
}

/** Hex characters of the SPKI hash kept as the key id: enough to tell keys apart, short enough to read aloud. */
const KEY_ID_HEX = 16;

export function generateKeyPair(): OrgKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey, keyId: keyIdOf(publicKey) };
}

/**
 * Parses an organization public key. Refuses anything but Ed25519 (an RSA or
 * EC key would make crypto.verify use another algorithm entirely) and
 * refuses a private key, which must never be handed around as "the org key".
 */
/**
 * The key alone, re-exported: what gets recorded at install. Nothing else from
 * the file given (other PEM blocks, stray text) ends up in the world-readable config.
 */
export function canonicalPublicKeyPem(pem: string): string {
  return loadPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
}

export function loadPublicKey(pem: string): KeyObject {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new PolicyError('key', 'key', 'this is a private key; use the organization public key (org-key.pub.pem)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new PolicyError('key', 'key', 'the organization key is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PolicyError('key', 'key', `the organization key is ${key.asymmetricKeyType ?? 'of an unknown type'}, not Ed25519`);
  }
  return key;
}

/** Parses an organization private key (Ed25519 only: the helper verifies nothing else). */
export function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new PolicyError('key', 'key', 'the signing key is not an unencrypted PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new PolicyError('key', 'key', `the signing key is ${key.asymmetricKeyType ?? 'of an unknown type'}, not Ed25519`);
  }
  return key;
}

/**
 * First 16 hex characters of SHA-256 over the DER SPKI encoding. Carried in
 * the document so a policy signed with another key is reported as such
 * ("signed by key X, this machine trusts Y"), not as a mere bad signature.
 */
export function keyIdOf(publicKey: string | KeyObject): string {
  const key = typeof publicKey === 'string' ? loadPublicKey(publicKey) : publicKey;
  const der = key.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, KEY_ID_HEX);
}

import { readFileSync } from 'node:fs';
import { canonicalPublicKeyPem } from '../../common/policy/keys';

/**
 * The org key file is read once here, by root, from a path root gave on the
 * command line; only the public key in it is kept (see canonicalPublicKeyPem).
 */
export function readKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read --org-key ${path}: ${(error as Error).message}`);
  }
  try {
    return canonicalPublicKeyPem(text);
  } catch (error) {
    throw new Error(`--org-key ${path}: ${(error as Error).message}`);
  }
}

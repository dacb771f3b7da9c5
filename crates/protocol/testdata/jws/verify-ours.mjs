// Verifies with `jose` a JWS signed by countersign-protocol (manual check; no
// node in CI). Input: a JSON file {"jwk": …, "jws": …, "payload": …} as printed
// by `cargo test -p countersign-protocol --test jws_vectors -- --ignored --nocapture print_for_jose`.
// Run from the directory where `jose` is installed (see README.md):
//   node /path/to/testdata/jws/verify-ours.mjs /tmp/ours.json

import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';

const dir = path.join(process.cwd(), 'node_modules', 'jose');
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const jose = await import(pathToFileURL(path.join(dir, pkg.exports['.'].default)).href);

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const key = await jose.importJWK(input.jwk, 'ES256');
const { payload, protectedHeader } = await jose.compactVerify(input.jws, key, { algorithms: ['ES256'] });
const claims = JSON.parse(new TextDecoder().decode(payload));
if (!isDeepStrictEqual(claims, input.payload)) throw new Error('payload differs');
if (protectedHeader.typ !== 'decision+jwt') throw new Error(`typ ${protectedHeader.typ}`);
const thumb = await jose.calculateJwkThumbprint(input.jwk, 'sha256');
console.log(`OK: jose ${pkg.version} verified our ES256 JWS (kid ${protectedHeader.kid}, jwk thumbprint ${thumb})`);

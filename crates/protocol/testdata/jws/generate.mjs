// Generates testdata/jws/vectors.json and
// testdata/device/examples/{decision-submission.json,device-auth.jws}
// with the npm package `jose` (an independent JOSE implementation) and
// `canonicalize` (an independent RFC 8785 implementation). See README.md.
//
// Run from a directory whose node_modules has both packages:
//   mkdir -p /tmp/jose-gen && cd /tmp/jose-gen && npm i jose@6.2.18 canonicalize@4.0.0
//   node /path/to/crates/protocol/testdata/jws/generate.mjs
//
// The keys below are test keys, fixed so the public keys in the examples stay
// stable; ECDSA signatures are randomized, so every run writes new tokens.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

async function load(name) {
  const dir = path.join(process.cwd(), 'node_modules', name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const e = pkg.exports?.['.'] ?? pkg.main;
  const rel = typeof e === 'string' ? e : (e.import ?? e.default);
  return { mod: await import(pathToFileURL(path.join(dir, rel)).href), version: pkg.version };
}

const { mod: jose, version: joseVersion } = await load('jose');
const { mod: canonicalizeMod, version: canonVersion } = await load('canonicalize');
const canonicalize = canonicalizeMod.default ?? canonicalizeMod;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEVICE = path.join(HERE, '..', 'device');
const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

// Test keys (never used anywhere else).
const DEVICE_JWK = {
  kty: 'EC', crv: 'P-256',
  x: '9zmdSjvG1FhGiLciEPNoPu5RIp_DErqVIv06BdVYF4k',
  y: 'uRRrwuVsoaT-yW3vDPvPtazVb2d5oL6LtdVKRPv6nuk',
  d: 'IP3Okujz_iekKuZ5XLYfhKm_Jt6MJxjNjx2S5UYYHuU',
};
const OTHER_JWK = {
  kty: 'EC', crv: 'P-256',
  x: 'CJJO44vaoWhB6GBCY7Xto-JZKrL5FH1lBUF7LLhrD3g',
  y: 'p5SCzeQ5wFvidYReR-eAu2TZh_NDpyS1CoRJ5M054b8',
  d: 'aKgBQ8Li8JPJm1sIeX6PNaLKpzbhgvMVM_hzyhAkyOY',
};
const P384_JWK = {
  kty: 'EC', crv: 'P-384',
  x: '2cpafbwkBrD_gWKxFGSP2qqbnF18oGccJPiv41ekba4PRdk0fbCQ8l6JrxdscGrN',
  y: 'bXOkpRqCQazGspJcgtf1R21zqJn13p3IBqsOkU6zevsYeE3T3M6br71hFsn69yVq',
  d: 'aZCdLEi_MgAnwlRaFxadWdpEjBimOqFYWyBtc5mhccxP5VMMYn4LPBN4iI83iKWX',
};
const pub = ({ d, ...rest }) => rest;

const deviceKey = await jose.importJWK(DEVICE_JWK, 'ES256');
const otherKey = await jose.importJWK(OTHER_JWK, 'ES256');
const p384Key = await jose.importJWK(P384_JWK, 'ES384');
const { privateKey: rsaKey } = await jose.generateKeyPair('RS256');

const enc = new TextEncoder();
const b64 = (bytes) => jose.base64url.encode(bytes);
const b64json = (obj) => b64(enc.encode(JSON.stringify(obj)));

// The 65-byte uncompressed point 0x04 || X || Y of the device key.
const point = new Uint8Array([4, ...jose.base64url.decode(DEVICE_JWK.x), ...jose.base64url.decode(DEVICE_JWK.y)]);

// Claims from the device examples; the decision's statement_hash is computed
// here from examples/statement.json with `canonicalize` + SHA-256.
const deviceId = readJson(path.join(DEVICE, 'examples', 'enrollment-response.json')).device_id;
const authClaims = readJson(path.join(DEVICE, 'examples', 'device-auth-claims.json'));
const decisionClaims = readJson(path.join(DEVICE, 'examples', 'decision-claims.json'));
const statement = readJson(path.join(DEVICE, 'examples', 'statement.json'));
const statementHash = crypto.createHash('sha256').update(canonicalize(statement), 'utf8').digest('base64url');
if (statementHash !== decisionClaims.statement_hash) {
  throw new Error(`decision-claims.json statement_hash ${decisionClaims.statement_hash} != ${statementHash}`);
}
if (statementHash !== fs.readFileSync(path.join(DEVICE, 'statement.hash'), 'utf8').trim()) {
  throw new Error('statement.hash disagrees with canonicalize');
}

const sign = (claims, header, key = deviceKey) =>
  new jose.CompactSign(enc.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
const signBytes = (text, header, key = deviceKey, options) =>
  new jose.CompactSign(enc.encode(text)).setProtectedHeader(header).sign(key, options);

// WebCrypto ES256 over an arbitrary header text (for headers jose will not
// produce, e.g. without alg or with a duplicate member).
async function rawSign(headerText, payloadText) {
  const key = await crypto.subtle.importKey('jwk', { ...DEVICE_JWK, ext: true }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const input = `${b64(enc.encode(headerText))}.${b64(enc.encode(payloadText))}`;
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, enc.encode(input)));
  return `${input}.${b64(sig)}`;
}

// r||s -> DER SEQUENCE { INTEGER r, INTEGER s }.
function derFromRaw(raw) {
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.slice(i);
    if (v[0] & 0x80) v = new Uint8Array([0, ...v]);
    return [0x02, v.length, ...v];
  };
  const body = [...int(raw.slice(0, 32)), ...int(raw.slice(32))];
  return new Uint8Array([0x30, body.length, ...body]);
}

const H_AUTH = { alg: 'ES256', typ: 'device-auth+jwt', kid: deviceId };
const H_DEC = { alg: 'ES256', typ: 'decision+jwt', kid: deviceId };
const helloClaims = { hello: 'world' };

const deviceAuth = await sign(authClaims, H_AUTH);
const decision = await sign(decisionClaims, H_DEC);
const [dh, dp, ds] = decision.split('.');
const decisionSig = jose.base64url.decode(ds);

// Non-canonical last character: same bytes for a lenient decoder, but a
// non-zero trailing bit.
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const lastIdx = alphabet.indexOf(ds[ds.length - 1]);
const nonCanonicalSig = ds.slice(0, -1) + alphabet[lastIdx | 1];

const valid = [
  { name: 'device_auth', jws: deviceAuth, expected_typ: 'device-auth+jwt', payload: authClaims },
  { name: 'decision', jws: decision, expected_typ: 'decision+jwt', payload: decisionClaims },
  {
    name: 'typ_application_prefix',
    jws: await sign(decisionClaims, { ...H_DEC, typ: 'application/decision+jwt' }),
    expected_typ: 'decision+jwt',
    payload: decisionClaims,
  },
  { name: 'no_typ_no_kid', jws: await sign(helloClaims, { alg: 'ES256' }), expected_typ: null, payload: helloClaims },
];

const invalid = [
  { name: 'alg_none', jws: new jose.UnsecuredJWT(helloClaims).encode(), error: 'UnsupportedAlg' },
  {
    name: 'alg_hs256_public_key_as_secret',
    jws: await sign(decisionClaims, { ...H_DEC, alg: 'HS256' }, point),
    error: 'UnsupportedAlg',
  },
  { name: 'alg_es384', jws: await sign(decisionClaims, { ...H_DEC, alg: 'ES384' }, p384Key), error: 'UnsupportedAlg' },
  { name: 'alg_rs256', jws: await sign(decisionClaims, { ...H_DEC, alg: 'RS256' }, rsaKey), error: 'UnsupportedAlg' },
  { name: 'alg_missing', jws: await rawSign('{"typ":"decision+jwt"}', JSON.stringify(helloClaims)), error: 'MissingAlg' },
  {
    name: 'header_duplicate_alg',
    jws: await rawSign('{"alg":"ES256","alg":"none"}', JSON.stringify(helloClaims)),
    error: 'HeaderJson',
  },
  { name: 'tampered_payload', jws: `${dh}.${b64json({ ...decisionClaims, decision: 'deny' })}.${ds}`, error: 'BadSignature' },
  { name: 'wrong_key', jws: await sign(decisionClaims, H_DEC, otherKey), error: 'BadSignature' },
  { name: 'der_signature', jws: `${dh}.${dp}.${b64(derFromRaw(decisionSig))}`, error: 'SignatureLength' },
  {
    name: 'embedded_jwk_header',
    jws: await sign(decisionClaims, { ...H_DEC, jwk: pub(DEVICE_JWK) }),
    error: 'EmbeddedKey',
  },
  {
    name: 'jku_header',
    jws: await sign(decisionClaims, { ...H_DEC, jku: 'https://attacker.example/jwks.json' }),
    error: 'EmbeddedKey',
  },
  {
    name: 'x5u_header',
    jws: await sign(decisionClaims, { ...H_DEC, x5u: 'https://attacker.example/cert.pem' }),
    error: 'EmbeddedKey',
  },
  {
    name: 'crit_unknown',
    jws: await signBytes(JSON.stringify(decisionClaims), { ...H_DEC, crit: ['urn:example:ext'], 'urn:example:ext': true }, deviceKey, {
      crit: { 'urn:example:ext': true },
    }),
    error: 'UnsupportedCrit',
  },
  { name: 'padded_signature', jws: `${decision}==`, error: 'Base64' },
  { name: 'non_canonical_signature', jws: `${dh}.${dp}.${nonCanonicalSig}`, error: 'Base64' },
  { name: 'two_segments', jws: `${dh}.${dp}`, error: 'SegmentCount' },
  { name: 'four_segments', jws: `${decision}.${dp}`, error: 'SegmentCount' },
  { name: 'wrong_typ', jws: deviceAuth, expected_typ: 'decision+jwt', error: 'TypMismatch' },
  { name: 'missing_typ', jws: valid[3].jws, expected_typ: 'decision+jwt', error: 'TypMismatch' },
  { name: 'kid_mismatch', jws: await sign(decisionClaims, { ...H_DEC, kid: 'dev_someone_else' }), error: 'KidMismatch' },
  { name: 'payload_duplicate_key', jws: await signBytes('{"a":1,"a":2}', { alg: 'ES256' }), error: 'PayloadJson' },
  { name: 'payload_unsafe_integer', jws: await signBytes('{"n":9007199254740993}', { alg: 'ES256' }), error: 'PayloadJson' },
  { name: 'payload_not_object', jws: await signBytes('[1,2]', { alg: 'ES256' }), error: 'PayloadNotObject' },
];

const vectors = {
  generator: `testdata/jws/generate.mjs with jose ${joseVersion} and canonicalize ${canonVersion} on node ${process.version}`,
  device_id: deviceId,
  keys: { device: pub(DEVICE_JWK), other: pub(OTHER_JWK), p384: pub(P384_JWK) },
  thumbprints: {
    device: await jose.calculateJwkThumbprint(pub(DEVICE_JWK), 'sha256'),
    other: await jose.calculateJwkThumbprint(pub(OTHER_JWK), 'sha256'),
  },
  device_point_hex: Buffer.from(point).toString('hex'),
  valid,
  invalid,
};

fs.writeFileSync(path.join(HERE, 'vectors.json'), JSON.stringify(vectors, null, 2) + '\n');
fs.writeFileSync(
  path.join(DEVICE, 'examples', 'decision-submission.json'),
  JSON.stringify({ decision_jws: decision, display_schemas: statement.display_schemas }, null, 2) + '\n',
);
fs.writeFileSync(path.join(DEVICE, 'examples', 'device-auth.jws'), deviceAuth);
console.log(`wrote ${valid.length} valid and ${invalid.length} invalid vectors; statement_hash ${statementHash}`);

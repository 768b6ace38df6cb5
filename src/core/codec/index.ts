/**
 * HAMi-compatible annotation codecs: every node and pod annotation Tessera shares with HAMi,
 * decoded into the device model and encoded back byte-for-byte as HAMi writes it. Decoders throw
 * `DecodeError` naming the offending field; encoders throw `RangeError` for values that could not
 * be read back.
 */

export { decodePodGrants, encodePodGrants, MISSING_FIELDS_MESSAGE } from './allocation.js';
export { decodeDeviceCordon } from './cordon.js';
export { decodeHandshake, encodeHandshakeReport, encodeHandshakeRequest } from './handshake.js';
export type { Handshake, HandshakeState } from './handshake.js';
export { decodeNodeLock, encodeNodeLock } from './node-lock.js';
export type { NodeLock, NodeLockOwner } from './node-lock.js';
export { decodeNodeRegister, encodeNodeRegister, encodeNodeRegisterLegacy } from './register.js';
export { decodeNodeScore, encodeNodeScore } from './score.js';

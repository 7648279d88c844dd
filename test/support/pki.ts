/** Test PKI: the simulator's openssl CA and client certificates (src/sim/pki.ts), re-exported for tests. */
export { issueClientCert, makeCa, readTls } from '../../src/sim/pki.js';

/** Fixed Ed25519 keys for deterministic tests: the one helper, shared with the @tufa/oci tests. */
export { fixedSigner } from '../../../oci/test/helpers/keys.js';

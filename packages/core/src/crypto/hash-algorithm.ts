/** The hash algorithms tufa computes, named as metadata `hashes` names them. */
export type HashAlgorithm = 'sha256' | 'sha512';

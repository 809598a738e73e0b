//! Cryptographic building blocks: password KDF, key derivation, sealing of
//! small records, chunked AEAD streams and the X25519 key store. Owns every
//! use of a primitive; never knows about mailboxes or IMAP.

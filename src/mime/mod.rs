//! Parsing of RFC 5322 / MIME messages into the structures IMAP reports
//! (ENVELOPE, BODYSTRUCTURE, sections, search text). Pure: never touches
//! files, never knows IMAP session state.

//! TLS session tickets (RFC 8446 §4.6.1): each connection is served by a
//! fresh process whose ticket key and session cache die with it, so no
//! ticket could ever be redeemed; the server sends none (doc/scaling.md).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use openssl::ssl::{SslConnector, SslMethod, SslSessionCacheMode, SslVerifyMode, SslVersion};

use common::*;

/// Runs a greeting and LOGOUT over TLS `version` and returns how many
/// sessions the server offered for resumption.
fn sessions_offered(root: &Root, version: SslVersion) -> usize {
    let offered = Arc::new(AtomicUsize::new(0));
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    b.set_min_proto_version(Some(version)).unwrap();
    b.set_max_proto_version(Some(version)).unwrap();
    b.set_session_cache_mode(SslSessionCacheMode::CLIENT);
    let seen = offered.clone();
    b.set_new_session_callback(move |_, session| {
        // A TLS 1.2 server without tickets or a cache still names its
        // session; only one it could resume counts.
        if version == SslVersion::TLS1_3 || !session.id().is_empty() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (child, sock) = root.spawn_serve("imaps");
    let _server = Guard(child);
    let tls = b
        .build()
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", sock)
        .unwrap();
    let mut r = BufReader::new(tls);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    r.get_mut().write_all(b"a LOGOUT\r\n").unwrap();
    // Tickets arrive after the handshake, among the data: read to the end.
    let mut rest = String::new();
    while r.read_line(&mut rest).map(|n| n > 0).unwrap_or(false) {}
    assert!(rest.contains("a OK"), "{rest}");
    offered.load(Ordering::SeqCst)
}

#[test]
fn rfc8446_4_6_1_no_session_ticket_is_sent_to_a_fresh_process_s_client() {
    let root = Root::new("tickets13");
    assert_eq!(sessions_offered(&root, SslVersion::TLS1_3), 0);
}

#[test]
fn rfc5077_no_session_ticket_or_session_id_is_offered_over_tls_1_2() {
    let root = Root::new("tickets12");
    assert_eq!(sessions_offered(&root, SslVersion::TLS1_2), 0);
}

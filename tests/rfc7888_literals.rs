//! RFC 7888 non-synchronizing literals: LITERAL+ is advertised and
//! LITERAL- is not (RFC 7888 §5: a server must not advertise both; LITERAL+
//! already accepts every non-synchronizing literal LITERAL- would, and
//! more), and non-synchronizing literals above LITERAL-'s 4,096 bytes work.

mod common;

use common::*;

const USER: &str = "alice";
const PW: &str = "pw for alice";

#[test]
fn rfc7888_5_literal_plus_advertised_literal_minus_not() {
    let root = root_with_numbered("rfc7888-caps", USER, PW, 0);
    let mut s = Session::login(&root, USER, PW);
    let r = s.c.ok("CAPABILITY");
    let caps = r
        .iter()
        .find(|l| l.starts_with("* CAPABILITY "))
        .cloned()
        .unwrap_or_default();
    assert!(caps.split(' ').any(|c| c == "LITERAL+"), "{caps}");
    assert!(!caps.split(' ').any(|c| c == "LITERAL-"), "{caps}");
}

#[test]
fn rfc7888_4_non_synchronizing_literals_beyond_4096_bytes_are_accepted() {
    let root = root_with_numbered("rfc7888-big", USER, PW, 0);
    let mut s = Session::login(&root, USER, PW);
    let body = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(6000));
    let mut cmd = format!("APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    cmd.extend_from_slice(body.as_bytes());
    let r = texts(&s.c.try_run_bytes(&cmd).expect("server alive"));
    assert!(r.iter().any(|l| l.contains("OK [APPENDUID")), "{r:#?}");
    // A non-synchronizing literal of 5 bytes inside an ordinary command.
    let r = s.c.ok("SELECT {5+}\r\nINBOX");
    assert!(has(&r, "* 1 EXISTS"), "{r:#?}");
}

//! Who is at the other end of a descriptor: a loopback client, a UNIX-socket
//! client, a remote host, or no socket at all (a pipe or terminal).
//!
//! Owns the classification rules (which addresses count as loopback, so that
//! cleartext LOGIN may be allowed); never decides policy from them.

use std::fmt;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockaddrLike, SockaddrStorage};

/// Failure to learn a socket's address.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    /// `getpeername`/`getsockname` failed for a reason other than "not a socket".
    #[error("{call} failed: {source}")]
    Sys {
        /// The system call.
        call: &'static str,
        /// The underlying errno.
        source: Errno,
    },
    /// The socket belongs to an address family this server does not serve.
    #[error("{call} returned an unsupported address family {family:?}")]
    UnsupportedFamily {
        /// The system call.
        call: &'static str,
        /// The family reported.
        family: Option<AddressFamily>,
    },
}

/// One end of a connection, as far as the server cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// An IP address on the loopback network (127/8, `::1`, or `::ffff:127/104`).
    Loopback(SocketAddr),
    /// A UNIX-domain socket (always on this host).
    Unix,
    /// Any other IP address.
    Remote(SocketAddr),
    /// Not a socket: a pipe or terminal (e.g. a test harness or `ssh` relay).
    NotASocket,
}

impl Peer {
    /// Whether the connection cannot leave this host, so cleartext
    /// authentication does not cross a network.
    pub(crate) fn is_local(&self) -> bool {
        matches!(self, Peer::Loopback(_) | Peer::Unix)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Loopback(a) => write!(f, "{a} (loopback)"),
            Peer::Unix => f.write_str("unix socket"),
            Peer::Remote(a) => write!(f, "{a}"),
            Peer::NotASocket => f.write_str("not a socket"),
        }
    }
}

/// The client of a session as logs and the login throttle see it: the
/// socket's peer, or, once a trusted proxy has forwarded the address of the
/// client it serves, that address. Whether the peer is trusted is decided by
/// the caller (from `security.trusted_proxies`); this type only keeps the
/// two addresses apart and refuses a forwarded address from anyone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientAddr {
    direct: Peer,
    proxy_trusted: bool,
    forwarded: Option<SocketAddr>,
}

impl ClientAddr {
    /// A client connected straight from `direct`; `proxy_trusted` says
    /// whether that peer may forward another client's address.
    pub(crate) fn new(direct: Peer, proxy_trusted: bool) -> ClientAddr {
        ClientAddr {
            direct,
            proxy_trusted,
            forwarded: None,
        }
    }

    /// Records `addr` as the real client when the peer is a trusted proxy
    /// and returns true; from any other peer changes nothing and returns
    /// false.
    pub(crate) fn forward(&mut self, addr: SocketAddr) -> bool {
        if !self.proxy_trusted {
            return false;
        }
        self.forwarded = Some(match classify(addr) {
            Peer::Loopback(a) | Peer::Remote(a) => a,
            _ => addr,
        });
        true
    }

    /// The effective client address: the one value a per-address login
    /// throttle or a log scanner (fail2ban) keys on. `None` for a UNIX
    /// socket or a pipe nobody forwarded an address for.
    pub(crate) fn ip(&self) -> Option<IpAddr> {
        match (self.forwarded, self.direct) {
            (Some(a), _) | (None, Peer::Loopback(a) | Peer::Remote(a)) => Some(a.ip()),
            (None, Peer::Unix | Peer::NotASocket) => None,
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.forwarded {
            Some(a) => write!(f, "{a} via proxy {}", self.direct),
            None => self.direct.fmt(f),
        }
    }
}

/// Classifies an IP endpoint, unwrapping IPv4-mapped IPv6 addresses so that
/// logs show the address the client actually used.
pub(crate) fn classify(addr: SocketAddr) -> Peer {
    let addr = match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    };
    let loopback = match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if loopback {
        Peer::Loopback(addr)
    } else {
        Peer::Remote(addr)
    }
}

fn from_storage(call: &'static str, sa: &SockaddrStorage) -> Result<Peer, PeerError> {
    if let Some(v4) = sa.as_sockaddr_in() {
        return Ok(classify(SocketAddr::V4(SocketAddrV4::from(*v4))));
    }
    if let Some(v6) = sa.as_sockaddr_in6() {
        return Ok(classify(SocketAddr::V6(SocketAddrV6::from(*v6))));
    }
    match sa.family() {
        Some(AddressFamily::Unix) => Ok(Peer::Unix),
        family => Err(PeerError::UnsupportedFamily { call, family }),
    }
}

/// The remote end of `fd` (`getpeername`).
pub(crate) fn peer_of(fd: BorrowedFd<'_>) -> Result<Peer, PeerError> {
    query(
        "getpeername",
        socket::getpeername::<SockaddrStorage>(fd.as_raw_fd()),
    )
}

fn query(call: &'static str, result: nix::Result<SockaddrStorage>) -> Result<Peer, PeerError> {
    match result {
        Ok(sa) => from_storage(call, &sa),
        Err(Errno::ENOTSOCK) => Ok(Peer::NotASocket),
        Err(source) => Err(PeerError::Sys { call, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn classifies_addresses() {
        let v4 = |a, b, c, d| SocketAddr::from((Ipv4Addr::new(a, b, c, d), 993));
        assert!(matches!(classify(v4(127, 0, 0, 1)), Peer::Loopback(_)));
        assert!(matches!(classify(v4(127, 200, 3, 4)), Peer::Loopback(_)));
        assert!(matches!(classify(v4(192, 0, 2, 1)), Peer::Remote(_)));
        assert!(matches!(classify(v4(0, 0, 0, 0)), Peer::Remote(_)));
        let v6 = |ip: Ipv6Addr| SocketAddr::from((ip, 143));
        assert!(matches!(
            classify(v6(Ipv6Addr::LOCALHOST)),
            Peer::Loopback(_)
        ));
        assert!(matches!(
            classify(v6("2001:db8::1".parse().expect("ip"))),
            Peer::Remote(_)
        ));
        let mapped = classify(v6("::ffff:127.0.0.9".parse().expect("ip")));
        assert_eq!(
            mapped,
            Peer::Loopback(SocketAddr::from((Ipv4Addr::new(127, 0, 0, 9), 143)))
        );
        assert!(matches!(
            classify(v6("::ffff:192.0.2.1".parse().expect("ip"))),
            Peer::Remote(SocketAddr::V4(_))
        ));
        assert!(Peer::Unix.is_local());
        assert!(!Peer::NotASocket.is_local());
        assert!(!classify(v4(10, 0, 0, 1)).is_local());
    }

    #[test]
    fn forwarded_address_only_from_a_trusted_proxy() {
        let proxy = classify(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 5), 40000)));
        let client = SocketAddr::from((Ipv4Addr::new(203, 0, 113, 9), 5555));

        let mut untrusted = ClientAddr::new(proxy, false);
        assert!(!untrusted.forward(client));
        assert_eq!(untrusted.ip(), Some(IpAddr::from([10, 0, 0, 5])));
        assert_eq!(untrusted.to_string(), "10.0.0.5:40000");

        let mut trusted = ClientAddr::new(proxy, true);
        assert!(trusted.forward(client));
        assert_eq!(trusted.ip(), Some(IpAddr::from([203, 0, 113, 9])));
        assert_eq!(
            trusted.to_string(),
            "203.0.113.9:5555 via proxy 10.0.0.5:40000"
        );

        let mapped: SocketAddr = "[::ffff:198.51.100.1]:7".parse().expect("addr");
        assert!(trusted.forward(mapped));
        assert_eq!(trusted.ip(), Some(IpAddr::from([198, 51, 100, 1])));

        assert_eq!(ClientAddr::new(Peer::Unix, false).ip(), None);
    }

    #[test]
    fn real_tcp_on_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let server_addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(server_addr).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        let peer = peer_of(accepted.as_fd()).expect("peer");
        assert_eq!(
            peer,
            Peer::Loopback(client.local_addr().expect("client addr"))
        );
        assert!(peer.is_local());
        assert!(peer.to_string().contains("loopback"));
    }

    #[test]
    fn real_tcp_on_ipv6_loopback_when_available() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        assert_eq!(
            peer_of(accepted.as_fd()).expect("peer"),
            Peer::Loopback(client.local_addr().expect("a"))
        );
    }

    #[test]
    fn unix_socketpair_and_pipe() {
        let (a, _b) = UnixStream::pair().expect("pair");
        assert_eq!(peer_of(a.as_fd()).expect("peer"), Peer::Unix);
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        assert_eq!(peer_of(r.as_fd()).expect("peer"), Peer::NotASocket);
        assert_eq!(Peer::NotASocket.to_string(), "not a socket");
    }

    #[test]
    fn unconnected_socket_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        assert!(matches!(
            peer_of(listener.as_fd()),
            Err(PeerError::Sys {
                call: "getpeername",
                source: Errno::ENOTCONN
            })
        ));
    }
}

//! Linux: the TCP sockets in LISTEN state on the inspected ports, with their inodes.
//!
//! The kernel's socket diagnostics (netlink `SOCK_DIAG`) answer first: one dump per address
//! family, asking only for listening sockets. If netlink is not available (some sandboxes
//! forbid it) or answers with an error, `/proc/net/tcp` and `/proc/net/tcp6` are parsed
//! instead. netstat2's netlink iterator is not used here: it ends a listing silently on a
//! netlink error message, which would look like "nothing listens".
#![forbid(unsafe_code)]

use std::fs;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

use crate::os::SocketSource;

/// A listening socket as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSocket {
    /// The local address and port.
    pub address: SocketAddr,
    /// The socket's inode: what `/proc/PID/fd/N` links to as `socket:[inode]`.
    pub inode: u64,
    /// The user that created the socket.
    pub uid: u32,
}

/// The listing, and a note when the sockets came from procfs (chosen, or after netlink
/// failed).
pub struct Listing {
    /// Listening sockets on the wanted ports, ordered by port, family and address.
    pub sockets: Vec<KernelSocket>,
    /// Why the fallback was taken, for `-v`.
    pub note: Option<String>,
}

/// Lists TCP sockets in LISTEN state on `ports`, IPv4 and IPv6.
pub fn listening(ports: &[u16], source: SocketSource) -> io::Result<Listing> {
    let (sockets, note) = match source {
        SocketSource::Procfs => {
            let note = "listed sockets from /proc/net/tcp and /proc/net/tcp6 \
                        (PORTOWNER_SOCKET_SOURCE=procfs)";
            (from_procfs()?, Some(note.to_string()))
        }
        SocketSource::Netlink => match from_netlink() {
            Ok(sockets) => (sockets, None),
            Err(error) => {
                let note = format!(
                    "netlink socket diagnostics failed ({error}); listed sockets from \
                     /proc/net/tcp and /proc/net/tcp6 instead"
                );
                (from_procfs()?, Some(note))
            }
        },
    };
    Ok(Listing {
        sockets: on_ports(sockets, ports),
        note,
    })
}

/// The sockets on `ports`, sorted, each once. A listing read while sockets come and go can
/// show one twice: /proc/net/tcp is read in pages, and a netlink dump can be interrupted.
fn on_ports(mut sockets: Vec<KernelSocket>, ports: &[u16]) -> Vec<KernelSocket> {
    sockets.retain(|s| ports.contains(&s.address.port()));
    sockets.sort_by_key(|s| {
        (
            s.address.port(),
            s.address.is_ipv6(),
            s.address.ip(),
            s.inode,
        )
    });
    sockets.dedup_by(|a, b| a.inode == b.inode && a.address == b.address);
    sockets
}

/// Every listening TCP socket, from netlink: IPv4 then IPv6.
fn from_netlink() -> io::Result<Vec<KernelSocket>> {
    let mut sockets = dump(AF_INET)?;
    sockets.extend(dump(AF_INET6)?);
    Ok(sockets)
}

/// Room for the largest datagram the kernel sends in a dump (it caps them near 32 KiB).
const RECEIVE_BUFFER: usize = 64 * 1024;

/// One `SOCK_DIAG` dump of listening TCP sockets of one address family.
fn dump(family: u8) -> io::Result<Vec<KernelSocket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    socket.send(&request(family), 0)?;

    let mut sockets = Vec::new();
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    loop {
        let size = socket.recv(&mut &mut buffer[..], 0)?;
        let received = buffer.get(..size).unwrap_or_default();
        if read_datagram(received, &mut sockets)? == Dump::Done {
            return Ok(sockets);
        }
    }
}

/// The serialized request: TCP, one family, LISTEN state only.
fn request(family: u8) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let inner = SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::LISTEN,
        socket_id: if family == AF_INET6 {
            SocketId::new_v6()
        } else {
            SocketId::new_v4()
        },
    });
    let mut packet = NetlinkMessage::new(header, inner.into());
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    bytes
}

#[derive(Debug, PartialEq, Eq)]
enum Dump {
    More,
    Done,
}

/// Reads the messages of one datagram into `sockets`. An error message from the kernel,
/// an overrun or an undecodable message is an error: the listing would be incomplete.
fn read_datagram(mut bytes: &[u8], sockets: &mut Vec<KernelSocket>) -> io::Result<Dump> {
    while !bytes.is_empty() {
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(bytes)
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e.to_string()))?;
        let length = usize::try_from(message.header.length).unwrap_or(0);
        match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                let id = &response.header.socket_id;
                sockets.push(KernelSocket {
                    address: SocketAddr::new(id.source_address, id.source_port),
                    inode: u64::from(response.header.inode),
                    uid: response.header.uid,
                });
            }
            NetlinkPayload::Done(_) => return Ok(Dump::Done),
            NetlinkPayload::Error(error) if error.code.is_some() => return Err(error.to_io()),
            NetlinkPayload::Overrun(_) => {
                return Err(io::Error::other("netlink reported an overrun"));
            }
            _ => {}
        }
        if length == 0 {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                "empty netlink message",
            ));
        }
        bytes = bytes.get(length..).unwrap_or_default();
    }
    Ok(Dump::More)
}

/// Every listening TCP socket, from `/proc/net/tcp` and `/proc/net/tcp6`. A kernel without
/// IPv6 has no `tcp6`; that is no error.
fn from_procfs() -> io::Result<Vec<KernelSocket>> {
    let mut sockets = parse_proc_net_tcp(&fs::read_to_string("/proc/net/tcp")?);
    match fs::read_to_string("/proc/net/tcp6") {
        Ok(text) => sockets.extend(parse_proc_net_tcp(&text)),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(sockets)
}

/// The kernel's code for TCP_LISTEN in the `st` column.
const LISTEN_STATE: &str = "0A";

/// The LISTEN rows of a `/proc/net/tcp` or `/proc/net/tcp6` table. Rows that do not parse
/// are skipped; the header line is one of them.
pub fn parse_proc_net_tcp(table: &str) -> Vec<KernelSocket> {
    table.lines().filter_map(parse_row).collect()
}

/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...`
fn parse_row(row: &str) -> Option<KernelSocket> {
    let fields: Vec<&str> = row.split_whitespace().collect();
    let [_, local, _, state, _, _, _, uid, _, inode, ..] = fields.as_slice() else {
        return None;
    };
    if *state != LISTEN_STATE {
        return None;
    }
    Some(KernelSocket {
        address: parse_address(local)?,
        inode: inode.parse().ok()?,
        uid: uid.parse().ok()?,
    })
}

/// `0100007F:0019` → 127.0.0.1:25. The address is printed as 32-bit words, each in the
/// kernel's (this machine's) byte order; the port is an ordinary hex number.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in hex_words(address)? {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Splits hex text into 32-bit words of eight digits each.
fn hex_words(text: &str) -> Option<Vec<u32>> {
    if text.is_empty() || !text.len().is_multiple_of(8) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(8)
        .map(|start| u32::from_str_radix(text.get(start..start + 8)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured on x86_64 (little-endian): 127.0.0.1:25 and 0.0.0.0:2024 listening, one
    /// established connection, and a row cut short.
    const TCP: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31542 1 0000000000000000 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 18840 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0019 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000   101        0 52310 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:0050 00000000:0000 0A
";

    /// Captured on x86_64: [::1]:25, [::]:587, [::ffff:127.0.0.1]:2525 listening, and an
    /// established connection to [::1]:25.
    const TCP6: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31545 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:024B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 40001 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:09DD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 40002 1 0000000000000000 100 0 0 10 0
   3: 00000000000000000000000001000000:0019 00000000000000000000000001000000:B0F2 01 00000000:00000000 00:00000000 00000000     0        0 40003 1 0000000000000000 20 4 30 10 -1
";

    fn socket(address: &str, inode: u64, uid: u32) -> KernelSocket {
        KernelSocket {
            address: address.parse().unwrap(),
            inode,
            uid,
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn ipv4_rows_in_listen_state_are_parsed() {
        assert_eq!(
            parse_proc_net_tcp(TCP),
            vec![
                socket("127.0.0.1:25", 31542, 0),
                socket("0.0.0.0:2024", 18840, 108),
            ]
        );
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn ipv6_and_v4_mapped_rows_are_parsed() {
        assert_eq!(
            parse_proc_net_tcp(TCP6),
            vec![
                socket("[::1]:25", 31545, 0),
                socket("[::]:587", 40001, 0),
                socket("[::ffff:127.0.0.1]:2525", 40002, 1000),
            ]
        );
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for text in [
            "",
            "0100007F",
            "0100007F:",
            "0100007:0019",
            "0100007G:0019",
            "é1234567:0019",
        ] {
            assert_eq!(parse_address(text), None, "{text:?}");
        }
        assert_eq!(parse_proc_net_tcp("garbage\n\n  0: x y 0A"), vec![]);
    }

    #[test]
    fn a_socket_listed_twice_is_kept_once() {
        let twice = vec![
            socket("[::1]:25", 7, 0),
            socket("127.0.0.1:25", 5, 0),
            socket("127.0.0.1:587", 6, 0),
            socket("127.0.0.1:25", 5, 0),
        ];
        let kept = on_ports(twice, &[25]);
        assert_eq!(
            kept,
            vec![socket("127.0.0.1:25", 5, 0), socket("[::1]:25", 7, 0)]
        );
    }

    #[test]
    fn netlink_and_procfs_agree_on_real_listeners() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = std::net::TcpListener::bind(("::1", port)).ok();
        let ours: Vec<SocketAddr> = [Some(&v4), v6.as_ref()]
            .into_iter()
            .flatten()
            .map(|l| l.local_addr().unwrap())
            .collect();
        // Other processes on this host may listen on the same port number at another
        // loopback address, and come and go between the two listings: compare only ours.
        let only_ours = |listing: Listing| -> Vec<KernelSocket> {
            let mut sockets = listing.sockets;
            sockets.retain(|s| ours.contains(&s.address));
            sockets
        };
        let netlink = listening(&[port], SocketSource::Netlink).unwrap();
        let procfs = listening(&[port], SocketSource::Procfs).unwrap();
        assert!(netlink.note.is_none(), "{:?}", netlink.note);
        assert!(procfs.note.is_some());
        let netlink = only_ours(netlink);
        assert_eq!(netlink, only_ours(procfs));
        assert_eq!(netlink.len(), ours.len());
        assert_eq!(netlink[0].address, v4.local_addr().unwrap());
    }

    #[test]
    fn a_kernel_error_message_fails_the_listing() {
        let mut header = NetlinkHeader::default();
        header.flags = 0;
        let error = netlink_packet_core::ErrorMessage::default();
        let mut error = error;
        error.code = std::num::NonZeroI32::new(-1);
        let mut message =
            NetlinkMessage::<SockDiagMessage>::new(header, NetlinkPayload::Error(error));
        message.finalize();
        let mut bytes = vec![0u8; message.buffer_len()];
        message.serialize(&mut bytes);
        let mut sockets = Vec::new();
        assert!(read_datagram(&bytes, &mut sockets).is_err());
        assert!(read_datagram(&[1, 2, 3], &mut sockets).is_err());
    }
}

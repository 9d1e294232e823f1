//! Hand-made packets for what ordinary sockets never send: a bare TCP ACK that belongs
//! to no connection, an ICMP timestamp request. Sent from a namespace of the sandbox
//! through raw sockets (the kernel adds the IP header).

use fwdsl::sandbox::Netns;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// TCP flag bits.
pub const ACK: u8 = 0x10;

/// Sends one TCP segment with `flags` and no payload from `src`:`sport` to
/// `dst`:`dport`, from namespace `ns`.
pub fn send_tcp(ns: &Netns, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8) {
    let mut segment = [0u8; 20];
    segment[0..2].copy_from_slice(&sport.to_be_bytes());
    segment[2..4].copy_from_slice(&dport.to_be_bytes());
    segment[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    segment[8..12].copy_from_slice(&0x0bad_cafeu32.to_be_bytes());
    segment[12] = 5 << 4;
    segment[13] = flags;
    segment[14..16].copy_from_slice(&64240u16.to_be_bytes());
    // The checksum covers a pseudo-header of the addresses and protocol.
    let mut pseudo = Vec::with_capacity(32);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    pseudo.extend_from_slice(&segment);
    segment[16..18].copy_from_slice(&checksum(&pseudo).to_be_bytes());
    ns.run(|| {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)).unwrap();
        socket
            .bind(&SockAddr::from(SocketAddr::new(src.into(), 0)))
            .unwrap();
        let to = SocketAddr::new(dst.into(), 0);
        socket.send_to(&segment, &SockAddr::from(to)).unwrap();
    })
    .expect("enter the sending namespace");
}

/// Sends an ICMP message of `icmp_type` (with an 16-byte body) from namespace `ns` to
/// `dst` and waits, at most `wait`, for an answer of `answer_type`.
pub fn icmp_answered(
    ns: &Netns,
    dst: Ipv4Addr,
    icmp_type: u8,
    answer_type: u8,
    wait: Duration,
) -> bool {
    let mut message = [0u8; 20];
    message[0] = icmp_type;
    message[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
    message[6..8].copy_from_slice(&1u16.to_be_bytes());
    let sum = checksum(&message);
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    ns.run(|| {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let to = SocketAddr::new(dst.into(), 0);
        socket.send_to(&message, &SockAddr::from(to)).unwrap();
        let start = Instant::now();
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        while start.elapsed() < wait {
            let Ok((n, _)) = socket.recv_from(&mut buf) else {
                continue;
            };
            // SAFETY: recv_from initialised the first n bytes.
            let packet: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            let header = usize::from(packet[0] & 0x0f) * 4;
            if packet.get(header) == Some(&answer_type) {
                return true;
            }
        }
        false
    })
    .expect("enter the sending namespace")
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksum_of_a_known_header() {
        // The example of RFC 1071, section 3: 0x0001 f203 f4f5 f6f7 sums to 0xddf2.
        assert_eq!(
            super::checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }
}
